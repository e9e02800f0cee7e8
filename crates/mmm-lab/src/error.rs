//! The one error type of the lab, with a variant per way a lab step can fail.

use std::io;
use std::time::Duration;

/// Why a lab operation failed; every variant names the step and carries what an engineer needs to
/// see (command line, stderr, log tail) to fix the environment or the test.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A lab, host or namespace name that would be unsafe or too long.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// An external tool (`ip`, `nft`, `tc`, `mariadb-install-db`) exited with an error.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line that was run.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// Something did not happen within its deadline.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// A system call or file operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What the lab was doing.
        action: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A namespace with the lab's name already exists (a parallel or crashed run with the same prefix).
    #[error(
        "network namespace {0} already exists (use Lab::cleanup_stale for a crashed run of the same prefix)"
    )]
    NamespaceExists(String),
    /// mariadbd did not come up; the error log tail says why.
    #[error("MariaDB {server} did not start: {reason}\n--- tail of {log} ---\n{log_tail}")]
    MariaDbStart {
        /// Label of the server (e.g. `db1`).
        server: String,
        /// Short reason (exited, timed out).
        reason: String,
        /// Path of the error log.
        log: String,
        /// Its last lines.
        log_tail: String,
    },
    /// A query or connection to a lab MariaDB failed.
    #[error("SQL on {server} failed ({what}): {source}")]
    Sql {
        /// Label of the server.
        server: String,
        /// What was attempted.
        what: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
    /// An application statement through an address (a VIP or a host) did not succeed.
    #[error("{sql} through {target} did not succeed: {reason}")]
    Application {
        /// The address and port.
        target: String,
        /// The statement.
        sql: String,
        /// What went wrong, as [`crate::workload::execute`] saw it.
        reason: String,
    },
    /// A replication thread stopped with an error while the lab waited for it.
    #[error("replication on {server} is broken: {detail}")]
    ReplicationBroken {
        /// The slave's label.
        server: String,
        /// Slave status fields describing the failure.
        detail: String,
    },
    /// A request the lab cannot serve (e.g. mixing loopback and namespaced servers).
    #[error("unsupported lab request: {0}")]
    Unsupported(String),
}

impl LabError {
    /// Builds an [`LabError::Io`] from an action description and an OS error.
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}

/// Result alias for lab operations.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
