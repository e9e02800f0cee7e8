//! Readings of an agent's monotonic clock as plain numbers.

use std::time::Duration;

/// Milliseconds on one host's monotonic clock (on Linux `CLOCK_MONOTONIC`: it never jumps and
/// counts from boot). A reading means nothing on another host; the leader only echoes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mono(u64);

impl Mono {
    /// The reading `ms` milliseconds after the clock's origin.
    pub const fn from_millis(ms: u64) -> Mono {
        Mono(ms)
    }

    /// Milliseconds since the clock's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at the far future.
    pub fn plus(self, d: Duration) -> Mono {
        Mono(self.0.saturating_add(millis(d)))
    }

    /// Time from `self` to `later`, zero when `later` is not later.
    pub fn until(self, later: Mono) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }
}

/// Whole milliseconds of `d`, saturating (a lease is never longer than `u64::MAX` ms).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Mono::from_millis(1000);
        assert_eq!(t.plus(Duration::from_millis(500)), Mono::from_millis(1500));
        assert_eq!(t.until(Mono::from_millis(1200)), Duration::from_millis(200));
        assert_eq!(t.until(Mono::from_millis(10)), Duration::ZERO);
        assert_eq!(
            Mono::from_millis(u64::MAX).plus(Duration::from_secs(1)),
            Mono::from_millis(u64::MAX)
        );
    }
}
