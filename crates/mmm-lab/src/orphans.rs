//! Removing what a killed lab owner left behind: namespaces and scratch directories whose name
//! carries the pid of a process that no longer exists.
//!
//! [`crate::Lab::new_unique`] names everything `<tag>-<pid>-<n>-…`: namespaces
//! `<tag>-<pid>-<n>-br` and `<tag>-<pid>-<n>-<host>`, the scratch directory
//! `<tmp>/<tag>-<pid>-<n>-XXXXXX`. When the owner is SIGKILLed (a test timeout) no destructor runs;
//! its child processes die with it (see [`crate::process`]), but the namespaces and the directory
//! stay. [`cleanup_orphans`] removes exactly those whose owner pid is gone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::netns::{self, Netns};
use crate::process::send_signal;

/// Length of the random suffix `tempfile` gives the lab's scratch directory.
const TEMP_SUFFIX_LEN: usize = 6;
/// Longest host name the lab accepts (see `Lab::add_host`).
const MAX_HOST_NAME: usize = 16;
/// How long to wait for killed processes to vanish before their directory is removed.
const KILL_WAIT: Duration = Duration::from_secs(3);

/// What [`cleanup_orphans`] found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OrphanReport {
    /// Namespaces deleted.
    pub namespaces: Vec<String>,
    /// Pids killed (SIGKILL) inside those namespaces first.
    pub killed: Vec<u32>,
    /// Scratch directories removed.
    pub dirs: Vec<PathBuf>,
    /// Orphans that could not be removed, with the reason (another cleanup may have raced us).
    pub failures: Vec<String>,
}

impl OrphanReport {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.dirs.is_empty() && self.failures.is_empty()
    }
}

/// Deletes lab namespaces named `<tag>-<pid>-<n>-<host|br>` whose `<pid>` is not a live process,
/// after SIGKILLing every process inside them (`ip netns pids`), and removes scratch directories
/// `<tmp>/<tag>-<pid>-<n>-XXXXXX` of dead pids. Anything whose owner is alive, or whose name does
/// not match the scheme exactly, is left alone. Cheap when there is nothing to do (one
/// `ip netns list` and one directory listing).
pub fn cleanup_orphans() -> Result<OrphanReport> {
    let mut report = OrphanReport::default();
    let orphans: Vec<String> = netns::list()?
        .into_iter()
        .filter(|name| namespace_owner(name).is_some_and(|pid| !pid_alive(pid)))
        .collect();
    for name in &orphans {
        let ns = Netns::from_name(name.as_str());
        match ns.pids() {
            Ok(pids) => {
                for pid in pids.into_iter().filter_map(|p| u32::try_from(p).ok()) {
                    if send_signal(pid, libc::SIGKILL).is_ok() {
                        report.killed.push(pid);
                    }
                }
            }
            Err(e) => report.failures.push(format!("{name}: {e}")),
        }
    }
    wait_gone(&report.killed);
    for name in orphans {
        match Netns::from_name(name.as_str()).delete() {
            Ok(()) => report.namespaces.push(name),
            Err(e) => {
                if netns::exists(&name).unwrap_or(true) {
                    report.failures.push(format!("{name}: {e}"));
                }
            }
        }
    }
    remove_orphan_dirs(&std::env::temp_dir(), &mut report);
    if !report.is_empty() {
        tracing::info!(
            namespaces = ?report.namespaces,
            killed = ?report.killed,
            dirs = ?report.dirs,
            failures = ?report.failures,
            "removed what dead lab owners left behind"
        );
    }
    Ok(report)
}

fn remove_orphan_dirs(tmp: &Path, report: &mut OrphanReport) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(owner) = entry.file_name().to_str().and_then(dir_owner) else {
            continue;
        };
        // Directories only; a symlink or file with a matching name is not the lab's.
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir || pid_alive(owner) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_dir_all(&path) {
            Ok(()) => report.dirs.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => report
                .failures
                .push(LabError::io(format!("removing {}", path.display()), e).to_string()),
        }
    }
}

/// Waits (bounded) until none of `pids` exists any more.
fn wait_gone(pids: &[u32]) {
    let deadline = Instant::now() + KILL_WAIT;
    while pids.iter().any(|&p| pid_alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The owner pid of a lab namespace name `<tag>-<pid>-<n>-<host>` (`<host>` is `br` or a lab host
/// name), or `None` when the name does not follow the scheme.
pub(crate) fn namespace_owner(name: &str) -> Option<u32> {
    let (prefix, host) = name.rsplit_once('-')?;
    let host_ok = !host.is_empty()
        && host.len() <= MAX_HOST_NAME
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !host_ok {
        return None;
    }
    prefix_owner(prefix)
}

/// The owner pid of a lab scratch directory name `<tag>-<pid>-<n>-XXXXXX`, or `None`.
pub(crate) fn dir_owner(name: &str) -> Option<u32> {
    let (prefix, suffix) = name.rsplit_once('-')?;
    let suffix_ok =
        suffix.len() == TEMP_SUFFIX_LEN && suffix.chars().all(|c| c.is_ascii_alphanumeric());
    if !suffix_ok {
        return None;
    }
    prefix_owner(prefix)
}

/// The pid inside a unique lab prefix `<tag>-<pid>-<n>` (what `Lab::new_unique` builds).
fn prefix_owner(prefix: &str) -> Option<u32> {
    if prefix.len() < 3 || prefix.len() > 32 {
        return None;
    }
    let (rest, n) = prefix.rsplit_once('-')?;
    let (tag, pid) = rest.rsplit_once('-')?;
    let tag_ok = !tag.is_empty()
        && !tag.starts_with('-')
        && !tag.ends_with('-')
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !tag_ok || !is_number(n) || !is_number(pid) {
        return None;
    }
    pid.parse().ok().filter(|&p: &u32| p > 0)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Whether a process with this pid exists (a pid we may not signal still exists).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
    let rc = unsafe { libc::kill(raw, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_of_the_scheme_carry_their_owner() {
        assert_eq!(namespace_owner("mmmt-1234-0-br"), Some(1234));
        assert_eq!(namespace_owner("mmmt-1234-17-db1"), Some(1234));
        assert_eq!(namespace_owner("mond-x-77-3-client"), Some(77));
        assert_eq!(namespace_owner("a-b-9-10-mon_1"), Some(9));
    }

    #[test]
    fn other_names_are_not_the_labs() {
        for name in [
            "",
            "br",
            "db1",
            "mmmt-br",
            "mmmt-1234-br",
            "mmmt-x-0-br",
            "mmmt-1234-x-br",
            "mmmt-01234-0-br",
            "mmmt-1234-00-br",
            "mmmt-1234-0-",
            "mmmt-1234-0-db.1",
            "-1234-0-br",
            "Mmmt-1234-0-br",
            "mmmt--1234-0-br",
            "mmmt-0-0-br",
            "mmmt-1234-0-averyveryverylonghostname",
            "cni-6a4f2d1e-7b3c-11ee-b962-0242ac120002",
        ] {
            assert_eq!(namespace_owner(name), None, "{name:?}");
        }
    }

    #[test]
    fn scratch_dirs_need_the_six_character_suffix() {
        assert_eq!(dir_owner("mmmt-1234-0-AbC12z"), Some(1234));
        assert_eq!(dir_owner("mmmt-1234-0-abc12"), None);
        assert_eq!(dir_owner("mmmt-1234-0-abc_12"), None);
        assert_eq!(dir_owner("mariadb-db1-AbC12z"), None);
        assert_eq!(dir_owner("systemd-private-0123456789abcdef-x"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(pid_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let pid = child.id();
        child.wait().expect("wait");
        assert!(!pid_alive(pid));
    }
}
