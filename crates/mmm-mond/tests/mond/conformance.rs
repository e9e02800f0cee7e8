//! The redb store against openraft's storage conformance suite, plus a reopen-from-disk check.

use std::io::Cursor;

use mmm_mond::raft::{
    KEY_FORMAT, LogStore, MmmRaftTypes, STORE_FILE, STORE_FORMAT, StateMachineStore, StoreError,
    open_store,
};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftSnapshotBuilder, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftLogReader, StorageError, Vote,
};
use tempfile::TempDir;
use tokio::sync::broadcast;

use crate::support::{Register, ctx, set};

type Types = MmmRaftTypes<Register>;

struct RedbBuilder;

impl StoreBuilder<Types, LogStore<Register>, StateMachineStore<Register>, TempDir> for RedbBuilder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore<Register>, StateMachineStore<Register>), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tx, _) = broadcast::channel(16);
        let (log, sm) = open_store::<Register>(dir.path(), ctx(), tx)
            .await
            .expect("open store");
        Ok((dir, log, sm))
    }
}

#[test]
fn redb_store_passes_openraft_suite() {
    Suite::test_all(RedbBuilder).expect("storage conformance suite");
}

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId {
        leader_id: CommittedLeaderId::new(term, 1),
        index,
    }
}

fn entry(term: u64, index: u64, payload: EntryPayload<Types>) -> Entry<Types> {
    Entry {
        log_id: log_id(term, index),
        payload,
    }
}

/// Everything written before a reopen is there after it, including the snapshot after a purge.
#[tokio::test]
async fn store_reopens_with_log_vote_state_and_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, mut applied_rx) = broadcast::channel(16);
    {
        let (mut log, mut sm) = open_store::<Register>(dir.path(), ctx(), tx.clone())
            .await
            .expect("open");
        let members = Membership::new(vec![[1u64, 2, 3].into_iter().collect()], None);
        let entries = vec![
            entry(1, 1, EntryPayload::Membership(members)),
            entry(1, 2, EntryPayload::Normal(set(0, "db1"))),
            entry(1, 3, EntryPayload::Normal(set(1, "db2"))),
            entry(1, 4, EntryPayload::Normal(set(0, "stale"))),
        ];
        log.blocking_append(entries.clone()).await.expect("append");
        log.save_vote(&Vote::new_committed(1, 1))
            .await
            .expect("vote");
        log.save_committed(Some(log_id(1, 4)))
            .await
            .expect("committed");
        let out = sm.apply(entries).await.expect("apply");
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], None, "membership entries carry no response");
        assert_eq!(out[3], Some(crate::support::RegResp::Stale { current: 2 }));
        let snap = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .expect("snapshot");
        assert_eq!(snap.meta.last_log_id, Some(log_id(1, 4)));
        log.purge(log_id(1, 3)).await.expect("purge");
    }
    let first = applied_rx.recv().await.expect("applied entry published");
    assert_eq!(first.0.index, 2);

    let (mut log, mut sm) = open_store::<Register>(dir.path(), ctx(), tx)
        .await
        .expect("reopen");
    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 3)));
    assert_eq!(state.last_log_id, Some(log_id(1, 4)));
    let rest = log.try_get_log_entries(0..10).await.expect("read");
    assert_eq!(
        rest.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
        vec![4]
    );
    assert_eq!(
        log.read_vote().await.expect("vote"),
        Some(Vote::new_committed(1, 1))
    );
    assert_eq!(
        log.read_committed().await.expect("committed"),
        Some(log_id(1, 4))
    );
    let (last_applied, membership) = sm.applied_state().await.expect("applied");
    assert_eq!(last_applied, Some(log_id(1, 4)));
    assert_eq!(membership.log_id(), &Some(log_id(1, 1)));
    let snap = sm
        .get_current_snapshot()
        .await
        .expect("read snapshot")
        .expect("snapshot kept");
    assert_eq!(snap.meta.last_log_id, Some(log_id(1, 4)));

    // Installing that snapshot into a fresh store reproduces the state.
    let other = tempfile::tempdir().expect("tempdir");
    let (tx2, _) = broadcast::channel(16);
    let (_, mut sm2) = open_store::<Register>(other.path(), ctx(), tx2)
        .await
        .expect("open fresh");
    let data: Box<Cursor<Vec<u8>>> = snap.snapshot;
    sm2.install_snapshot(&snap.meta, data)
        .await
        .expect("install");
    assert_eq!(
        sm2.applied_state().await.expect("applied").0,
        Some(log_id(1, 4))
    );
}

/// The store's META table, as `mmm_mond::raft` lays it out.
const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("raft_meta");

/// The format number recorded in the store file of `dir`.
fn stored_format(dir: &std::path::Path) -> Option<Vec<u8>> {
    use redb::ReadableDatabase;
    let db = redb::Database::open(dir.join(STORE_FILE)).expect("open store file");
    let tx = db.begin_read().expect("read tx");
    let meta = tx.open_table(META).expect("meta table");
    meta.get(KEY_FORMAT)
        .expect("read format")
        .map(|v| v.value().to_vec())
}

fn set_stored_format(dir: &std::path::Path, bytes: Option<&[u8]>) {
    let db = redb::Database::open(dir.join(STORE_FILE)).expect("open store file");
    let tx = db.begin_write().expect("write tx");
    {
        let mut meta = tx.open_table(META).expect("meta table");
        match bytes {
            Some(b) => meta.insert(KEY_FORMAT, b).map(drop),
            None => meta.remove(KEY_FORMAT).map(drop),
        }
        .expect("write format");
    }
    tx.commit().expect("commit");
}

/// A new store records its format; a store without the number (written before it was kept)
/// is format 1 and gets it; a store of another format is refused with the path and both
/// numbers, and neither its format nor its log changes.
#[tokio::test]
async fn a_store_of_another_format_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, _) = broadcast::channel(16);
    let current = postcard::to_stdvec(&STORE_FORMAT).expect("encode");
    {
        let (mut log, _sm) = open_store::<Register>(dir.path(), ctx(), tx.clone())
            .await
            .expect("open");
        log.blocking_append(vec![entry(1, 1, EntryPayload::Normal(set(0, "db1")))])
            .await
            .expect("append");
    }
    assert_eq!(stored_format(dir.path()), Some(current.clone()));

    set_stored_format(dir.path(), None);
    drop(
        open_store::<Register>(dir.path(), ctx(), tx.clone())
            .await
            .expect("a store without a format number opens"),
    );
    assert_eq!(stored_format(dir.path()), Some(current));

    let other = postcard::to_stdvec(&(STORE_FORMAT + 1)).expect("encode");
    set_stored_format(dir.path(), Some(&other));
    let Err(err) = open_store::<Register>(dir.path(), ctx(), tx.clone()).await else {
        panic!("a store of format {} opened", STORE_FORMAT + 1);
    };
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Format { found, supported, .. }
            if found == STORE_FORMAT + 1 && supported == STORE_FORMAT),
        "{text}"
    );
    assert!(
        text.contains(&dir.path().join(STORE_FILE).display().to_string()),
        "{text}"
    );
    assert_eq!(
        stored_format(dir.path()),
        Some(other),
        "the format was rewritten"
    );

    set_stored_format(
        dir.path(),
        Some(&postcard::to_stdvec(&STORE_FORMAT).expect("encode")),
    );
    let (mut log, _sm) = open_store::<Register>(dir.path(), ctx(), tx)
        .await
        .expect("reopen at the supported format");
    let kept = log.try_get_log_entries(0..10).await.expect("read");
    assert_eq!(kept.len(), 1, "the refused open changed the log");
}
