//! Sends this monitor's check table to the leader every round (`Peer.ReportObservations`);
//! the leader records its own table directly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::checks::MonitorTable;
use mmm_proto::pb::peer_client::PeerClient;
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::checks::now;
use crate::monitor::Shared;
use crate::observations::to_message;

/// Runs until `stop` turns true.
pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut channel: Option<(String, Channel)> = None;
    let mut tick = tokio::time::interval(shared.timing.report_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
        let view = shared.local.borrow().clone();
        if !view.complete && view.network_ok {
            // Not one full round yet: nothing worth reporting.
            continue;
        }
        let taken = now();
        let me = shared.node.id();
        let Some(leader) = shared.node.leader() else {
            continue;
        };
        if leader.id == me {
            let table = MonitorTable {
                monitor: shared.this.name.clone(),
                network_ok: view.network_ok,
                observed_at: taken,
                table: view.table,
            };
            shared.book.record(me, table, BTreeMap::new());
            continue;
        }
        let Some(addr) = leader.addr else { continue };
        if shared.partition.is_blocked(me, leader.id) {
            continue;
        }
        let ch = match &channel {
            Some((a, ch)) if *a == addr => ch.clone(),
            _ => match connect(&addr, shared.tls.as_ref(), shared.timing.report_timeout) {
                Some(ch) => {
                    channel = Some((addr.clone(), ch.clone()));
                    ch
                }
                None => continue,
            },
        };
        let msg = to_message(me, view.network_ok, taken, &view.table, &BTreeMap::new());
        let mut client = PeerClient::new(ch);
        let sent = tokio::time::timeout(
            shared.timing.report_timeout,
            client.report_observations(msg),
        )
        .await;
        if let Ok(Err(e)) = sent {
            tracing::debug!(leader = leader.id, "observations not delivered: {e}");
        }
    }
}

fn connect(addr: &str, tls: Option<&crate::tls::Tls>, timeout: Duration) -> Option<Channel> {
    crate::tls::lazy_channel(addr, tls, timeout, timeout).ok()
}
