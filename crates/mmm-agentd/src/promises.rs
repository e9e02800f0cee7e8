//! The failsafe promises this agent made, kept on disk so a restarted agent keeps them.
//!
//! Each line of `failsafe-promises` is `HOST UNTIL_MS LEFT_MS`: the promise's end on this
//! host's monotonic clock and the time it still had when written; the file's first line is the
//! boot id that clock belongs to. After a reboot the clock starts again, so a promise found
//! there holds `LEFT_MS` again from the moment the agent starts: never shorter than it was.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mmm_core::agent::Mono;
use mmm_core::agent::clock::millis;
use mmm_core::agent::failsafe::Promises;

const FILE: &str = "failsafe-promises";
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// Why the promise store failed.
#[derive(Debug, thiserror::Error)]
pub enum PromiseError {
    /// The file or directory could not be read or written.
    #[error("promise store {path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// A line that is not `HOST UNTIL_MS LENGTH_MS`.
    #[error("promise store {path}:{line} is corrupt: {content:?}")]
    Corrupt {
        /// File concerned.
        path: PathBuf,
        /// Line number.
        line: usize,
        /// What it holds.
        content: String,
    },
}

/// The durable promise record.
#[derive(Debug)]
pub struct PromiseStore {
    dir: PathBuf,
    boot_id: String,
    promises: Promises,
}

impl PromiseStore {
    /// Reads the promises in `dir` (none when the file is absent) as of `now`.
    pub fn open(dir: &Path, now: Mono) -> Result<PromiseStore, PromiseError> {
        let path = dir.join(FILE);
        let boot_id = fs::read_to_string(BOOT_ID)
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let mut store = PromiseStore {
            dir: dir.to_path_buf(),
            boot_id,
            promises: Promises::new(),
        };
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(store),
            Err(source) => return Err(PromiseError::Io { path, source }),
        };
        let mut lines = text.lines();
        let same_boot = lines.next().is_some_and(|b| b.trim() == store.boot_id);
        for (i, line) in lines.enumerate() {
            let (host, until, length) = parse_line(line).ok_or_else(|| PromiseError::Corrupt {
                path: path.clone(),
                line: i + 2,
                content: line.chars().take(80).collect(),
            })?;
            let until = if same_boot {
                until
            } else {
                now.plus(Duration::from_millis(length))
            };
            store.promises.record(&host, until);
        }
        Ok(store)
    }

    /// The promises in force.
    pub fn promises(&self) -> &Promises {
        &self.promises
    }

    /// Records a promise to `host` until `until`, on disk before it counts.
    pub fn record(&mut self, host: &str, until: Mono, now: Mono) -> Result<(), PromiseError> {
        let mut next = self.promises.clone();
        next.record(host, until);
        next.prune(now);
        let mut text = format!("{}\n", self.boot_id);
        for (h, u) in next.entries() {
            text.push_str(&format!("{h} {} {}\n", u.as_millis(), millis(now.until(u))));
        }
        crate::durable::write_atomically(&self.dir, FILE, &text).map_err(|source| {
            PromiseError::Io {
                path: self.dir.join(FILE),
                source,
            }
        })?;
        self.promises = next;
        Ok(())
    }
}

fn parse_line(line: &str) -> Option<(String, Mono, u64)> {
    let mut parts = line.split_whitespace();
    let host = parts.next()?.to_string();
    let until = parts.next()?.parse().ok()?;
    let length = parts.next()?.parse().ok()?;
    parts
        .next()
        .is_none()
        .then(|| (host, Mono::from_millis(until), length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Mono {
        Mono::from_millis(v)
    }

    #[test]
    fn promises_survive_a_restart_on_the_same_boot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = PromiseStore::open(dir.path(), ms(1000)).expect("open");
        s.record("db1", ms(5000), ms(1000)).expect("record");
        let s = PromiseStore::open(dir.path(), ms(2000)).expect("reopen");
        assert_eq!(s.promises().blocking(ms(2000)), Some(("db1", ms(5000))));
        assert!(!dir.path().join(format!("{FILE}.tmp")).exists());
    }

    #[test]
    fn after_a_reboot_a_promise_holds_its_whole_length_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(FILE), "another-boot\ndb1 900000 4000\n").expect("write");
        let s = PromiseStore::open(dir.path(), ms(10)).expect("open");
        assert_eq!(s.promises().blocking(ms(10)), Some(("db1", ms(4010))));
    }

    #[test]
    fn a_corrupt_line_is_an_error_with_its_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(FILE), "boot\ndb1 banana 4000\n").expect("write");
        let e = PromiseStore::open(dir.path(), ms(0)).expect_err("corrupt");
        assert!(
            e.to_string().contains("failsafe-promises:2 is corrupt"),
            "{e}"
        );
    }
}
