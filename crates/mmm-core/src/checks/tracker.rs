//! mysql-mmm's trap-period tracker: turns one (host, check)'s raw results into the reports
//! a checker thread made — failed once the trap period has passed, at once for a refused
//! connection, ok at once.

use std::time::Duration;

use super::{CheckKind, CheckResult, Outcome};
use crate::log::{LogLine, fmt_secs_like};
use crate::time::Timestamp;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::tests::REFUSED;

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
}
