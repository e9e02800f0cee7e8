//! Every monitor's latest check table as this leader received it, and their quorum merge.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::checks::{CheckTable, MonitorTable, merge_dated};
use crate::time::Timestamp;

use super::io::NodeId;

/// The latest table of each monitor, stamped with the leader's receive time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Book {
    reports: BTreeMap<NodeId, (MonitorTable, Timestamp)>,
}

impl Book {
    /// Keeps `table` as `monitor`'s latest report; true when it is the monitor's first or
    /// says something new: its network verdict or a check's pass/fail differs from its
    /// previous report (a changed message or time alone is nothing new).
    pub(crate) fn record(
        &mut self,
        monitor: NodeId,
        table: MonitorTable,
        received: Timestamp,
    ) -> bool {
        let verdicts = |t: &MonitorTable| {
            let checks = t
                .table
                .hosts
                .iter()
                .map(|(host, checks)| (host.clone(), checks.clone().map(|c| c.map(|c| c.ok))));
            (t.network_ok, checks.collect::<Vec<_>>())
        };
        let new = verdicts(&table);
        let previous = self.reports.insert(monitor, (table, received));
        previous.is_none_or(|(old, _)| verdicts(&old) != new)
    }

    /// How many monitors with a working network reported at or after `since`.
    pub(crate) fn fresh_count(&self, since: Timestamp) -> usize {
        self.reports
            .values()
            .filter(|(t, received)| t.network_ok && *received >= since)
            .count()
    }

    /// The merged table (see [`merge`]); freshness is judged by the leader's receive time,
    /// not by the sender's clock.
    pub(crate) fn merged(
        &self,
        quorum: usize,
        max_age: Duration,
        previous: &CheckTable,
        now: Timestamp,
    ) -> CheckTable {
        let dated = self.reports.values().map(|(t, received)| (t, *received));
        merge_dated(dated, quorum, max_age, previous, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckKind;

    fn table(monitor: &str, ok: bool) -> MonitorTable {
        let mut t = CheckTable::new();
        t.record("db1", CheckKind::Ping, ok, "x", Timestamp::from_secs(90));
        MonitorTable {
            monitor: monitor.into(),
            network_ok: true,
            // A sender's clock far behind: it must not make the report stale.
            observed_at: Timestamp::from_secs(1),
            table: t,
        }
    }

    #[test]
    fn quorum_and_freshness_by_receive_time() {
        let mut b = Book::default();
        let mut prev = CheckTable::new();
        prev.record("db1", CheckKind::Ping, true, "OK", Timestamp::from_secs(1));
        let age = Duration::from_secs(5);
        let now = Timestamp::from_secs(100);
        assert!(
            b.record(1, table("mon1", false), now),
            "a first report is new"
        );
        assert!(b.merged(2, age, &prev, now).ok("db1", CheckKind::Ping));
        assert!(b.record(2, table("mon2", false), now));
        assert!(!b.merged(2, age, &prev, now).ok("db1", CheckKind::Ping));
        assert_eq!(b.fresh_count(now), 2);
        assert_eq!(b.fresh_count(now.plus(Duration::from_millis(1))), 0);
        // The same verdicts again (another message, a later time) are nothing new; a flip is.
        let mut again = table("mon2", false);
        again
            .table
            .record("db1", CheckKind::Ping, false, "y", Timestamp::from_secs(95));
        again.observed_at = Timestamp::from_secs(2);
        assert!(!b.record(2, again, now));
        assert!(b.record(2, table("mon2", true), now));
        let mut netless = table("mon2", true);
        netless.network_ok = false;
        assert!(b.record(2, netless, now));
    }
}
