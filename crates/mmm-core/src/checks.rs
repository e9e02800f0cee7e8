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

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::{CheckConfig, ChecksConfig};
use crate::log::{LogLine, fmt_secs_like};
use crate::time::Timestamp;

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

/// Tracker phase of one (host, check), mysql-mmm's checker thread states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TrackerPhase {
    /// No result seen yet.
    New,
    /// Last result was OK.
    Ok,
    /// Failing, not yet reported.
    Failing,
    /// Failure reported.
    Failed,
    /// Last result was UNKNOWN.
    Unknown,
}

/// What a tracker asks its monitor to do with one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerOutput {
    /// `Some(ok)` when the status must be reported (status table updated).
    pub report: Option<bool>,
    /// Lines to log.
    pub lines: Vec<LogLine>,
}

/// §2.2 of the reference, per (host, check): turns raw results into reported statuses.
///
/// The first result ever seen is reported as-is (OK ⇒ ok, anything else ⇒ failed, no trap),
/// as mysql-mmm's synchronous startup round does. Deliberate fix of mysql-mmm's edge bug:
/// an OK result after a silent FAILING phase is reported when the last reported status was
/// failed, so a host can no longer stay "failed" after it recovered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tracker {
    /// Current phase.
    pub phase: TrackerPhase,
    /// When the current failing streak started.
    pub failing_since: Option<Timestamp>,
    /// Last reported status.
    pub reported: Option<bool>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Tracker {
            phase: TrackerPhase::New,
            failing_since: None,
            reported: None,
        }
    }

    /// Feeds one result. `network_ok` is the monitor's own network self-check.
    pub fn observe(
        &mut self,
        host: &str,
        check: CheckKind,
        result: &CheckResult,
        network_ok: bool,
        trap_period: Duration,
        now: Timestamp,
    ) -> TrackerOutput {
        let mut out = TrackerOutput {
            report: None,
            lines: Vec::new(),
        };
        if self.phase == TrackerPhase::New {
            let ok = result.outcome == Outcome::Ok;
            if !ok && !network_ok {
                return out;
            }
            self.phase = if ok {
                TrackerPhase::Ok
            } else {
                TrackerPhase::Failed
            };
            self.reported = Some(ok);
            out.report = Some(ok);
            return out;
        }
        let name = || format!("Check '{check}' on '{host}'");
        match result.outcome {
            Outcome::Ok => self.ok(name, &mut out),
            Outcome::Unknown => {
                if self.phase != TrackerPhase::Unknown {
                    self.phase = TrackerPhase::Unknown;
                    self.failing_since = None;
                    out.lines.push(LogLine::warn(format!(
                        "{} is in unknown state! Message: {}",
                        name(),
                        result.message
                    )));
                }
            }
            Outcome::Error | Outcome::Refused if network_ok => {
                self.error(name, result, trap_period, now, &mut out);
            }
            // Without network the round is abandoned.
            Outcome::Error | Outcome::Refused => {}
        }
        out
    }

    /// An OK result: recovery is reported at once (but a failure never reported stays silent).
    fn ok(&mut self, name: impl Fn() -> String, out: &mut TrackerOutput) {
        let silent_edge = self.phase == TrackerPhase::Failing && self.reported == Some(true);
        if self.phase != TrackerPhase::Ok && !silent_edge {
            out.lines.push(LogLine::info(format!("{} is ok!", name())));
            out.report = Some(true);
            self.reported = Some(true);
        }
        self.phase = TrackerPhase::Ok;
        self.failing_since = None;
    }

    /// An ERROR result: reported failed once it has lasted `trap_period` (zero for a
    /// refused one; the line still says how long the failing streak lasted).
    fn error(
        &mut self,
        name: impl Fn() -> String,
        result: &CheckResult,
        trap_period: Duration,
        now: Timestamp,
        out: &mut TrackerOutput,
    ) {
        if self.phase == TrackerPhase::Failed {
            return;
        }
        let start = match (self.phase, self.failing_since) {
            (TrackerPhase::Failing, Some(s)) => s,
            _ => {
                self.phase = TrackerPhase::Failing;
                self.failing_since = Some(now);
                now
            }
        };
        let elapsed = now.since(start);
        // A refused connection is a certain sign the server is down: no trap to wait out.
        let wait = if result.outcome == Outcome::Refused {
            Duration::ZERO
        } else {
            trap_period
        };
        if elapsed < wait {
            return;
        }
        out.lines.push(LogLine::error(format!(
            "{} has failed for {} seconds! Message: {}",
            name(),
            fmt_secs_like(elapsed, trap_period),
            result.message
        )));
        self.phase = TrackerPhase::Failed;
        self.reported = Some(false);
        out.report = Some(false);
    }
}

/// One check's status in a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckStatus {
    /// Passing.
    pub ok: bool,
    /// When `ok` last flipped.
    pub last_change: Timestamp,
    /// Latest reported raw line.
    pub message: String,
}

/// Statuses of the four checks of one host, indexed by [`CheckKind::index`].
pub type HostChecks = [Option<CheckStatus>; 4];

/// host → statuses of its four checks (a missing entry means "not known yet").
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckTable {
    /// The statuses by host name.
    pub hosts: BTreeMap<String, HostChecks>,
}

impl CheckTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The status of one check, if known.
    pub fn get(&self, host: &str, check: CheckKind) -> Option<&CheckStatus> {
        self.hosts.get(host).and_then(|c| c[check.index()].as_ref())
    }

    /// Whether the check is known and passing.
    pub fn ok(&self, host: &str, check: CheckKind) -> bool {
        self.get(host, check).is_some_and(|c| c.ok)
    }

    /// Whether all four checks of `host` are known.
    pub fn complete(&self, host: &str) -> bool {
        self.hosts
            .get(host)
            .is_some_and(|c| c.iter().all(Option::is_some))
    }

    /// Records a reported status: the message always, `last_change` only when `ok` flips.
    pub fn record(
        &mut self,
        host: &str,
        check: CheckKind,
        ok: bool,
        message: &str,
        now: Timestamp,
    ) {
        let slot = &mut self.hosts.entry(host.to_string()).or_default()[check.index()];
        match slot {
            Some(st) => {
                if st.ok != ok {
                    st.ok = ok;
                    st.last_change = now;
                }
                st.message = message.to_string();
            }
            None => {
                *slot = Some(CheckStatus {
                    ok,
                    last_change: now,
                    message: message.to_string(),
                });
            }
        }
    }

    /// Most recent `last_change` over the host's known checks.
    pub fn last_change(&self, host: &str) -> Option<Timestamp> {
        self.hosts
            .get(host)?
            .iter()
            .flatten()
            .map(|c| c.last_change)
            .max()
    }
}

/// One monitor's check table as sent to the leader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MonitorTable {
    /// Monitor node name.
    pub monitor: String,
    /// Its own network self-check.
    pub network_ok: bool,
    /// When the table was last updated by a full round.
    pub observed_at: Timestamp,
    /// Its statuses.
    pub table: CheckTable,
}

/// Merges monitors' tables with a quorum (see the module docs for the exact rule).
pub fn merge(
    tables: &[MonitorTable],
    quorum: usize,
    max_age: Duration,
    previous: &CheckTable,
    now: Timestamp,
) -> CheckTable {
    let dated = tables.iter().map(|t| (t, t.observed_at));
    merge_dated(dated, quorum, max_age, previous, now)
}

/// [`merge`] with each table's age judged by the time given next to it instead of its own
/// `observed_at` (the leader's receive time), without copying the tables.
pub fn merge_dated<'a>(
    tables: impl IntoIterator<Item = (&'a MonitorTable, Timestamp)>,
    quorum: usize,
    max_age: Duration,
    previous: &CheckTable,
    now: Timestamp,
) -> CheckTable {
    let quorum = quorum.max(1);
    let fresh: Vec<&MonitorTable> = tables
        .into_iter()
        .filter(|(t, at)| t.network_ok && now.since(*at) <= max_age)
        .map(|(t, _)| t)
        .collect();
    let mut hosts: Vec<&String> = previous.hosts.keys().collect();
    for t in &fresh {
        hosts.extend(t.table.hosts.keys());
    }
    hosts.sort();
    hosts.dedup();
    let mut out = CheckTable::new();
    for host in hosts {
        for check in CheckKind::ALL {
            let reports: Vec<&CheckStatus> = fresh
                .iter()
                .filter_map(|t| t.table.get(host, check))
                .collect();
            let failed: Vec<&&CheckStatus> = reports.iter().filter(|c| !c.ok).collect();
            let prev = previous.get(host, check);
            let decided = if failed.len() >= quorum {
                Some((false, failed[0].message.clone()))
            } else if reports.len() >= quorum {
                let ok = reports.iter().find(|c| c.ok).map(|c| c.message.clone());
                Some((true, ok.unwrap_or_default()))
            } else {
                None
            };
            match (decided, prev) {
                (Some((ok, msg)), Some(p)) => {
                    let last_change = if p.ok == ok { p.last_change } else { now };
                    let slot = &mut out.hosts.entry(host.clone()).or_default()[check.index()];
                    *slot = Some(CheckStatus {
                        ok,
                        last_change,
                        message: msg,
                    });
                }
                (Some((ok, msg)), None) => {
                    let slot = &mut out.hosts.entry(host.clone()).or_default()[check.index()];
                    *slot = Some(CheckStatus {
                        ok,
                        last_change: now,
                        message: msg,
                    });
                }
                (None, Some(p)) => {
                    out.hosts.entry(host.clone()).or_default()[check.index()] = Some(p.clone());
                }
                (None, None) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRAP: Duration = Duration::from_secs(10);

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn feed(tr: &mut Tracker, line: &str, now: u64) -> TrackerOutput {
        tr.observe(
            "db2",
            CheckKind::Mysql,
            &CheckResult::parse(line),
            true,
            TRAP,
            t(now),
        )
    }

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

    const REFUSED: &str = "ERROR: Connect error (host = 10.213.7.11:3306, user = mmm_monitor)! \
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

    #[test]
    fn a_refused_connection_fails_at_once_a_timeout_waits_out_the_trap() {
        let mut tr = Tracker::new();
        feed(&mut tr, "OK", 0);
        let o = feed(&mut tr, REFUSED, 1);
        assert_eq!(o.report, Some(false));
        assert_eq!(
            o.lines[0].text,
            format!("Check 'mysql' on 'db2' has failed for 0 seconds! Message: {REFUSED}")
        );
        assert_eq!(tr.phase, TrackerPhase::Failed);
        assert!(feed(&mut tr, REFUSED, 2).lines.is_empty(), "reported once");
        // A streak of timeouts that turns into a refusal fails then, saying how long it lasted.
        let mut tr = Tracker::new();
        feed(&mut tr, "OK", 0);
        assert_eq!(feed(&mut tr, "ERROR: Timeout", 1).report, None);
        assert_eq!(feed(&mut tr, "ERROR: Timeout", 5).report, None);
        let o = feed(&mut tr, REFUSED, 6);
        assert_eq!(o.report, Some(false));
        assert!(
            o.lines[0].text.contains("has failed for 5 seconds!"),
            "{:?}",
            o.lines
        );
        // Timeouts alone keep the trap.
        let mut tr = Tracker::new();
        feed(&mut tr, "OK", 0);
        for s in 1..=10 {
            assert_eq!(feed(&mut tr, "ERROR: Timeout", s).report, None);
        }
        assert_eq!(feed(&mut tr, "ERROR: Timeout", 11).report, Some(false));
    }

    #[test]
    fn a_refused_connection_is_still_an_error_without_network() {
        let mut tr = Tracker::new();
        let r = CheckResult::parse(REFUSED);
        // No network: abandoned, also as the very first result.
        let o = tr.observe("db2", CheckKind::Mysql, &r, false, TRAP, t(0));
        assert_eq!(o.report, None);
        assert_eq!(tr.phase, TrackerPhase::New);
        let o = tr.observe("db2", CheckKind::Mysql, &r, true, TRAP, t(1));
        assert_eq!(o.report, Some(false), "first result: failed, as any error");
        assert!(o.lines.is_empty());
        let mut tr = Tracker::new();
        feed(&mut tr, "OK", 0);
        for s in 1..30 {
            let o = tr.observe("db2", CheckKind::Mysql, &r, false, TRAP, t(s));
            assert_eq!(o.report, None);
        }
        assert_eq!(tr.phase, TrackerPhase::Ok);
        // Recovery is reported at once, as after any failure.
        feed(&mut tr, REFUSED, 30);
        assert_eq!(feed(&mut tr, "OK", 31).report, Some(true));
    }

    #[test]
    fn first_result_reported_without_trap() {
        let mut tr = Tracker::new();
        let o = feed(&mut tr, "UNKNOWN: Too many connections", 0);
        assert_eq!(o.report, Some(false));
        assert!(o.lines.is_empty());
        let o = feed(&mut tr, "OK", 1);
        assert_eq!(o.report, Some(true));
        assert_eq!(o.lines[0].text, "Check 'mysql' on 'db2' is ok!");
    }

    #[test]
    fn trap_period_then_failed_once() {
        let mut tr = Tracker::new();
        feed(&mut tr, "OK", 0);
        assert_eq!(feed(&mut tr, "ERROR: down", 1).report, None);
        assert_eq!(feed(&mut tr, "ERROR: down", 10).report, None);
        let o = feed(&mut tr, "ERROR: down", 11);
        assert_eq!(o.report, Some(false));
        assert_eq!(
            o.lines[0].text,
            "Check 'mysql' on 'db2' has failed for 10 seconds! Message: ERROR: down"
        );
        assert!(feed(&mut tr, "ERROR: down", 12).lines.is_empty());
        // A fractional trap prints the elapsed time with its precision (not "0 seconds").
        let mut quick = Tracker::new();
        let r = CheckResult::parse("ERROR: down");
        let ms = Timestamp::from_millis;
        let trap = Duration::from_millis(800);
        quick.observe(
            "db2",
            CheckKind::Mysql,
            &CheckResult::parse("OK"),
            true,
            trap,
            ms(0),
        );
        quick.observe("db2", CheckKind::Mysql, &r, true, trap, ms(200));
        let o = quick.observe("db2", CheckKind::Mysql, &r, true, trap, ms(1_050));
        assert_eq!(
            o.lines[0].text,
            "Check 'mysql' on 'db2' has failed for 0.8 seconds! Message: ERROR: down"
        );
        // A failing streak that recovers before the trap is silent.
        feed(&mut tr, "OK", 13);
        feed(&mut tr, "ERROR: down", 14);
        let o = feed(&mut tr, "OK", 15);
        assert_eq!(o.report, None);
        assert!(o.lines.is_empty());
    }

    #[test]
    fn unknown_restarts_the_trap_and_reports_nothing() {
        let mut tr = Tracker::new();
        feed(&mut tr, "OK", 0);
        feed(&mut tr, "ERROR: x", 1);
        let o = feed(&mut tr, "UNKNOWN: y", 5);
        assert_eq!(o.report, None);
        assert_eq!(
            o.lines[0].text,
            "Check 'mysql' on 'db2' is in unknown state! Message: UNKNOWN: y"
        );
        assert_eq!(feed(&mut tr, "ERROR: x", 6).report, None);
        assert_eq!(feed(&mut tr, "ERROR: x", 15).report, None);
        assert_eq!(feed(&mut tr, "ERROR: x", 16).report, Some(false));
    }

    #[test]
    fn no_network_abandons_errors() {
        let mut tr = Tracker::new();
        feed(&mut tr, "OK", 0);
        let r = CheckResult::parse("ERROR: x");
        for s in 1..30 {
            let o = tr.observe("db2", CheckKind::Ping, &r, false, TRAP, t(s));
            assert_eq!(o.report, None);
        }
        assert_eq!(tr.phase, TrackerPhase::Ok);
    }

    #[test]
    fn edge_bug_fixed_startup_failed_then_failing_then_ok() {
        let mut tr = Tracker::new();
        assert_eq!(feed(&mut tr, "ERROR: x", 0).report, Some(false));
        // mysql-mmm: fresh thread tracker -> FAILING -> OK silent, status stays failed.
        tr.phase = TrackerPhase::Failing;
        tr.failing_since = Some(t(1));
        let o = feed(&mut tr, "OK", 2);
        assert_eq!(o.report, Some(true));
    }

    fn table(name: &str, net: bool, at: u64, ok: bool) -> MonitorTable {
        let mut tb = CheckTable::new();
        tb.record(
            "db1",
            CheckKind::Ping,
            ok,
            if ok { "OK" } else { "ERROR: x" },
            t(at),
        );
        MonitorTable {
            monitor: name.into(),
            network_ok: net,
            observed_at: t(at),
            table: tb,
        }
    }

    #[test]
    fn one_cut_off_monitor_cannot_fail_a_host() {
        let age = Duration::from_secs(5);
        let mut prev = CheckTable::new();
        prev.record("db1", CheckKind::Ping, true, "OK", t(0));
        let tables = [
            table("m1", true, 10, false),
            table("m2", true, 10, true),
            table("m3", true, 10, true),
        ];
        let m = merge(&tables, 2, age, &prev, t(10));
        assert!(m.ok("db1", CheckKind::Ping));
        // Two of three see it failed: failed.
        let tables = [
            table("m1", true, 10, false),
            table("m2", true, 10, false),
            table("m3", true, 10, true),
        ];
        let m = merge(&tables, 2, age, &prev, t(10));
        assert!(!m.ok("db1", CheckKind::Ping));
        assert_eq!(m.get("db1", CheckKind::Ping).unwrap().last_change, t(10));
    }

    #[test]
    fn stale_or_netless_tables_keep_previous_status() {
        let age = Duration::from_secs(5);
        let mut prev = CheckTable::new();
        prev.record("db1", CheckKind::Ping, true, "OK", t(0));
        // m1 says failed and is fresh, m2 has no network, m3 is stale: too few fresh tables.
        let tables = [
            table("m1", true, 10, false),
            table("m2", false, 10, false),
            table("m3", true, 1, false),
        ];
        let m = merge(&tables, 2, age, &prev, t(10));
        assert_eq!(
            m.get("db1", CheckKind::Ping),
            prev.get("db1", CheckKind::Ping)
        );
        // A new leader (no previous table) learns nothing from a single fresh table.
        let m = merge(&tables, 2, age, &CheckTable::new(), t(10));
        assert_eq!(m.get("db1", CheckKind::Ping), None);
        assert!(!m.complete("db1"));
    }
}
