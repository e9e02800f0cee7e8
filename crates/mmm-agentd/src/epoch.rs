//! The highest fencing epoch this agent accepted, kept on disk across restarts.
//!
//! The value lives in one small text file replaced durably ([`crate::durable`]), so a crash
//! leaves either the old or the new value, never a torn one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why the epoch store failed.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    /// The file or directory could not be read or written.
    #[error("epoch store {path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// The file holds something other than a number.
    #[error("epoch store {path} is corrupt: {content:?}")]
    Corrupt {
        /// File concerned.
        path: PathBuf,
        /// What it holds.
        content: String,
    },
}

/// The durable epoch record.
#[derive(Debug)]
pub struct EpochStore {
    dir: PathBuf,
    path: PathBuf,
    current: u64,
}

impl EpochStore {
    /// Opens (creating the directory if needed) and reads the stored epoch; 0 when absent.
    pub fn open(dir: &Path) -> Result<EpochStore, EpochError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EpochError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join("epoch");
        let current = match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map_err(|_| EpochError::Corrupt {
                path: path.clone(),
                content: text.chars().take(64).collect(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err(&path)(e)),
        };
        Ok(EpochStore {
            dir: dir.to_path_buf(),
            path,
            current,
        })
    }

    /// The highest epoch accepted so far.
    pub fn current(&self) -> u64 {
        self.current
    }

    /// Stores `epoch` durably if it is higher than the current one (no-op when equal).
    pub fn raise(&mut self, epoch: u64) -> Result<(), EpochError> {
        if epoch <= self.current {
            return Ok(());
        }
        crate::durable::write_atomically(&self.dir, "epoch", &format!("{epoch}\n")).map_err(
            |source| EpochError::Io {
                path: self.path.clone(),
                source,
            },
        )?;
        self.current = epoch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_zero_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = EpochStore::open(dir.path()).expect("open");
        assert_eq!(s.current(), 0);
        s.raise(7).expect("raise");
        s.raise(3).expect("lower is a no-op");
        assert_eq!(s.current(), 7);
        let s = EpochStore::open(dir.path()).expect("reopen");
        assert_eq!(s.current(), 7);
        assert!(!dir.path().join("epoch.tmp").exists());
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("epoch"), "banana").expect("write");
        let e = EpochStore::open(dir.path()).expect_err("corrupt");
        assert!(e.to_string().contains("corrupt"), "{e}");
    }
}
