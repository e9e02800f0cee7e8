//! The pid file: refuse a second copy, warn about a stale file, remove it on exit.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why the pid file blocks startup.
#[derive(Debug, thiserror::Error)]
pub enum PidError {
    /// A live process already owns the pid file.
    #[error("Can't run second copy of {program} (pid {pid} in {path})")]
    Running {
        /// This program's name.
        program: String,
        /// Its pid.
        pid: i32,
        /// The file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("pid file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
}

/// A held pid file, removed on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// The running program's file name (`mmm-agentd`, `mmm-mond`).
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "mmm".to_string())
}

impl PidFile {
    /// Creates the pid file; `Ok((file, true))` when a stale one was replaced.
    pub fn acquire(path: &Path) -> Result<(PidFile, bool), PidError> {
        let io_err = |source| PidError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut stale = false;
        if let Ok(text) = fs::read_to_string(path) {
            match text.trim().parse::<i32>() {
                Ok(pid) if pid != std::process::id() as i32 && alive(pid) => {
                    return Err(PidError::Running {
                        program: program_name(),
                        pid,
                        path: path.to_path_buf(),
                    });
                }
                _ => stale = true,
            }
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        fs::write(path, format!("{}\n", std::process::id())).map_err(io_err)?;
        Ok((
            PidFile {
                path: path.to_path_buf(),
            },
            stale,
        ))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_live_owner_and_replaces_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.pid");
        // pid 1 is always alive.
        fs::write(&path, "1\n").expect("write");
        assert!(matches!(
            PidFile::acquire(&path),
            Err(PidError::Running { pid: 1, .. })
        ));
        fs::write(&path, "999999999\n").expect("write");
        let (held, stale) = PidFile::acquire(&path).expect("stale replaced");
        assert!(stale);
        drop(held);
        assert!(!path.exists());
        let (_held, stale) = PidFile::acquire(&path).expect("fresh");
        assert!(!stale);
    }
}
