//! The redb file behind one node's Raft store: tables, encoding and blocking helpers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Log entries by index, postcard-encoded.
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Log metadata: vote, committed log id, last purged log id.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
/// State machine data: applied state and the current snapshot.
pub(crate) const SM: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_sm");

pub(crate) const KEY_VOTE: &str = "vote";
pub(crate) const KEY_COMMITTED: &str = "committed";
pub(crate) const KEY_LAST_PURGED: &str = "last_purged";
pub(crate) const KEY_APPLIED: &str = "applied";
pub(crate) const KEY_SNAPSHOT: &str = "snapshot";
/// The META key holding the store's [`STORE_FORMAT`].
pub const KEY_FORMAT: &str = "format";

/// The layout and encoding of what this build stores (tables, keys, the postcard encoding of
/// log entries, vote, log ids, applied state and snapshot). It is raised whenever a stored
/// type changes shape, so that a build never decodes another build's records as something
/// else: a store of another format is refused at open and left as it is. Stores written
/// before the number was kept hold format 1.
pub const STORE_FORMAT: u32 = 1;

/// The name of the store file inside a node's data directory.
pub const STORE_FILE: &str = "raft.redb";

/// Why the Raft store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        /// The directory that failed.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// redb reported an error (open, transaction, table, commit).
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    /// The store was written in a format this build does not read.
    #[error(
        "{path} holds Raft store format {found}; this mmm-mond reads format {supported} only \
         (the file is left unchanged: start the mmm-mond release that wrote it, or restore a \
         backup of this data_dir taken with a matching release)"
    )]
    Format {
        /// The store file.
        path: PathBuf,
        /// The format recorded in it.
        found: u32,
        /// The format this build reads and writes.
        supported: u32,
    },
    /// A stored record did not decode, or a value did not encode.
    #[error("codec: {0}")]
    Codec(#[from] postcard::Error),
    /// The blocking task running a redb call panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Converts any redb error type into [`StoreError`].
pub(crate) fn redb_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Redb(e.into())
}

/// One node's redb database, shared by its log store and state machine.
#[derive(Clone)]
pub(crate) struct Db {
    inner: Arc<Database>,
}

impl Db {
    /// Opens (or creates) the store file in `data_dir`, makes sure every table exists, and
    /// refuses a store of another [`STORE_FORMAT`] (recording the format in a store without it).
    pub(crate) fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(STORE_FILE);
        let db = Database::create(&path).map_err(redb_err)?;
        let tx = db.begin_write().map_err(redb_err)?;
        tx.open_table(LOG).map_err(redb_err)?;
        tx.open_table(SM).map_err(redb_err)?;
        {
            let mut meta = tx.open_table(META).map_err(redb_err)?;
            let found = match meta.get(KEY_FORMAT).map_err(redb_err)? {
                Some(v) => Some(decode::<u32>(v.value())?),
                None => None,
            };
            match found {
                Some(found) if found != STORE_FORMAT => {
                    return Err(StoreError::Format {
                        path,
                        found,
                        supported: STORE_FORMAT,
                    });
                }
                Some(_) => {}
                None => {
                    let bytes = encode(&STORE_FORMAT)?;
                    meta.insert(KEY_FORMAT, bytes.as_slice())
                        .map_err(redb_err)?;
                }
            }
        }
        tx.commit().map_err(redb_err)?;
        Ok(Self {
            inner: Arc::new(db),
        })
    }

    /// Whether this handle is the last one, i.e. the file is closed once it is dropped.
    pub(crate) fn is_last_handle(&self) -> bool {
        Arc::strong_count(&self.inner) == 1
    }

    /// Runs `f` on the blocking thread pool so redb never stalls the async executor.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&db)).await?
    }

    /// Reads and decodes one value of a string-keyed table.
    pub(crate) async fn get<T>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &'static str,
    ) -> Result<Option<T>, StoreError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.run(move |db| {
            let tx = db.begin_read().map_err(redb_err)?;
            let t = tx.open_table(table).map_err(redb_err)?;
            match t.get(key).map_err(redb_err)? {
                Some(v) => Ok(Some(decode(v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    /// Encodes and durably writes one value of a string-keyed table.
    pub(crate) async fn put<T: Serialize>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &'static str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode(value)?;
        self.run(move |db| {
            let tx = db.begin_write().map_err(redb_err)?;
            {
                let mut t = tx.open_table(table).map_err(redb_err)?;
                t.insert(key, bytes.as_slice()).map_err(redb_err)?;
            }
            tx.commit().map_err(redb_err)
        })
        .await
    }
}

/// Encodes a stored record.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, StoreError> {
    Ok(postcard::to_stdvec(value)?)
}

/// Decodes a stored record.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(postcard::from_bytes(bytes)?)
}
