//! Sends this monitor's check table to the leader every round (`Peer.ReportObservations`),
//! and at once when one of its checks was just reported failed; the leader hands its own
//! table to its driver loop directly.

use std::time::Duration;

use mmm_core::checks::MonitorTable;
use mmm_core::leader::{NodeId, Timing};
use mmm_proto::pb::peer_client::PeerClient;
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::checks::now;
use crate::driver::DriverHandle;
use crate::local_checks::LocalView;
use crate::observations::to_message;
use crate::raft::{Metrics, Partition, known_leader};

/// What the reporter reads and where it sends.
pub struct Reporter {
    /// This monitor's node id.
    pub me: NodeId,
    /// This monitor's name.
    pub name: String,
    /// Timing settings.
    pub timing: Timing,
    /// Raft's metrics (who leads, at which address).
    pub metrics: watch::Receiver<Metrics>,
    /// This monitor's own check view.
    pub local: watch::Receiver<LocalView>,
    /// This monitor's driver loop (for its own table while it leads).
    pub driver: DriverHandle,
    /// Link fault injection shared with the Raft layer.
    pub partition: Partition,
    /// Mutual TLS towards the leader's Peer service, `None` for plain sockets.
    pub tls: Option<crate::tls::Tls>,
}

impl Reporter {
    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut channel: Option<(String, Channel)> = None;
        let mut tick = tokio::time::interval(self.timing.report_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut local = self.local.clone();
        let mut failures = local.borrow().failures;
        let mut local_open = true;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                changed = local.changed(), if local_open => {
                    if changed.is_err() {
                        local_open = false;
                        continue;
                    }
                    let now_failed = local.borrow_and_update().failures;
                    if now_failed == failures {
                        continue;
                    }
                    // A check was just reported failed: the leader hears it now, and the
                    // next periodic send comes a full period later.
                    tick.reset();
                }
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            }
            failures = self.local.borrow().failures;
            self.report(&mut channel).await;
        }
    }

    async fn report(&self, channel: &mut Option<(String, Channel)>) {
        let view = self.local.borrow().clone();
        if !view.complete && view.network_ok {
            // Not one full round yet: nothing worth reporting.
            return;
        }
        let taken = now();
        let me = self.me;
        let Some(leader) = known_leader(&self.metrics.borrow()) else {
            return;
        };
        if leader.id == me {
            let table = MonitorTable {
                monitor: self.name.clone(),
                network_ok: view.network_ok,
                observed_at: taken,
                table: view.table,
            };
            self.driver.observations(me, table).await;
            return;
        }
        let Some(addr) = leader.addr else { return };
        if self.partition.is_blocked(me, leader.id) {
            return;
        }
        let ch = match channel.as_ref() {
            Some((a, ch)) if *a == addr => ch.clone(),
            _ => match connect(&addr, self.tls.as_ref(), self.timing.report_timeout) {
                Some(ch) => {
                    *channel = Some((addr.clone(), ch.clone()));
                    ch
                }
                None => return,
            },
        };
        let msg = to_message(me, view.network_ok, taken, &view.table);
        let mut client = PeerClient::new(ch);
        let sent =
            tokio::time::timeout(self.timing.report_timeout, client.report_observations(msg)).await;
        if let Ok(Err(e)) = sent {
            tracing::debug!(leader = leader.id, "observations not delivered: {e}");
        }
    }
}

fn connect(addr: &str, tls: Option<&crate::tls::Tls>, timeout: Duration) -> Option<Channel> {
    crate::tls::lazy_channel(addr, tls, timeout, timeout).ok()
}
