//! Availability: the longest gap between acknowledged inserts through the writer VIP in each
//! nemesis' window (its start to the next step's start), next to the configured trap period and
//! lease. Reported, never failing.

use crate::check::{Outcome, Verdict};
use crate::history::{History, Phase, Workload, ms};

/// Measures the gaps.
pub fn check(h: &History) -> anyhow::Result<Verdict> {
    let meta = h.meta()?;
    let mut acks: Vec<u64> = h
        .ops
        .iter()
        .filter(|o| o.workload == Workload::Insert && o.acked_write())
        .map(|o| o.end)
        .collect();
    acks.sort_unstable();
    let starts: Vec<_> = h
        .faults
        .iter()
        .filter(|f| f.phase == Phase::Start)
        .collect();
    let mut details = vec![format!(
        "{:<40} {:>10} {:>10} {:>16} {:>8} {:>8}",
        "nemesis", "from ms", "to ms", "longest gap ms", "trap ms", "lease ms"
    )];
    let mut worst = 0;
    let end = h.end();
    for (i, f) in starts.iter().enumerate() {
        let to = starts.get(i + 1).map_or(end, |n| n.at);
        let gap = longest_gap(&acks, f.at, to);
        worst = worst.max(gap);
        details.push(format!(
            "{:<40} {:>10} {:>10} {:>16} {:>8} {:>8}",
            format!("{}. {}", f.step, f.nemesis),
            ms(f.at),
            ms(to),
            ms(gap),
            meta.trap_ms,
            meta.lease_ms
        ));
    }
    Ok(Verdict {
        checker: "availability",
        outcome: Outcome::Info,
        summary: format!(
            "{} acknowledged inserts; longest gap in a fault window {} ms (trap {} ms, lease {} ms)",
            acks.len(),
            ms(worst),
            meta.trap_ms,
            meta.lease_ms
        ),
        violations: Vec::new(),
        details,
    })
}

/// The longest stretch of `[from, to]` without an element of sorted `acks`.
pub fn longest_gap(acks: &[u64], from: u64, to: u64) -> u64 {
    let mut prev = from;
    let mut longest = 0;
    let first = acks.partition_point(|&a| a < from);
    for &a in acks[first..].iter().take_while(|&&a| a <= to) {
        longest = longest.max(a - prev);
        prev = a;
    }
    longest.max(to.saturating_sub(prev))
}

#[cfg(test)]
mod tests {
    use super::longest_gap;

    #[test]
    fn gaps_include_the_window_edges() {
        assert_eq!(longest_gap(&[10, 20, 60], 0, 100), 40);
        assert_eq!(longest_gap(&[10, 20, 60], 15, 62), 40);
        assert_eq!(longest_gap(&[], 5, 50), 45);
        assert_eq!(longest_gap(&[1, 2, 3], 0, 200), 197);
    }
}
