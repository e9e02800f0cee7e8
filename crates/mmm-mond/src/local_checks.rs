//! This monitor's own view of the hosts: raw check results through mysql-mmm's trackers
//! (trap period, UNKNOWN rules, its log lines) into a local check table.
//!
//! The results come from the real checkers ([`CheckRunner`]) or, for tests of the
//! cluster machinery, from any other stream of [`CheckEvent`]s.

use std::collections::BTreeMap;

use mmm_core::checks::{CheckKind, CheckResult, CheckTable, Tracker};
use mmm_core::config::Config;
use mmm_core::time::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::checks::{CheckEvent, emit};
use crate::counters::Counters;

/// What this monitor currently sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalView {
    /// Reported statuses per host and check.
    pub table: CheckTable,
    /// The network self-check verdict.
    pub network_ok: bool,
    /// Every configured host has a status for all four checks.
    pub complete: bool,
    /// When the table last changed or a result arrived.
    pub updated: Timestamp,
    /// How many times a check has been reported failed so far: the reporter sends the table
    /// at once when this grows, instead of at its next period.
    pub failures: u64,
}

impl LocalView {
    /// What receivers are woken for: a check just reported failed, the network verdict, the
    /// first full table. The table itself changes with every result (about 15 a second per
    /// host at the fast profile) and is read where it is used, so a new result alone wakes
    /// nobody.
    fn signals(&self) -> (u64, bool, bool) {
        (self.failures, self.network_ok, self.complete)
    }
}

/// Feeds check events through trackers and publishes the resulting [`LocalView`]; receivers
/// are woken only when [`LocalView::signals`] change, and read the latest table when they
/// need it.
pub struct LocalChecks {
    hosts: Vec<String>,
    trackers: BTreeMap<(String, CheckKind), Tracker>,
    traps: [std::time::Duration; 4],
    view: watch::Sender<LocalView>,
}

impl LocalChecks {
    /// Trackers for every configured host and check.
    pub fn new(config: &Config) -> (LocalChecks, watch::Receiver<LocalView>) {
        let hosts: Vec<String> = config.hosts.iter().map(|h| h.name.clone()).collect();
        let traps = CheckKind::ALL.map(|k| k.config(&config.checks).trap_period);
        let (tx, rx) = watch::channel(LocalView::default());
        (
            LocalChecks {
                hosts,
                trackers: BTreeMap::new(),
                traps,
                view: tx,
            },
            rx,
        )
    }

    /// Handles one raw result: tracker, log lines, table.
    pub fn observe(&mut self, ev: &CheckEvent, network_ok: bool) {
        if !self.hosts.contains(&ev.host) {
            return;
        }
        let tracker = self.trackers.entry((ev.host.clone(), ev.kind)).or_default();
        let result = CheckResult::parse(&ev.line);
        let out = tracker.observe(
            &ev.host,
            ev.kind,
            &result,
            network_ok,
            self.traps[ev.kind.index()],
            ev.at,
        );
        for line in &out.lines {
            emit(line);
        }
        let hosts = &self.hosts;
        self.view.send_if_modified(|v| {
            let before = v.signals();
            if let Some(ok) = out.report {
                v.table
                    .record(&ev.host, ev.kind, ok, &result.message, ev.at);
                v.failures += u64::from(!ok);
            } else if let Some(st) = v
                .table
                .hosts
                .get_mut(&ev.host)
                .and_then(|c| c[ev.kind.index()].as_mut())
            {
                // mysql-mmm always keeps the latest raw line as the message.
                st.message = result.message.clone();
            }
            v.network_ok = network_ok;
            v.complete = hosts.iter().all(|h| v.table.complete(h));
            v.updated = ev.at;
            v.signals() != before
        });
    }

    /// Publishes a new network verdict.
    pub fn set_network(&mut self, ok: bool) {
        self.view.send_if_modified(|v| {
            let changed = v.network_ok != ok;
            v.network_ok = ok;
            changed
        });
    }

    /// Consumes `events` until the channel closes, with the network verdicts of `network`;
    /// each check's duration goes to `counters`.
    pub fn spawn(
        mut self,
        mut events: mpsc::Receiver<CheckEvent>,
        mut network: watch::Receiver<bool>,
        counters: Counters,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    ev = events.recv() => match ev {
                        Some(ev) => {
                            counters.check(&ev.host, ev.kind.as_str(), ev.took);
                            let ok = *network.borrow();
                            self.observe(&ev, ok);
                        }
                        None => return,
                    },
                    changed = network.changed() => {
                        if changed.is_err() {
                            // The self-check ended (shutdown); keep the last verdict.
                            let ok = *network.borrow();
                            self.set_network(ok);
                            network = watch::channel(ok).1;
                            continue;
                        }
                        let ok = *network.borrow();
                        self.set_network(ok);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_results_fill_the_table_and_errors_wait_for_the_trap() {
        let text = "active_master_role writer\n<host default>\nmonitor_user m\nmonitor_password p\nmode slave\n</host>\n<host db1>\nip 127.0.0.1\n</host>\n<role writer>\nmode exclusive\nhosts db1\nips 10.213.7.100\n</role>\n<monitor>\nip 127.0.0.1\npid_path /tmp/x.pid\nbin_path /tmp\nstatus_path /tmp/x.status\nping_ips 127.0.0.1\n</monitor>\n";
        let Ok(cfg) =
            mmm_core::config::load_str(text, "t.conf", mmm_core::config::Program::Monitor)
        else {
            // The loader's own tests cover config errors; this test needs a valid config.
            panic!("test config must load");
        };
        let (mut lc, mut rx) = LocalChecks::new(&cfg);
        let ev = |kind, line: &str, s| CheckEvent {
            host: "db1".into(),
            kind,
            line: line.into(),
            at: Timestamp::from_secs(s),
            took: std::time::Duration::ZERO,
        };
        for k in CheckKind::ALL {
            lc.observe(&ev(k, "OK", 1), true);
        }
        assert!(rx.borrow_and_update().complete);
        lc.observe(&ev(CheckKind::Ping, "OK", 2), true);
        assert!(
            !rx.has_changed().unwrap(),
            "a result that changes no signal wakes nobody"
        );
        assert_eq!(
            rx.borrow().updated,
            Timestamp::from_secs(2),
            "yet it is in the view"
        );
        lc.observe(&ev(CheckKind::Mysql, "ERROR: down", 2), true);
        assert!(rx.borrow().table.ok("db1", CheckKind::Mysql));
        assert_eq!(rx.borrow().failures, 0);
        lc.observe(&ev(CheckKind::Mysql, "ERROR: down", 20), true);
        assert!(rx.has_changed().unwrap(), "a failure wakes the receivers");
        assert!(!rx.borrow_and_update().table.ok("db1", CheckKind::Mysql));
        assert_eq!(rx.borrow().failures, 1, "a flip to failed is counted");
        lc.observe(&ev(CheckKind::Mysql, "ERROR: down", 21), true);
        assert_eq!(rx.borrow().failures, 1, "once");
        // A refused connection fails at once.
        lc.observe(&ev(CheckKind::Mysql, "OK", 22), true);
        let refused = "ERROR: Connect error (host = 127.0.0.1:3306, user = m)! Connection refused (os error 111)";
        lc.observe(&ev(CheckKind::Mysql, refused, 23), true);
        assert!(!rx.borrow().table.ok("db1", CheckKind::Mysql));
        assert_eq!(rx.borrow().failures, 2);
    }
}
