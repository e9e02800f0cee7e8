//! The Raft log half of the redb store: entries, vote, committed and purged log ids.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use redb::{ReadableDatabase, ReadableTable};

use super::db::{
    Db, KEY_COMMITTED, KEY_LAST_PURGED, KEY_VOTE, LOG, META, StoreError, decode, encode, redb_err,
};
use crate::raft::types::{LogEntry, LogId, MmmRaftTypes, NodeId, Replicated};

/// The persistent Raft log of one node (openraft's `RaftLogStorage`), backed by redb.
pub struct LogStore<S> {
    db: Db,
    _state: PhantomData<fn() -> S>,
}

impl<S> Clone for LogStore<S> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            _state: PhantomData,
        }
    }
}

impl<S: Replicated> LogStore<S> {
    pub(crate) fn new(db: Db) -> Self {
        Self {
            db,
            _state: PhantomData,
        }
    }

    async fn read_range(
        &self,
        lo: Bound<u64>,
        hi: Bound<u64>,
    ) -> Result<Vec<LogEntry<S>>, StoreError> {
        self.db
            .run(move |db| {
                let tx = db.begin_read().map_err(redb_err)?;
                let t = tx.open_table(LOG).map_err(redb_err)?;
                let mut out = Vec::new();
                for row in t.range::<u64>((lo, hi)).map_err(redb_err)? {
                    let (_, v) = row.map_err(redb_err)?;
                    out.push(decode(v.value())?);
                }
                Ok(out)
            })
            .await
    }

    async fn last_entry_id(&self) -> Result<Option<LogId>, StoreError> {
        self.db
            .run(|db| {
                let tx = db.begin_read().map_err(redb_err)?;
                let t = tx.open_table(LOG).map_err(redb_err)?;
                match t.last().map_err(redb_err)? {
                    Some((_, v)) => {
                        let e: LogEntry<S> = decode(v.value())?;
                        Ok(Some(e.log_id))
                    }
                    None => Ok(None),
                }
            })
            .await
    }

    /// Deletes log entries in `range` and optionally records a metadata value, in one commit.
    async fn delete_range(
        &self,
        lo: Bound<u64>,
        hi: Bound<u64>,
        meta: Option<(&'static str, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        self.db
            .run(move |db| {
                let tx = db.begin_write().map_err(redb_err)?;
                {
                    let mut t = tx.open_table(LOG).map_err(redb_err)?;
                    t.retain_in::<u64, _>((lo, hi), |_, _| false)
                        .map_err(redb_err)?;
                    if let Some((key, value)) = &meta {
                        let mut m = tx.open_table(META).map_err(redb_err)?;
                        m.insert(*key, value.as_slice()).map_err(redb_err)?;
                    }
                }
                tx.commit().map_err(redb_err)
            })
            .await
    }
}

impl<S: Replicated> RaftLogReader<MmmRaftTypes<S>> for LogStore<S> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<LogEntry<S>>, StorageError<NodeId>> {
        let lo = range.start_bound().cloned();
        let hi = range.end_bound().cloned();
        self.read_range(lo, hi)
            .await
            .map_err(|e| StorageIOError::read_logs(&e).into())
    }
}

impl<S: Replicated> RaftLogStorage<MmmRaftTypes<S>> for LogStore<S> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<MmmRaftTypes<S>>, StorageError<NodeId>> {
        let read = async {
            let last_purged: Option<LogId> = self.db.get(META, KEY_LAST_PURGED).await?;
            let last = self.last_entry_id().await?;
            Ok::<_, StoreError>(LogState {
                last_purged_log_id: last_purged,
                last_log_id: last.or(last_purged),
            })
        };
        read.await.map_err(|e| StorageIOError::read_logs(&e).into())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.db
            .put(META, KEY_VOTE, vote)
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.db
            .get(META, KEY_VOTE)
            .await
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId>,
    ) -> Result<(), StorageError<NodeId>> {
        self.db
            .put(META, KEY_COMMITTED, &committed)
            .await
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError<NodeId>> {
        let stored: Option<Option<LogId>> = self
            .db
            .get(META, KEY_COMMITTED)
            .await
            .map_err(|e| StorageIOError::read(&e))?;
        Ok(stored.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<MmmRaftTypes<S>>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = LogEntry<S>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut rows = Vec::new();
        for entry in entries {
            let bytes = encode(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            rows.push((entry.log_id.index, bytes));
        }
        // redb's default durability fsyncs on commit, so the entries are on disk before the
        // callback tells openraft they are flushed.
        let written = self
            .db
            .run(move |db| {
                let tx = db.begin_write().map_err(redb_err)?;
                {
                    let mut t = tx.open_table(LOG).map_err(redb_err)?;
                    for (index, bytes) in &rows {
                        t.insert(*index, bytes.as_slice()).map_err(redb_err)?;
                    }
                }
                tx.commit().map_err(redb_err)
            })
            .await;
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError<NodeId>> {
        self.delete_range(Bound::Included(log_id.index), Bound::Unbounded, None)
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError<NodeId>> {
        let meta = encode(&log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        self.delete_range(
            Bound::Unbounded,
            Bound::Included(log_id.index),
            Some((KEY_LAST_PURGED, meta)),
        )
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
