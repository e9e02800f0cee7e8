//! Expected failures, marked strictly: a mark names a checker, the nemesis during whose window
//! it fails, and the known case (with its issue). A marked failure is reported as expected; a
//! mark whose nemesis ran without that checker failing in its window is an unexpected pass and
//! fails the run, so the mark is removed as soon as the fix lands. Violations outside every
//! marked window still fail.
//!
//! A case that today's binaries fail only in some runs (a race) cannot be marked strictly
//! without making the run flaky; its mark says `intermittent`, and a run where it did not fail
//! says so in the report instead of failing.

use serde::Serialize;

use crate::check::{Outcome, Verdict, window_at};
use crate::history::{Fault, Phase};

/// One expected failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Checker name (`single-writer`, …).
    pub checker: &'static str,
    /// Nemesis name as [`crate::schedule::Nemesis::name`] gives it.
    pub nemesis: &'static str,
    /// The known failing case, naming its issue.
    pub case: &'static str,
    /// The case fails only in some runs: not failing is reported, not an unexpected pass.
    pub intermittent: bool,
}

/// How a checker's verdict stands against the marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// Passed (or reported only) and nothing was expected to fail.
    Pass,
    /// Failed, every failure in a marked window.
    ExpectedFailure,
    /// Failed outside the marked windows.
    Fail,
    /// A marked nemesis ran and the checker did not fail in its window.
    UnexpectedPass,
}

impl Judgement {
    /// Whether the run may count as green.
    pub fn ok(self) -> bool {
        matches!(self, Self::Pass | Self::ExpectedFailure)
    }
}

/// A verdict with its judgement and the marks that applied.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// The checker's verdict.
    pub verdict: Verdict,
    /// The judgement.
    pub judgement: Judgement,
    /// Explanation lines (which marks matched, which did not).
    pub notes: Vec<String>,
}

/// Judges `verdict` against `marks`, given the run's faults.
pub fn judge(verdict: Verdict, marks: &[Expected], faults: &[Fault]) -> Judged {
    let mine: Vec<&Expected> = marks
        .iter()
        .filter(|m| m.checker == verdict.checker)
        .collect();
    let ran = |n: &str| {
        faults
            .iter()
            .any(|f| f.phase == Phase::Start && f.nemesis == n)
    };
    let mut notes = Vec::new();
    let mut unexpected_fail = false;
    if verdict.outcome == Outcome::Fail {
        for v in &verdict.violations {
            let window = window_at(faults, v.at);
            match mine.iter().find(|m| Some(m.nemesis) == window) {
                Some(m) => notes.push(format!("expected: {} — {}", m.case, v.summary)),
                None => unexpected_fail = true,
            }
        }
    }
    let mut unexpected_pass = false;
    for m in mine.iter().filter(|m| ran(m.nemesis)) {
        let failed_there = verdict.outcome == Outcome::Fail
            && verdict
                .violations
                .iter()
                .any(|v| window_at(faults, v.at) == Some(m.nemesis));
        if failed_there {
            continue;
        }
        if m.intermittent {
            notes.push(format!(
                "intermittent case did not fail this run: {} during {} ({})",
                verdict.checker, m.nemesis, m.case
            ));
        } else {
            unexpected_pass = true;
            notes.push(format!(
                "UNEXPECTED PASS: {} no longer fails during {} ({}); remove the mark",
                verdict.checker, m.nemesis, m.case
            ));
        }
    }
    let judgement = if unexpected_fail {
        Judgement::Fail
    } else if unexpected_pass {
        Judgement::UnexpectedPass
    } else if verdict.outcome == Outcome::Fail {
        Judgement::ExpectedFailure
    } else {
        Judgement::Pass
    };
    Judged {
        verdict,
        judgement,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Violation;

    fn fault(at: u64, nemesis: &str) -> Fault {
        Fault {
            at,
            step: 0,
            nemesis: nemesis.to_owned(),
            phase: Phase::Start,
            detail: String::new(),
        }
    }

    fn failing(at: u64) -> Verdict {
        Verdict::from_violations(
            "single-writer",
            true,
            "x".into(),
            vec![Violation {
                at,
                summary: "two writers".into(),
                events: vec![],
            }],
        )
    }

    const MARK: Expected = Expected {
        checker: "single-writer",
        nemesis: "b",
        case: "issue 9: b",
        intermittent: false,
    };

    #[test]
    fn a_marked_failure_is_expected_and_an_unmarked_one_fails() {
        let faults = [fault(0, "a"), fault(100, "b")];
        assert_eq!(
            judge(failing(150), &[MARK], &faults).judgement,
            Judgement::ExpectedFailure
        );
        assert_eq!(
            judge(failing(50), &[MARK], &faults).judgement,
            Judgement::Fail
        );
        assert_eq!(judge(failing(50), &[], &faults).judgement, Judgement::Fail);
    }

    #[test]
    fn a_mark_whose_case_passes_fails_the_run() {
        let faults = [fault(0, "a"), fault(100, "b")];
        let pass = Verdict::from_violations("single-writer", true, "ok".into(), vec![]);
        let j = judge(pass.clone(), &[MARK], &faults);
        assert_eq!(j.judgement, Judgement::UnexpectedPass);
        assert!(!j.judgement.ok());
        // A mark for a nemesis that did not run says nothing.
        assert_eq!(
            judge(pass, &[MARK], &faults[..1]).judgement,
            Judgement::Pass
        );
    }
}
