//! Taking over a running mysql-mmm: its status file (`status_path`), read once when the
//! monitor starts, and handed to the leader's startup vote as the stored states and roles
//! ([`mmm_core::status_file`]). The vote runs only while the replicated state has not started,
//! so on a cluster with state the file changes nothing; it is never written.

use mmm_core::config::Config;
use mmm_core::status_file::{self, StatusFile};

/// The parsed status file, or `None` when there is none to take over (no `status_path`, the
/// file is missing, or it is refused). Logs what it found and why it took nothing.
pub fn read_status_file(config: &Config) -> Option<StatusFile> {
    let path = config.monitor.as_ref()?.status_path.as_ref()?;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(
                "No mysql-mmm status file '{}': a new cluster starts without status information",
                path.display()
            );
            return None;
        }
        Err(e) => {
            tracing::error!(
                "Couldn't open status file '{}': {e}. Starting up without status information.",
                path.display()
            );
            return None;
        }
    };
    match status_file::parse(&text) {
        Ok(file) => {
            tracing::info!(
                "Read mysql-mmm's status file '{}' ({} hosts): its states and roles go into the \
                 startup vote if the cluster has no state yet",
                path.display(),
                file.hosts.len()
            );
            Some(file)
        }
        Err(e) => {
            tracing::error!(
                "Refusing status file '{}': {e}. Starting up without status information.",
                path.display()
            );
            None
        }
    }
}
