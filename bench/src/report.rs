//! Results: per run, per case (summaries, lost writes, failovers, the phase breakdown), the idle
//! cases, the whole report as JSON, and the printed tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::measure::{Milestone, Phase};
use crate::profiles::TimingsMs;
use crate::stats::{Summary, summarize};

/// One milestone of a run, in milliseconds after the case's reference event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MilestoneMs {
    /// Its name.
    pub name: String,
    /// The phase ending there.
    pub phase: String,
    /// Milliseconds after the reference event; `None` when the run did not show it.
    pub at_ms: Option<f64>,
}

/// One phase of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseMs {
    /// Its name.
    pub name: String,
    /// Its length in milliseconds.
    pub ms: f64,
}

/// One run of a case.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RunResult {
    /// 1-based.
    pub run: usize,
    /// The case's measured interval; `None` when the run failed (see `error`).
    pub value_ms: Option<f64>,
    /// The case's second interval, where it has one.
    pub secondary_ms: Option<f64>,
    /// Why the run gave no value.
    pub error: Option<String>,
    /// Acknowledged writes the writer after the run lacks.
    pub lost_writes: Option<u64>,
    /// Whether the writer moved.
    pub failover: Option<bool>,
    /// Whether a monitor changed the old writer's host state.
    pub state_changed: Option<bool>,
    /// Writes that failed or may have failed in the measured window.
    pub failed_writes: usize,
    /// Sampled time two or more servers were writable at once (must be zero).
    pub two_writable_ms: f64,
    /// The writer before.
    pub writer_before: String,
    /// The writer after, when known.
    pub writer_after: Option<String>,
    /// Milestones after the reference event.
    pub milestones: Vec<MilestoneMs>,
    /// The phases between them.
    pub phases: Vec<PhaseMs>,
}

impl RunResult {
    /// A run that gave no value.
    pub fn failed(run: usize, writer_before: &str, error: String) -> Self {
        Self {
            run,
            writer_before: writer_before.to_owned(),
            error: Some(error),
            ..Self::default()
        }
    }

    /// Fills milestones and phases from `reference` (run clock, µs).
    pub fn set_milestones(&mut self, reference: i64, ms: &[Milestone]) {
        let off = |at: i64| crate::events::ms(at - reference);
        self.milestones = ms
            .iter()
            .map(|m| MilestoneMs {
                name: m.name.to_owned(),
                phase: m.phase.to_owned(),
                at_ms: m.at.map(off),
            })
            .collect();
        self.phases = crate::measure::phases(reference, ms)
            .iter()
            .map(|p: &Phase| PhaseMs {
                name: p.name.to_owned(),
                ms: crate::events::ms(p.us),
            })
            .collect();
    }
}

/// One milestone over a case's runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MilestoneSummary {
    /// Milestone name.
    pub name: String,
    /// The phase ending there.
    pub phase: String,
    /// Its offset after the reference event over the runs that showed it.
    pub at: Option<Summary>,
    /// The phase's length over the runs that had it.
    pub phase_length: Option<Summary>,
}

/// A case's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    /// Short name (`--case`).
    pub name: String,
    /// What it does.
    pub title: String,
    /// What the value is: from which event to which.
    pub measure: String,
    /// The event the milestones are counted from.
    pub reference: String,
    /// What the second value is, if any.
    pub secondary: Option<String>,
    /// The timing profile's name.
    pub profile: String,
    /// Its timings.
    pub timings: TimingsMs,
    /// Database hosts.
    pub db_hosts: usize,
    /// Every run.
    pub runs: Vec<RunResult>,
    /// Over the runs' values.
    pub summary: Option<Summary>,
    /// Over the runs' second values.
    pub secondary_summary: Option<Summary>,
    /// Runs without a value.
    pub failed_runs: usize,
    /// Acknowledged writes lost, over all runs.
    pub lost_writes: u64,
    /// Runs where the writer moved.
    pub failovers: usize,
    /// Runs where the old writer's host state changed.
    pub state_changes: usize,
    /// Runs where two servers were seen writable at once.
    pub two_writable_runs: usize,
    /// The breakdown, milestone by milestone.
    pub breakdown: Vec<MilestoneSummary>,
    /// Load average (1, 5, 15 min) when the case ended.
    pub load_avg_end: [f64; 3],
}

/// The case-level facts a [`CaseResult`] is built from besides its runs.
#[derive(Debug, Clone)]
pub struct CaseInfo {
    /// Short name.
    pub name: String,
    /// What it does.
    pub title: String,
    /// What the value is.
    pub measure: String,
    /// The event the milestones are counted from.
    pub reference: String,
    /// What the second value is.
    pub secondary: Option<String>,
    /// Profile name.
    pub profile: String,
    /// Its timings.
    pub timings: TimingsMs,
    /// Database hosts.
    pub db_hosts: usize,
}

impl CaseResult {
    /// Summarises `runs`.
    pub fn new(info: CaseInfo, runs: Vec<RunResult>, load_avg_end: [f64; 3]) -> Self {
        let values: Vec<f64> = runs.iter().filter_map(|r| r.value_ms).collect();
        let second: Vec<f64> = runs.iter().filter_map(|r| r.secondary_ms).collect();
        Self {
            summary: summarize(&values),
            secondary_summary: summarize(&second),
            failed_runs: runs.iter().filter(|r| r.value_ms.is_none()).count(),
            lost_writes: runs.iter().filter_map(|r| r.lost_writes).sum(),
            failovers: runs.iter().filter(|r| r.failover == Some(true)).count(),
            state_changes: runs
                .iter()
                .filter(|r| r.state_changed == Some(true))
                .count(),
            two_writable_runs: runs.iter().filter(|r| r.two_writable_ms > 0.0).count(),
            breakdown: breakdown(&runs),
            name: info.name,
            title: info.title,
            measure: info.measure,
            reference: info.reference,
            secondary: info.secondary,
            profile: info.profile,
            timings: info.timings,
            db_hosts: info.db_hosts,
            runs,
            load_avg_end,
        }
    }
}

/// Milestone offsets and phase lengths over the runs, in the runs' milestone order.
fn breakdown(runs: &[RunResult]) -> Vec<MilestoneSummary> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut at: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut length: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.value_ms.is_some()) {
        for m in &r.milestones {
            if !order.iter().any(|(n, _)| n == &m.name) {
                order.push((m.name.clone(), m.phase.clone()));
            }
            at.entry(m.name.clone()).or_default().extend(m.at_ms);
        }
        for p in &r.phases {
            length.entry(p.name.clone()).or_default().push(p.ms);
        }
    }
    order
        .into_iter()
        .map(|(name, phase)| MilestoneSummary {
            at: at.get(&name).and_then(|v| summarize(v)),
            phase_length: length.get(&phase).and_then(|v| summarize(v)),
            name,
            phase,
        })
        .collect()
}

/// One daemon in an idle case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaemonIdle {
    /// `mon1`, `db3`, …
    pub name: String,
    /// `mmm-mond`, `mmm-agentd` or `mariadbd`.
    pub program: String,
    /// The Raft leader (monitors only).
    pub leader: bool,
    /// CPU in percent of one core, per window.
    pub cpu_percent: Option<Summary>,
    /// Resident memory in MiB, per window.
    pub rss_mib: Option<Summary>,
}

/// An idle case's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleResult {
    /// Short name.
    pub name: String,
    /// Database hosts.
    pub db_hosts: usize,
    /// The timing profile.
    pub profile: String,
    /// Its timings.
    pub timings: TimingsMs,
    /// Length of one window in seconds.
    pub window_s: f64,
    /// Windows measured.
    pub windows: usize,
    /// One clock tick over one window, in percent of a core.
    pub resolution_percent: f64,
    /// The leader when measuring started and ended (they differ if it changed).
    pub leader: (Option<String>, Option<String>),
    /// Every daemon.
    pub daemons: Vec<DaemonIdle>,
    /// Why the case gave no numbers.
    pub error: Option<String>,
    /// Load average when the case ended.
    pub load_avg_end: [f64; 3],
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Format version of this document.
    pub version: u32,
    /// When the benchmark started (RFC 3339, UTC).
    pub date: String,
    /// When it ended.
    pub finished: String,
    /// The machine.
    pub machine: crate::machine::Machine,
    /// Load average at the start.
    pub load_avg_start: [f64; 3],
    /// Load average at the end.
    pub load_avg_end: [f64; 3],
    /// `release` or `debug`.
    pub build_profile: String,
    /// The mmm commit.
    pub mmm_commit: String,
    /// Runs per case asked for.
    pub runs_per_case: usize,
    /// The client starts a write this often (ms).
    pub write_every_ms: u128,
    /// The client's connect deadline (ms).
    pub connect_timeout_ms: u128,
    /// The sampler's period (ms).
    pub sample_every_ms: u128,
    /// How percentiles are computed.
    pub percentiles: String,
    /// The timed cases.
    pub cases: Vec<CaseResult>,
    /// The idle cases.
    pub idle: Vec<IdleResult>,
}

/// `812 ms`, `1.62 s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms.is_nan() {
        "—".to_owned()
    } else if ms.abs() >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), fmt_ms)
}

/// The main table: one line per timed case.
pub fn cases_table(cases: &[CaseResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<28} {:<19} {:>6} {:>9} {:>9} {:>5} {:>9} {:>9} {:>5}  notes",
        "case", "profile", "runs", "p50", "p90", "p99", "max", "mean", "lost"
    );
    for c in cases {
        let ok = c.runs.len() - c.failed_runs;
        let runs = format!("{ok}/{}", c.runs.len());
        let (p50, p90, p99, max, mean) = match &c.summary {
            Some(x) => (
                fmt_ms(x.p50),
                fmt_ms(x.p90),
                opt_ms(x.p99),
                fmt_ms(x.max),
                fmt_ms(x.mean),
            ),
            None => Default::default(),
        };
        let _ = writeln!(
            s,
            "{:<28} {:<19} {:>6} {:>9} {:>9} {:>5} {:>9} {:>9} {:>5}  {}",
            c.title,
            c.profile,
            runs,
            p50,
            p90,
            p99,
            max,
            mean,
            c.lost_writes,
            notes(c)
        );
    }
    s
}

fn notes(c: &CaseResult) -> String {
    let mut n = Vec::new();
    if c.name.starts_with("loss") {
        n.push(format!(
            "failovers {}/{}, state changes {}/{}",
            c.failovers,
            c.runs.len(),
            c.state_changes,
            c.runs.len()
        ));
    }
    if c.two_writable_runs > 0 {
        let longest = c.runs.iter().map(|r| r.two_writable_ms).fold(0.0, f64::max);
        n.push(format!(
            "TWO WRITABLE SERVERS in {}/{} runs (longest {})",
            c.two_writable_runs,
            c.runs.len(),
            fmt_ms(longest)
        ));
    }
    if let (Some(what), Some(s)) = (&c.secondary, &c.secondary_summary) {
        n.push(format!(
            "{what}: p50 {} max {}",
            fmt_ms(s.p50),
            fmt_ms(s.max)
        ));
    }
    if c.failed_runs > 0 {
        let why = c
            .runs
            .iter()
            .find_map(|r| r.error.as_deref())
            .unwrap_or_default();
        let why: String = why
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect();
        n.push(format!(
            "{} run(s) without a value, e.g. {why}",
            c.failed_runs
        ));
    }
    n.join("; ")
}

/// Where the time goes in one case: each milestone's offset and the phase ending there.
pub fn breakdown_table(c: &CaseResult) -> String {
    let mut s = String::new();
    let ok = c.runs.len() - c.failed_runs;
    let _ = writeln!(
        s,
        "{} · {} — p50 over the runs that show each event (of {ok}), after {}:",
        c.title, c.profile, c.reference
    );
    let _ = writeln!(
        s,
        "  {:<14} {:>9} {:>9}   {:<26} {:>9} {:>9}",
        "event", "at p50", "at max", "phase ending there", "p50", "max"
    );
    for m in &c.breakdown {
        let (at50, atmax, n) =
            m.at.as_ref()
                .map_or((None, None, 0), |x| (Some(x.p50), Some(x.max), x.n));
        let (l50, lmax) = m
            .phase_length
            .as_ref()
            .map_or((None, None), |x| (Some(x.p50), Some(x.max)));
        let _ = writeln!(
            s,
            "  {:<14} {:>9} {:>9}   {:<26} {:>9} {:>9}   ({n} runs)",
            m.name,
            opt_ms(at50),
            opt_ms(atmax),
            m.phase,
            opt_ms(l50),
            opt_ms(lmax)
        );
    }
    s
}

/// One idle case's table.
pub fn idle_table(r: &IdleResult) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "idle, {} database hosts, {} — {} windows of {:.0} s (one tick = {:.2} % of a core); leader {}",
        r.db_hosts,
        r.profile,
        r.windows,
        r.window_s,
        r.resolution_percent,
        match &r.leader {
            (Some(a), Some(b)) if a == b => a.clone(),
            (a, b) => format!("{a:?} → {b:?} (changed while measuring)"),
        }
    );
    if let Some(e) = &r.error {
        let _ = writeln!(s, "  no numbers: {e}");
        return s;
    }
    let _ = writeln!(
        s,
        "  {:<18} {:<11} {:>10} {:>10} {:>10} {:>10}",
        "daemon", "program", "CPU % p50", "CPU % max", "RSS MiB", "RSS max"
    );
    for d in &r.daemons {
        let cpu = d.cpu_percent.as_ref();
        let rss = d.rss_mib.as_ref();
        let f = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "—".to_owned(), |x| format!("{x:.digits$}"))
        };
        let name = if d.leader {
            format!("{} (leader)", d.name)
        } else {
            d.name.clone()
        };
        let _ = writeln!(
            s,
            "  {:<18} {:<11} {:>10} {:>10} {:>10} {:>10}",
            name,
            d.program,
            f(cpu.map(|c| c.p50), 2),
            f(cpu.map(|c| c.max), 2),
            f(rss.map(|c| c.p50), 1),
            f(rss.map(|c| c.max), 1),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: usize, value: Option<f64>, detected: Option<f64>) -> RunResult {
        RunResult {
            run: n,
            value_ms: value,
            lost_writes: Some(0),
            failover: Some(true),
            writer_before: "db1".into(),
            milestones: vec![
                MilestoneMs {
                    name: "detected".into(),
                    phase: "detection".into(),
                    at_ms: detected,
                },
                MilestoneMs {
                    name: "first_ack".into(),
                    phase: "client reconnect".into(),
                    at_ms: value,
                },
            ],
            phases: detected
                .into_iter()
                .map(|d| PhaseMs {
                    name: "detection".into(),
                    ms: d,
                })
                .collect(),
            ..RunResult::default()
        }
    }

    fn info() -> CaseInfo {
        CaseInfo {
            name: "kill-mysqld-fast".into(),
            title: "kill -9 writer's mysqld".into(),
            measure: "kill -9 → first acknowledged write on the new writer".into(),
            reference: "kill -9".into(),
            secondary: None,
            profile: "fast (lab)".into(),
            timings: TimingsMs::from(&mmm_lab::cluster::Timings::default()),
            db_hosts: 3,
        }
    }

    #[test]
    fn a_case_summarises_its_runs() {
        let runs = vec![
            run(1, Some(1500.0), Some(800.0)),
            run(2, None, None),
            run(3, Some(1700.0), None),
        ];
        let c = CaseResult::new(info(), runs, [1.0, 2.0, 3.0]);
        let s = c.summary.as_ref().expect("values");
        assert_eq!((s.n, s.p50, s.max), (2, 1500.0, 1700.0));
        assert_eq!(c.failed_runs, 1);
        assert_eq!(c.failovers, 3);
        assert_eq!(c.breakdown.len(), 2);
        assert_eq!(c.breakdown[0].at.as_ref().map(|x| x.n), Some(1));
        assert_eq!(c.breakdown[1].at.as_ref().map(|x| x.n), Some(2));
        let table = cases_table(std::slice::from_ref(&c));
        assert!(table.contains("1.50 s"), "{table}");
        assert!(table.contains("2/3"), "{table}");
        let b = breakdown_table(&c);
        assert!(b.contains("detection") && b.contains("800 ms"), "{b}");
        assert!(b.contains("after kill -9:"), "{b}");
    }

    #[test]
    fn the_report_has_the_documented_json_shape() {
        let c = CaseResult::new(info(), vec![run(1, Some(900.0), Some(500.0))], [0.0; 3]);
        let report = Report {
            version: 1,
            date: "2025-01-01T00:00:00Z".into(),
            finished: "2025-01-01T01:00:00Z".into(),
            machine: crate::machine::Machine {
                cpu_model: "cpu".into(),
                cores: 2,
                kernel: "6.1".into(),
                memory_mib: 1024,
            },
            load_avg_start: [1.0, 1.0, 1.0],
            load_avg_end: [2.0, 2.0, 2.0],
            build_profile: "release".into(),
            mmm_commit: "abc".into(),
            runs_per_case: 1,
            write_every_ms: 20,
            connect_timeout_ms: 250,
            sample_every_ms: 50,
            percentiles: "nearest rank".into(),
            cases: vec![c],
            idle: vec![],
        };
        let v = serde_json::to_value(&report).expect("json");
        for key in [
            "version",
            "date",
            "machine",
            "build_profile",
            "mmm_commit",
            "cases",
            "idle",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        let case = &v["cases"][0];
        assert_eq!(case["summary"]["p50"], 900.0);
        assert_eq!(case["summary"]["p99"], serde_json::Value::Null);
        assert_eq!(case["lost_writes"], 0);
        assert_eq!(case["runs"][0]["milestones"][0]["name"], "detected");
        assert_eq!(case["breakdown"][0]["phase_length"]["p50"], 500.0);
        assert_eq!(v["machine"]["cores"], 2);
        assert_eq!(case["timings"]["trap_period"], 800);
    }

    #[test]
    fn durations_are_printed_readably() {
        assert_eq!(fmt_ms(812.4), "812 ms");
        assert_eq!(fmt_ms(1620.0), "1.62 s");
        assert_eq!(fmt_ms(f64::NAN), "—");
        assert_eq!(opt_ms(None), "—");
    }
}
