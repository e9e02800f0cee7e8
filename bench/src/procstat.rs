//! CPU time and resident memory of a process, from `/proc/<pid>/stat` (utime + stime, in clock
//! ticks) and `/proc/<pid>/status` (`VmRSS`).

use std::time::{Duration, Instant};

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// When it was taken.
    pub at: Instant,
    /// User plus system CPU time so far, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size in KiB.
    pub rss_kib: u64,
}

/// utime + stime from the text of `/proc/<pid>/stat`: fields 14 and 15, counted after the
/// command name in parentheses (which may itself hold spaces and parentheses).
pub fn parse_stat_cpu(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is at index N - 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in KiB from the text of `/proc/<pid>/status`.
pub fn parse_status_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Reads process `pid` now; `None` when it is gone.
pub fn read(pid: u32) -> Option<Reading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Reading {
        at: Instant::now(),
        cpu_ticks: parse_stat_cpu(&stat)?,
        rss_kib: parse_status_rss(&status)?,
    })
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// CPU use between two readings in percent of one core.
pub fn cpu_percent(before: &Reading, after: &Reading, ticks_per_second: u64) -> f64 {
    let wall = after.at.saturating_duration_since(before.at);
    let used = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / ticks_per_second as f64;
    if wall.is_zero() {
        return 0.0;
    }
    used / wall.as_secs_f64() * 100.0
}

/// The resolution of [`cpu_percent`] over `window` (one tick), in percent of a core.
pub fn resolution_percent(window: Duration, ticks_per_second: u64) -> f64 {
    100.0 / (window.as_secs_f64() * ticks_per_second as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_status_are_parsed() {
        let stat = "1234 (mmm mond (x)) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 \
                    100 12345678 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat_cpu(stat), Some(325));
        assert_eq!(parse_stat_cpu("garbage"), None);
        let status = "Name:\tmmm-mond\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n";
        assert_eq!(parse_status_rss(status), Some(12345));
        assert_eq!(parse_status_rss("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_percent_of_one_core() {
        let t0 = Instant::now();
        let a = Reading {
            at: t0,
            cpu_ticks: 100,
            rss_kib: 1,
        };
        let b = Reading {
            at: t0 + Duration::from_secs(10),
            cpu_ticks: 150,
            rss_kib: 1,
        };
        assert!((cpu_percent(&a, &b, 100) - 5.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&a, &a, 100), 0.0);
        assert!((resolution_percent(Duration::from_secs(10), 100) - 0.1).abs() < 1e-9);
    }

    #[test]
    fn this_process_can_be_read() {
        let r = read(std::process::id()).expect("own /proc entry");
        assert!(r.rss_kib > 0);
    }
}
