//! Invariants checked where they must hold, TigerBeetle style.
//!
//! A broken invariant is a bug in mmm, never bad input. [`check`] stops loudly in debug
//! builds (every test, the lab's daemons) and hands the violation back in release builds,
//! so the caller logs it and refuses the step instead of acting on a state it does not
//! understand. Nothing is ever dropped silently.

/// A broken invariant: what should have held and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invariant violated: {0}")]
pub struct Violation(pub String);

/// Checks one invariant; `what` describes the violation and is only built when it happened.
///
/// Panics in debug builds; returns the violation in release builds.
#[track_caller]
pub fn check(holds: bool, what: impl FnOnce() -> String) -> Result<(), Violation> {
    if holds {
        return Ok(());
    }
    let v = Violation(what());
    if cfg!(debug_assertions) {
        panic!("{v}");
    }
    Err(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holding_invariants_pass() {
        assert_eq!(check(true, || unreachable!()), Ok(()));
    }

    #[test]
    #[should_panic(expected = "invariant violated: two writers")]
    fn broken_invariants_stop_debug_builds() {
        let _ = check(false, || "two writers".to_string());
    }
}
