//! The monitor's checkers: mysql-mmm's four host checks and its network self-check.
//!
//! * [`check_ping`], [`check_mysql`], [`check_rep_threads`], [`check_rep_backlog`] each
//!   return one raw line worded exactly as mysql-mmm's checker does (`OK…`, `ERROR: …`,
//!   `UNKNOWN: …`); `mmm_core::checks::Tracker` turns those lines into reports.
//! * [`CheckRunner`] runs every check against every host in its own loop with bounded
//!   concurrency and hard per-call timeouts, and streams [`CheckEvent`]s to the driver.
//! * [`NetworkChecker`] publishes whether this monitor itself has network.
//!
//! Every call is bounded: ping by 0.5 s, the MySQL checks by `timeout` + 1 s.

mod dispatch;
mod emit;
mod icmp;
mod mysql_check;
mod mysql_conn;
mod network;
mod ping;
mod ping_socket;
mod replication;
mod runner;
mod target;

pub use dispatch::run_check;
pub use emit::emit;
pub use mysql_check::check_mysql;
pub use mysql_conn::{TIMEOUT_LINE, hard_bound};
pub use network::{NetworkChecker, NetworkConfigError, NetworkHandle};
pub use ping::{FALLBACK_PORT, PING_TIMEOUT, ProbeMethod, check_ping, ping_line, probe};
pub use replication::{
    KeptConnection, ReplicationRow, backlog_line, check_rep_backlog, check_rep_threads,
    threads_line,
};
pub use runner::{CheckEvent, CheckRunner, CheckRunnerHandle, DEFAULT_MAX_CONCURRENT, now};
pub use target::{CheckTarget, TargetError};
