//! The state-machine half of the redb store: applied state, membership and snapshots.

use std::io::Cursor;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use redb::TableDefinition;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::db::{Db, KEY_APPLIED, KEY_SNAPSHOT, SM, StoreError, decode, encode, redb_err};
use crate::raft::types::{LogEntry, LogId, MmmRaftTypes, NodeId, Replicated};

/// The in-memory state machine plus what openraft needs to know about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Applied<S> {
    /// The last log entry applied to `state`.
    pub(crate) last_applied: Option<LogId>,
    /// The last membership config applied.
    pub(crate) membership: StoredMembership<NodeId, BasicNode>,
    /// The replicated state itself.
    pub(crate) state: S,
}

/// A snapshot as kept on disk: openraft's metadata plus the encoded [`Applied`] record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

/// Shared, lock-protected access to the applied state of one node.
pub(crate) type SharedApplied<S> = Arc<RwLock<Applied<S>>>;

/// Reads the shared state even if a writer panicked (the data is still the last consistent one
/// because every mutation is a whole-entry apply).
pub(crate) fn read_lock<S>(a: &SharedApplied<S>) -> RwLockReadGuard<'_, Applied<S>> {
    a.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock<S>(a: &SharedApplied<S>) -> RwLockWriteGuard<'_, Applied<S>> {
    a.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The persistent state machine of one node (openraft's `RaftStateMachine`), backed by redb.
///
/// The applied state, last applied log id and membership are rewritten in one redb commit after
/// every applied batch, and the current snapshot is stored too, so a node restarts from its own
/// file even after its log was purged.
pub struct StateMachineStore<S: Replicated> {
    db: Db,
    ctx: Arc<S::Context>,
    applied: SharedApplied<S>,
    applied_tx: broadcast::Sender<(LogId, S::Response)>,
}

impl<S: Replicated> StateMachineStore<S> {
    /// Loads the persisted state (or starts empty) from `db`.
    pub(crate) async fn load(
        db: Db,
        ctx: Arc<S::Context>,
        applied_tx: broadcast::Sender<(LogId, S::Response)>,
    ) -> Result<Self, StoreError> {
        let stored: Option<Applied<S>> = db.get(SM, KEY_APPLIED).await?;
        let applied = stored.unwrap_or_else(|| Applied {
            last_applied: None,
            membership: StoredMembership::default(),
            state: S::initial(&ctx),
        });
        Ok(Self {
            db,
            ctx,
            applied: Arc::new(RwLock::new(applied)),
            applied_tx,
        })
    }

    /// The shared applied state, for readers outside openraft.
    pub(crate) fn shared(&self) -> SharedApplied<S> {
        self.applied.clone()
    }

    async fn persist(&self, writes: Vec<(&'static str, Vec<u8>)>) -> Result<(), StoreError> {
        write_rows(&self.db, SM, writes).await
    }
}

async fn write_rows(
    db: &Db,
    table: TableDefinition<'static, &'static str, &'static [u8]>,
    rows: Vec<(&'static str, Vec<u8>)>,
) -> Result<(), StoreError> {
    db.run(move |db| {
        let tx = db.begin_write().map_err(redb_err)?;
        {
            let mut t = tx.open_table(table).map_err(redb_err)?;
            for (key, value) in &rows {
                t.insert(*key, value.as_slice()).map_err(redb_err)?;
            }
        }
        tx.commit().map_err(redb_err)
    })
    .await
}

impl<S: Replicated> RaftStateMachine<MmmRaftTypes<S>> for StateMachineStore<S> {
    type SnapshotBuilder = SnapshotBuilder<S>;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>> {
        let a = read_lock(&self.applied);
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<I>(
        &mut self,
        entries: I,
    ) -> Result<Vec<Option<S::Response>>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = LogEntry<S>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut responses = Vec::new();
        let mut published = Vec::new();
        let record = {
            let mut a = write_lock(&self.applied);
            for entry in entries {
                a.last_applied = Some(entry.log_id);
                match entry.payload {
                    EntryPayload::Blank => responses.push(None),
                    EntryPayload::Normal(cmd) => {
                        let resp = a.state.apply(&cmd, &self.ctx);
                        published.push((entry.log_id, resp.clone()));
                        responses.push(Some(resp));
                    }
                    EntryPayload::Membership(m) => {
                        a.membership = StoredMembership::new(Some(entry.log_id), m);
                        responses.push(None);
                    }
                }
            }
            encode(&*a).map_err(|e| StorageIOError::write_state_machine(&e))?
        };
        self.persist(vec![(KEY_APPLIED, record)])
            .await
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        for item in published {
            // No subscriber is fine: nobody is logging applied commands right now.
            let _ = self.applied_tx.send(item);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
            applied: self.applied.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let sig = Some(meta.signature());
        let installed: Applied<S> =
            decode(&data).map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))?;
        let record =
            encode(&installed).map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        let stored = encode(&StoredSnapshot {
            meta: meta.clone(),
            data,
        })
        .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        self.persist(vec![(KEY_APPLIED, record), (KEY_SNAPSHOT, stored)])
            .await
            .map_err(|e| StorageIOError::write_snapshot(sig, &e))?;
        *write_lock(&self.applied) = installed;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<MmmRaftTypes<S>>>, StorageError<NodeId>> {
        let stored: Option<StoredSnapshot> = self
            .db
            .get(SM, KEY_SNAPSHOT)
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

/// Builds and persists a snapshot of the applied state (openraft's `RaftSnapshotBuilder`).
pub struct SnapshotBuilder<S: Replicated> {
    db: Db,
    applied: SharedApplied<S>,
}

impl<S: Replicated> RaftSnapshotBuilder<MmmRaftTypes<S>> for SnapshotBuilder<S> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<MmmRaftTypes<S>>, StorageError<NodeId>> {
        let (meta, data) = {
            let a = read_lock(&self.applied);
            let data = encode(&*a).map_err(|e| StorageIOError::write_snapshot(None, &e))?;
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let snapshot_id = match a.last_applied {
                Some(id) => format!(
                    "{}-{}-{}-{nanos}",
                    id.leader_id.term, id.leader_id.node_id, id.index
                ),
                None => format!("none-{nanos}"),
            };
            let meta = SnapshotMeta {
                last_log_id: a.last_applied,
                last_membership: a.membership.clone(),
                snapshot_id,
            };
            (meta, data)
        };
        let sig = Some(meta.signature());
        let stored = encode(&StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        })
        .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        write_rows(&self.db, SM, vec![(KEY_SNAPSHOT, stored)])
            .await
            .map_err(|e| StorageIOError::write_snapshot(sig, &e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}
