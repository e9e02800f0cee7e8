//! The agent's monotonic clock as [`Mono`] readings, and the process's incarnation.
//!
//! Readings come from `CLOCK_MONOTONIC` (what tokio's `Instant` uses too), so they never jump,
//! count from boot and mean the same to every agent process on this host; the incarnation
//! tells the processes apart.

use mmm_core::agent::Mono;
use tokio::time::Instant;

/// The clock now.
pub fn now() -> Mono {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on every Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let millis = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000;
    Mono::from_millis(secs.saturating_mul(1000).saturating_add(millis))
}

/// The tokio instant of the reading `m` (for sleeping until it).
pub fn instant_of(m: Mono) -> Instant {
    let now_mono = now();
    let now = Instant::now();
    if m >= now_mono {
        now + now_mono.until(m)
    } else {
        now.checked_sub(m.until(now_mono)).unwrap_or(now)
    }
}

/// A random, nonzero number naming this agent process.
pub fn new_incarnation() -> u64 {
    loop {
        let n: u64 = rand::random();
        if n != 0 {
            return n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn readings_advance_and_map_to_instants() {
        let a = now();
        std::thread::sleep(Duration::from_millis(20));
        let b = now();
        assert!(b.as_millis() >= a.as_millis() + 20, "{a:?} {b:?}");
        let later = b.plus(Duration::from_millis(500));
        let i = instant_of(later);
        let d = i.saturating_duration_since(Instant::now());
        assert!(
            d <= Duration::from_millis(500) && d >= Duration::from_millis(450),
            "{d:?}"
        );
        assert_ne!(new_incarnation(), 0);
    }
}
