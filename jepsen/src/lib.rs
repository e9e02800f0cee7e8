//! mmm's chaos suite: the real `mmm-mond`, `mmm-agentd` and `mmmctl` with real MariaDB servers in
//! the lab's namespaces (`mmm_lab::cluster::Cluster`), client workloads from the client
//! namespace, a sampler watching every server, agent and monitor every 50 ms, a seeded fault
//! schedule, checkers that judge only the recorded history, and a report per run.
//!
//! * [`schedule`]: nemeses and seeded schedules (and the fixed CI schedule);
//! * [`nemesis`]: applying and healing a fault on the running cluster;
//! * [`workloads`]: the four client workloads;
//! * [`runner`]: one run, end to end, producing a [`history::History`];
//! * [`check`]: the checkers; [`expect`]: strict expected-failure marks;
//! * [`report`]: summary table, verdicts, timeline SVG.

pub mod check;
pub mod expect;
pub mod history;
pub mod nemesis;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod workloads;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::expect::{Expected, Judged, judge};
use crate::history::History;

/// Failures today's binaries are known to produce, each naming its case and issue. Strict: a
/// marked case that passes fails the run, unless the mark says the case is intermittent (see
/// [`expect`]).
/// None today: the last one (`single-writer` during `writer-isolated`, a renewal delayed across
/// the cut re-enabling the old writer after the heal) is gone since the lease counts from the
/// agent's echoed basis.
pub const KNOWN_FAILURES: &[Expected] = &[];

/// Checks `h`, judges the verdicts against `marks`, writes the report into `dir`; returns the
/// judgements and the summary text.
pub fn check_and_report(
    h: &History,
    marks: &[Expected],
    dir: &Path,
    schedule: &str,
) -> Result<(Vec<Judged>, String)> {
    let verdicts = check::check_all(h)?;
    let judged: Vec<Judged> = verdicts
        .into_iter()
        .map(|v| judge(v, marks, &h.faults))
        .collect();
    let summary = report::write(dir, h, &judged, schedule)?;
    Ok((judged, summary))
}

/// The default results directory: `target/jepsen/<unix seconds>-seed<seed>` next to `exe_dir`'s
/// target directory.
pub fn default_results(exe_dir: &Path, seed: u64) -> PathBuf {
    mmm_lab::cluster::results_path(exe_dir, "jepsen", &format!("-seed{seed}"))
}
