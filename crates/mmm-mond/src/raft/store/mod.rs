//! The persistent Raft store of one node: a single redb file holding the log, vote, committed
//! and purged log ids, the applied state machine and the current snapshot.

mod db;
mod log_store;
mod state_machine;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::broadcast;

pub(crate) use db::Db;
pub use db::{KEY_FORMAT, STORE_FILE, STORE_FORMAT, StoreError};
pub use log_store::LogStore;
pub(crate) use state_machine::{SharedApplied, read_lock};
pub use state_machine::{SnapshotBuilder, StateMachineStore};

use crate::raft::types::{LogId, Replicated};

/// Opens the store file in `data_dir` and returns its log store and state machine.
///
/// `ctx` is handed to every `apply`. Applied commands and their responses are sent to
/// `applied_tx` after they are persisted.
pub async fn open_store<S: Replicated>(
    data_dir: &Path,
    ctx: Arc<S::Context>,
    applied_tx: broadcast::Sender<(LogId, S::Response)>,
) -> Result<(LogStore<S>, StateMachineStore<S>), StoreError> {
    let (log, sm, _) = open_store_tracked(data_dir, ctx, applied_tx).await?;
    Ok((log, sm))
}

/// Like [`open_store`], also returning a handle that tells when the file is closed again.
pub(crate) async fn open_store_tracked<S: Replicated>(
    data_dir: &Path,
    ctx: Arc<S::Context>,
    applied_tx: broadcast::Sender<(LogId, S::Response)>,
) -> Result<(LogStore<S>, StateMachineStore<S>, db::Db), StoreError> {
    let dir = data_dir.to_path_buf();
    let db = tokio::task::spawn_blocking(move || db::Db::open(&dir)).await??;
    let sm = StateMachineStore::load(db.clone(), ctx, applied_tx).await?;
    Ok((LogStore::new(db.clone()), sm, db))
}
