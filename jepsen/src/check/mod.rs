//! The checkers. Each reads only the recorded history and returns a [`Verdict`] whose
//! violations carry the offending events, so a failure can be read without rerunning.
//!
//! * [`single_writer`]: no two hosts accepted writes in overlapping intervals, and no host
//!   acknowledged a write after the writer had been granted to another host at a higher epoch;
//! * [`lost_writes`]: every acknowledged insert is on every server after the heal (required with
//!   semi-sync, counted with asynchronous replication);
//! * [`register`]: the register history is linearizable (stateright's tester), per key;
//! * [`monotonic`]: no agent's epoch ever decreases; at most one Raft leader per term;
//! * [`availability`]: the longest write gap per nemesis (reported, never failing);
//! * [`convergence`]: within 10 s of the last heal one writer, every VIP placed once, every
//!   other server replicating from the writer.

pub mod availability;
pub mod convergence;
pub mod lost_writes;
pub mod monotonic;
pub mod register;
pub mod single_writer;

use serde::Serialize;

use crate::history::{Fault, History, Micros, Phase};

/// How a checker judged the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The property holds.
    Pass,
    /// The property is broken.
    Fail,
    /// Reported only (a measurement, or a property not required in this configuration).
    Info,
}

/// One broken instance of a property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// When it happened (µs since the run started).
    pub at: Micros,
    /// One line saying what is wrong.
    pub summary: String,
    /// The offending events (history JSON or a short description each).
    pub events: Vec<String>,
}

/// A checker's judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The checker's name.
    pub checker: &'static str,
    /// Pass, fail or info.
    pub outcome: Outcome,
    /// One line for the summary table.
    pub summary: String,
    /// Broken instances (empty on pass).
    pub violations: Vec<Violation>,
    /// Further lines for the report (measurements, tables).
    pub details: Vec<String>,
}

impl Verdict {
    /// A verdict from its violations: fail when there are any and `required`, else pass or info.
    pub fn from_violations(
        checker: &'static str,
        required: bool,
        summary: String,
        violations: Vec<Violation>,
    ) -> Self {
        let outcome = match (violations.is_empty(), required) {
            (true, _) => Outcome::Pass,
            (false, true) => Outcome::Fail,
            (false, false) => Outcome::Info,
        };
        Self {
            checker,
            outcome,
            summary,
            violations,
            details: Vec::new(),
        }
    }
}

/// Runs every checker on `h`.
pub fn check_all(h: &History) -> anyhow::Result<Vec<Verdict>> {
    Ok(vec![
        single_writer::check(h)?,
        lost_writes::check(h)?,
        register::check(h)?,
        monotonic::check(h)?,
        availability::check(h)?,
        convergence::check(h)?,
    ])
}

/// The name of the nemesis whose step was running at `t` (from its start to the next step's
/// start), or `None` before the first fault.
pub fn window_at(faults: &[Fault], t: Micros) -> Option<&str> {
    faults
        .iter()
        .filter(|f| f.phase == Phase::Start && f.at <= t)
        .max_by_key(|f| f.at)
        .map(|f| f.nemesis.as_str())
}

/// At most `n` items, then a line saying how many were left out.
pub(crate) fn first_n(mut items: Vec<String>, n: usize) -> Vec<String> {
    if items.len() > n {
        let more = items.len() - n;
        items.truncate(n);
        items.push(format!("… and {more} more"));
    }
    items
}

/// A history item as one JSON line (for offending-event lists).
pub(crate) fn json(item: &impl Serialize) -> String {
    serde_json::to_string(item).unwrap_or_else(|e| format!("<unserializable: {e}>"))
}

#[cfg(test)]
mod tests;
