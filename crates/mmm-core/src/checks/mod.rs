//! The four checks: raw results, mysql-mmm's trap-period tracker, check tables, and the
//! quorum merge of several monitors' tables.
//!
//! Merge rule (`merge`): only *fresh* tables count — from a monitor whose own network is OK
//! and observed no longer than `max_age` ago. A check is failed when at least `quorum` fresh
//! tables report it failed; it is ok when at least `quorum` fresh tables exist and fewer than
//! `quorum` of them report it failed. With fewer than `quorum` fresh tables the merged check
//! keeps its previous status (message and time unchanged); a check with no previous status
//! is left out (unknown), and `decide` does not evaluate a host with an unknown check. So a
//! monitor cut off from a host can never fail it alone when `quorum` ≥ 2, not even right
//! after a leader change.

use std::fmt;
use std::str::FromStr;

use crate::config::{CheckConfig, ChecksConfig};

mod table;
mod tracker;

pub use table::{CheckStatus, CheckTable, MonitorTable, merge, merge_dated};
pub use tracker::{Tracker, TrackerOutput, TrackerPhase};

/// The four checks, in mysql-mmm's display order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum CheckKind {
    /// ICMP reachability of the host.
    Ping,
    /// Connect and `SELECT NOW()`.
    Mysql,
    /// Both replication threads running.
    RepThreads,
    /// Seconds_Behind_Master within `max_backlog`.
    RepBacklog,
}

impl CheckKind {
    /// All four, in display order.
    pub const ALL: [CheckKind; 4] = [
        CheckKind::Ping,
        CheckKind::Mysql,
        CheckKind::RepThreads,
        CheckKind::RepBacklog,
    ];

    /// mysql-mmm's check name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Ping => "ping",
            CheckKind::Mysql => "mysql",
            CheckKind::RepThreads => "rep_threads",
            CheckKind::RepBacklog => "rep_backlog",
        }
    }

    /// Position in [`CheckKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// This check's settings.
    pub fn config(self, checks: &ChecksConfig) -> &CheckConfig {
        match self {
            CheckKind::Ping => &checks.ping,
            CheckKind::Mysql => &checks.mysql,
            CheckKind::RepThreads => &checks.rep_threads,
            CheckKind::RepBacklog => &checks.rep_backlog,
        }
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the four checks (mmm_control's `Unknown check` error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ERROR: Unknown check '{0}'!")]
pub struct UnknownCheck(pub String);

impl FromStr for CheckKind {
    type Err = UnknownCheck;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckKind::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCheck(s.into()))
    }
}

/// Outcome class of one raw check line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Line starts with `OK`.
    Ok,
    /// Line starts with `UNKNOWN`: not a failure, nothing reported.
    Unknown,
    /// `ERROR: …` or anything unrecognised.
    Error,
    /// An `ERROR` line saying the server is certainly down (see [`is_refusal`]): an error in
    /// every respect, except that the tracker reports it failed at once instead of after the
    /// trap period.
    Refused,
}

/// How a `Connect error` or `SQL Query Error` detail starts when nothing listens on the
/// server's port (the TCP connect was refused: mysqld is gone while its host is up).
pub const REFUSED_DETAIL: &str = "Connection refused";

/// How such a detail starts when the server answered error 1053 (shutdown in progress).
pub const SHUTDOWN_DETAIL: &str = "ERROR 1053: ";

/// Whether an `ERROR` line is a certain sign that the server is down: mysql-mmm's
/// `ERROR: Connect error (host = …, user = …)! DETAIL` or `ERROR: SQL Query Error: DETAIL`
/// with a detail starting with [`REFUSED_DETAIL`] or [`SHUTDOWN_DETAIL`]. Timeouts, an
/// unreachable host, a reset or lost connection and every other error are not.
pub fn is_refusal(line: &str) -> bool {
    let detail = line
        .strip_prefix("ERROR: Connect error (")
        .and_then(|rest| rest.split_once(")! "))
        .map(|(_, detail)| detail)
        .or_else(|| line.strip_prefix("ERROR: SQL Query Error: "));
    detail.is_some_and(|d| d.starts_with(REFUSED_DETAIL) || d.starts_with(SHUTDOWN_DETAIL))
}

/// One raw check result line (`OK…`, `ERROR: …`, `UNKNOWN: …`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// Its class.
    pub outcome: Outcome,
    /// The whole line.
    pub message: String,
}

impl CheckResult {
    /// Classifies a raw line; anything that is neither `OK` nor `UNKNOWN` is an error, a
    /// refused one when [`is_refusal`] says so.
    pub fn parse(line: &str) -> Self {
        let line = line.trim_end();
        let outcome = if line.starts_with("OK") {
            Outcome::Ok
        } else if line.starts_with("UNKNOWN") {
            Outcome::Unknown
        } else if is_refusal(line) {
            Outcome::Refused
        } else {
            Outcome::Error
        };
        let message = if outcome == Outcome::Error && !line.starts_with("ERROR") {
            format!("ERROR: Invalid check result '{line}'")
        } else {
            line.to_string()
        };
        CheckResult { outcome, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_classifies() {
        assert_eq!(CheckResult::parse("OK: Pong!").outcome, Outcome::Ok);
        assert_eq!(CheckResult::parse("UNKNOWN: x").outcome, Outcome::Unknown);
        assert_eq!(CheckResult::parse("ERROR: x").outcome, Outcome::Error);
        let junk = CheckResult::parse("garbage");
        assert_eq!(junk.outcome, Outcome::Error);
        assert!(junk.message.starts_with("ERROR: "));
        assert_eq!(
            "rep_threads".parse::<CheckKind>(),
            Ok(CheckKind::RepThreads)
        );
        assert_eq!(
            "x".parse::<CheckKind>().unwrap_err().to_string(),
            "ERROR: Unknown check 'x'!"
        );
    }

    /// A refused connect as the `mysql` check words it (the tracker's tests use it too).
    pub(super) const REFUSED: &str = "ERROR: Connect error (host = 10.213.7.11:3306, user = mmm_monitor)! \
                           Connection refused (os error 111)";

    #[test]
    fn parse_tells_a_refused_connection_from_other_errors() {
        let shutdown = "ERROR: Connect error (host = 10.0.0.1:3306, user = u)! \
                        ERROR 1053: Server shutdown in progress";
        for line in [
            REFUSED,
            shutdown,
            "ERROR: SQL Query Error: ERROR 1053: Server shutdown in progress",
        ] {
            let r = CheckResult::parse(line);
            assert_eq!(r.outcome, Outcome::Refused, "{line}");
            assert_eq!(r.message, line, "the line is kept as it is");
        }
        for line in [
            "ERROR: Timeout",
            "ERROR: Connect error (host = 10.0.0.1:3306, user = u)! \
             Input/output error: No route to host (os error 113)",
            "ERROR: Connect error (host = 10.0.0.1:3306, user = u)! Connection reset by peer",
            "ERROR: Connect error (host = 10.0.0.1:3306, user = u)! Lost connection to MySQL \
             server at 'reading initial communication packet', system error: 111",
            "ERROR: SQL Query Error: ERROR 1064: syntax",
            "ERROR: Could not ping 10.0.0.1 (Connection refused)",
            "ERROR: Connection refused",
        ] {
            assert_eq!(CheckResult::parse(line).outcome, Outcome::Error, "{line}");
        }
        // The rep checks' connect errors stay UNKNOWN, refused or not.
        let unknown = "UNKNOWN: Connect error (host = 10.0.0.1:3306, user = u)! Connection refused";
        assert_eq!(CheckResult::parse(unknown).outcome, Outcome::Unknown);
    }
}
