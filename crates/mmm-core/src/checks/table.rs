//! Check tables (one monitor's view of every host's checks) and their quorum merge; the rule
//! is in the parent module's overview.

use std::collections::BTreeMap;
use std::time::Duration;

use super::CheckKind;
use crate::time::Timestamp;

/// One check's status in a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckStatus {
    /// Passing.
    pub ok: bool,
    /// When `ok` last flipped.
    pub last_change: Timestamp,
    /// Latest reported raw line.
    pub message: String,
}

/// Statuses of the four checks of one host, indexed by [`CheckKind::index`].
pub type HostChecks = [Option<CheckStatus>; 4];

/// host → statuses of its four checks (a missing entry means "not known yet").
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckTable {
    /// The statuses by host name.
    pub hosts: BTreeMap<String, HostChecks>,
}

impl CheckTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The status of one check, if known.
    pub fn get(&self, host: &str, check: CheckKind) -> Option<&CheckStatus> {
        self.hosts.get(host).and_then(|c| c[check.index()].as_ref())
    }

    /// Whether the check is known and passing.
    pub fn ok(&self, host: &str, check: CheckKind) -> bool {
        self.get(host, check).is_some_and(|c| c.ok)
    }

    /// Whether all four checks of `host` are known.
    pub fn complete(&self, host: &str) -> bool {
        self.hosts
            .get(host)
            .is_some_and(|c| c.iter().all(Option::is_some))
    }

    /// Records a reported status: the message always, `last_change` only when `ok` flips.
    pub fn record(
        &mut self,
        host: &str,
        check: CheckKind,
        ok: bool,
        message: &str,
        now: Timestamp,
    ) {
        let slot = &mut self.hosts.entry(host.to_string()).or_default()[check.index()];
        match slot {
            Some(st) => {
                if st.ok != ok {
                    st.ok = ok;
                    st.last_change = now;
                }
                st.message = message.to_string();
            }
            None => {
                *slot = Some(CheckStatus {
                    ok,
                    last_change: now,
                    message: message.to_string(),
                });
            }
        }
    }

    /// Most recent `last_change` over the host's known checks.
    pub fn last_change(&self, host: &str) -> Option<Timestamp> {
        self.hosts
            .get(host)?
            .iter()
            .flatten()
            .map(|c| c.last_change)
            .max()
    }
}

/// One monitor's check table as sent to the leader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MonitorTable {
    /// Monitor node name.
    pub monitor: String,
    /// Its own network self-check.
    pub network_ok: bool,
    /// When the table was last updated by a full round.
    pub observed_at: Timestamp,
    /// Its statuses.
    pub table: CheckTable,
}

/// Merges monitors' tables with a quorum (see the module docs for the exact rule).
pub fn merge(
    tables: &[MonitorTable],
    quorum: usize,
    max_age: Duration,
    previous: &CheckTable,
    now: Timestamp,
) -> CheckTable {
    let dated = tables.iter().map(|t| (t, t.observed_at));
    merge_dated(dated, quorum, max_age, previous, now)
}

/// [`merge`] with each table's age judged by the time given next to it instead of its own
/// `observed_at` (the leader's receive time), without copying the tables.
pub fn merge_dated<'a>(
    tables: impl IntoIterator<Item = (&'a MonitorTable, Timestamp)>,
    quorum: usize,
    max_age: Duration,
    previous: &CheckTable,
    now: Timestamp,
) -> CheckTable {
    let quorum = quorum.max(1);
    let fresh: Vec<&MonitorTable> = tables
        .into_iter()
        .filter(|(t, at)| t.network_ok && now.since(*at) <= max_age)
        .map(|(t, _)| t)
        .collect();
    let mut hosts: Vec<&String> = previous.hosts.keys().collect();
    for t in &fresh {
        hosts.extend(t.table.hosts.keys());
    }
    hosts.sort();
    hosts.dedup();
    let mut out = CheckTable::new();
    for host in hosts {
        for check in CheckKind::ALL {
            let reports: Vec<&CheckStatus> = fresh
                .iter()
                .filter_map(|t| t.table.get(host, check))
                .collect();
            let failed: Vec<&&CheckStatus> = reports.iter().filter(|c| !c.ok).collect();
            let prev = previous.get(host, check);
            let decided = if failed.len() >= quorum {
                Some((false, failed[0].message.clone()))
            } else if reports.len() >= quorum {
                let ok = reports.iter().find(|c| c.ok).map(|c| c.message.clone());
                Some((true, ok.unwrap_or_default()))
            } else {
                None
            };
            match (decided, prev) {
                (Some((ok, msg)), Some(p)) => {
                    let last_change = if p.ok == ok { p.last_change } else { now };
                    let slot = &mut out.hosts.entry(host.clone()).or_default()[check.index()];
                    *slot = Some(CheckStatus {
                        ok,
                        last_change,
                        message: msg,
                    });
                }
                (Some((ok, msg)), None) => {
                    let slot = &mut out.hosts.entry(host.clone()).or_default()[check.index()];
                    *slot = Some(CheckStatus {
                        ok,
                        last_change: now,
                        message: msg,
                    });
                }
                (None, Some(p)) => {
                    out.hosts.entry(host.clone()).or_default()[check.index()] = Some(p.clone());
                }
                (None, None) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn table(name: &str, net: bool, at: u64, ok: bool) -> MonitorTable {
        let mut tb = CheckTable::new();
        tb.record(
            "db1",
            CheckKind::Ping,
            ok,
            if ok { "OK" } else { "ERROR: x" },
            t(at),
        );
        MonitorTable {
            monitor: name.into(),
            network_ok: net,
            observed_at: t(at),
            table: tb,
        }
    }

    #[test]
    fn one_cut_off_monitor_cannot_fail_a_host() {
        let age = Duration::from_secs(5);
        let mut prev = CheckTable::new();
        prev.record("db1", CheckKind::Ping, true, "OK", t(0));
        let tables = [
            table("m1", true, 10, false),
            table("m2", true, 10, true),
            table("m3", true, 10, true),
        ];
        let m = merge(&tables, 2, age, &prev, t(10));
        assert!(m.ok("db1", CheckKind::Ping));
        // Two of three see it failed: failed.
        let tables = [
            table("m1", true, 10, false),
            table("m2", true, 10, false),
            table("m3", true, 10, true),
        ];
        let m = merge(&tables, 2, age, &prev, t(10));
        assert!(!m.ok("db1", CheckKind::Ping));
        assert_eq!(m.get("db1", CheckKind::Ping).unwrap().last_change, t(10));
    }

    #[test]
    fn stale_or_netless_tables_keep_previous_status() {
        let age = Duration::from_secs(5);
        let mut prev = CheckTable::new();
        prev.record("db1", CheckKind::Ping, true, "OK", t(0));
        // m1 says failed and is fresh, m2 has no network, m3 is stale: too few fresh tables.
        let tables = [
            table("m1", true, 10, false),
            table("m2", false, 10, false),
            table("m3", true, 1, false),
        ];
        let m = merge(&tables, 2, age, &prev, t(10));
        assert_eq!(
            m.get("db1", CheckKind::Ping),
            prev.get("db1", CheckKind::Ping)
        );
        // A new leader (no previous table) learns nothing from a single fresh table.
        let m = merge(&tables, 2, age, &CheckTable::new(), t(10));
        assert_eq!(m.get("db1", CheckKind::Ping), None);
        assert!(!m.complete("db1"));
    }
}
