//! The other hosts' agents, as a writer asks them for failsafe leases: one lazily connected
//! channel each (mutual TLS with `<socket type ssl>`), every call bounded.

use std::time::Duration;

use mmm_core::agent::failsafe::Answer;
use mmm_core::config::Config;
use mmm_daemon::tls::Tls;
use mmm_proto::pb;
use mmm_proto::pb::agent_client::AgentClient;
use tonic::transport::Channel;

/// What a writer asks every peer.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// The writer's host name.
    pub from: &'a str,
    /// Its epoch.
    pub epoch: u64,
    /// The lease it asks for.
    pub lease: Duration,
}

/// Channels to every configured host's agent but this one.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    channels: Vec<(String, Channel)>,
}

impl Peers {
    /// Channels to every host in `cfg` other than `me`; nothing connects until the first ask.
    pub fn new(cfg: &Config, me: &str, tls: Option<&Tls>) -> anyhow::Result<Peers> {
        let bound = Duration::from_secs(1);
        let mut channels = Vec::new();
        for h in cfg.hosts.iter().filter(|h| h.name != me) {
            let addr = std::net::SocketAddr::new(h.ip, h.agent_port).to_string();
            let ch = mmm_daemon::tls::bounded_lazy_channel(&addr, tls, bound, bound)
                .map_err(|e| anyhow::anyhow!("agent address {addr} of host '{}': {e}", h.name))?;
            channels.push((h.name.clone(), ch));
        }
        Ok(Peers { channels })
    }

    /// Asks every peer at once; each answer within `timeout`, in configuration order.
    pub async fn ask_all(&self, ask: Ask<'_>, timeout: Duration) -> Vec<(String, Answer)> {
        let calls = self.channels.iter().map(|(host, ch)| async move {
            (host.clone(), ask_one(ch.clone(), host, ask, timeout).await)
        });
        futures_util::future::join_all(calls).await
    }
}

async fn ask_one(ch: Channel, host: &str, ask: Ask<'_>, timeout: Duration) -> Answer {
    let req = pb::GrantFailsafeRequest {
        host: host.to_string(),
        from: ask.from.to_string(),
        epoch: ask.epoch,
        lease_ms: mmm_core::agent::clock::millis(ask.lease),
    };
    let mut client = AgentClient::new(ch);
    match tokio::time::timeout(timeout, client.grant_failsafe(req)).await {
        Err(_) => Answer::NoAnswer(format!("no answer within {} ms", timeout.as_millis())),
        Ok(Err(status)) => Answer::NoAnswer(format!("{}: {}", status.code(), status.message())),
        Ok(Ok(r)) => {
            let r = r.into_inner();
            if r.granted {
                Answer::Granted(Duration::from_millis(r.lease_ms))
            } else {
                Answer::Refused(r.refused)
            }
        }
    }
}
