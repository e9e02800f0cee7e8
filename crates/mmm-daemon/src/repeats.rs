//! Logging a failure that repeats (a peer that can't be reached, a client that keeps
//! presenting an unknown certificate) once instead of on every retry: the first failure of a
//! key is logged, repeats are counted and summarised at most once per interval, and the
//! recovery says how long it lasted and how many lines were not written.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys whose last line is older than this many intervals are forgotten when the table is
/// full (keys that fail once and never again, such as scanners' addresses).
const MAX_KEYS: usize = 1024;

/// What to do about one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// The first failure of a streak: log it.
    First,
    /// The interval passed since the last line: log it, saying how many repeats were not
    /// logged in between and since when the key fails.
    Repeat {
        /// Failures not logged since the last line.
        suppressed: u64,
        /// When the streak began.
        since: Instant,
    },
    /// A repeat within the interval: counted, not logged.
    Quiet,
}

/// The end of a streak of failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// From the first failure of the streak to the success.
    pub failed_for: Duration,
    /// Failures that were not logged since the last line.
    pub suppressed: u64,
}

#[derive(Debug, Clone, Copy)]
struct Streak {
    since: Instant,
    logged_at: Instant,
    suppressed: u64,
}

/// Per-key streaks of failures (see the module comment); safe to share between tasks.
#[derive(Debug)]
pub struct Repeats<K> {
    every: Duration,
    streaks: Mutex<HashMap<K, Streak>>,
}

impl<K: Eq + Hash + Clone> Repeats<K> {
    /// Repeats of one key are logged at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Repeats {
            every,
            streaks: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key` at `now` and says whether to log it.
    pub fn failure(&self, key: &K, now: Instant) -> OnFailure {
        let mut streaks = self.lock();
        if streaks.len() >= MAX_KEYS && !streaks.contains_key(key) {
            let stale = self.every * 2;
            streaks.retain(|_, s| now.saturating_duration_since(s.logged_at) < stale);
        }
        match streaks.get_mut(key) {
            None => {
                streaks.insert(
                    key.clone(),
                    Streak {
                        since: now,
                        logged_at: now,
                        suppressed: 0,
                    },
                );
                OnFailure::First
            }
            Some(s) if now.saturating_duration_since(s.logged_at) >= self.every => {
                let suppressed = s.suppressed;
                s.logged_at = now;
                s.suppressed = 0;
                OnFailure::Repeat {
                    suppressed,
                    since: s.since,
                }
            }
            Some(s) => {
                s.suppressed += 1;
                OnFailure::Quiet
            }
        }
    }

    /// Records a success of `key`; returns the streak it ends, if `key` was failing.
    pub fn success(&self, key: &K, now: Instant) -> Option<Recovery> {
        self.lock().remove(key).map(|s| Recovery {
            failed_for: now.saturating_duration_since(s.since),
            suppressed: s.suppressed,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Streak>> {
        self.streaks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// ` (N similar lines not logged)` when `n > 0`, else "".
pub fn suppressed_note(n: u64) -> String {
    match n {
        0 => String::new(),
        1 => " (1 similar line not logged)".to_owned(),
        n => format!(" ({n} similar lines not logged)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_logs_repeats_are_counted_and_summarised_once_per_interval() {
        let r = Repeats::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(r.failure(&"mon2", at(0)), OnFailure::First);
        for ms in [200, 400, 9_000] {
            assert_eq!(r.failure(&"mon2", at(ms)), OnFailure::Quiet);
        }
        assert_eq!(
            r.failure(&"mon3", at(500)),
            OnFailure::First,
            "keys are independent"
        );
        assert_eq!(
            r.failure(&"mon2", at(10_000)),
            OnFailure::Repeat {
                suppressed: 3,
                since: at(0)
            }
        );
        assert_eq!(r.failure(&"mon2", at(10_200)), OnFailure::Quiet);
        assert_eq!(
            r.success(&"mon2", at(12_000)),
            Some(Recovery {
                failed_for: Duration::from_secs(12),
                suppressed: 1
            })
        );
        assert_eq!(r.success(&"mon2", at(12_100)), None, "not failing any more");
        assert_eq!(r.failure(&"mon2", at(12_200)), OnFailure::First);
    }

    #[test]
    fn the_table_forgets_stale_keys_when_full() {
        let r = Repeats::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..MAX_KEYS {
            assert_eq!(r.failure(&i, t0), OnFailure::First);
        }
        let later = t0 + Duration::from_secs(5);
        assert_eq!(r.failure(&MAX_KEYS, later), OnFailure::First);
        assert_eq!(r.lock().len(), 1);
    }

    #[test]
    fn notes_count_lines() {
        assert_eq!(suppressed_note(0), "");
        assert_eq!(suppressed_note(1), " (1 similar line not logged)");
        assert_eq!(suppressed_note(7), " (7 similar lines not logged)");
    }
}
