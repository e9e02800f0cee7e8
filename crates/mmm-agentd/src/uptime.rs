//! The host's OS uptime, which every reply carries (the monitor's 60-second rule uses it).

/// Seconds since boot from /proc/uptime, 0 when unreadable.
pub fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}
