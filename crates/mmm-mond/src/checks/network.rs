//! The monitor's own network self-check (mysql-mmm's `ping_ip`).
//!
//! Every `ping_interval` the `ping_ips` are pinged in order until one answers. The verdict
//! is published on a watch channel; without network a monitor must neither check hosts
//! nor fail them, because it is the one cut off.

use std::net::IpAddr;
use std::time::Duration;

use mmm_core::config::Config;
use mmm_core::log::LogLine;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::emit::emit;
use super::ping::{FALLBACK_PORT, PING_TIMEOUT, probe};

/// Why no network self-check can be built from the configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkConfigError {
    /// The configuration has no `<monitor>` section.
    #[error("no <monitor> section: the network self-check needs ping_ips")]
    NoMonitorSection,
    /// `ping_ips` is empty.
    #[error("ping_ips is empty: the network self-check needs at least one address")]
    NoPingIps,
}

/// Pings `ping_ips` every `ping_interval` and publishes whether any answered.
#[derive(Debug, Clone)]
pub struct NetworkChecker {
    ping_ips: Vec<IpAddr>,
    interval: Duration,
    timeout: Duration,
}

/// A running self-check: its verdicts, and the task producing them (stopped on drop).
#[derive(Debug)]
pub struct NetworkHandle {
    network_ok: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl NetworkHandle {
    /// A receiver of the verdicts (`false` until the first address answers).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.network_ok.clone()
    }

    /// The latest verdict.
    pub fn is_ok(&self) -> bool {
        *self.network_ok.borrow()
    }

    /// Waits until the network is reachable (mysql-mmm blocks its startup on this).
    pub async fn wait_until_reachable(&self) {
        let mut rx = self.network_ok.clone();
        // An error means the task ended, which only happens when the handle is dropped.
        let _ = rx.wait_for(|ok| *ok).await;
    }
}

impl Drop for NetworkHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NetworkChecker {
    /// A self-check of `ping_ips` (tried in order) every `interval`.
    pub fn new(
        ping_ips: Vec<IpAddr>,
        interval: Duration,
    ) -> Result<NetworkChecker, NetworkConfigError> {
        if ping_ips.is_empty() {
            return Err(NetworkConfigError::NoPingIps);
        }
        Ok(NetworkChecker {
            ping_ips,
            interval,
            timeout: PING_TIMEOUT,
        })
    }

    /// The self-check described by `<monitor> ping_ips` and `ping_interval`.
    pub fn from_config(config: &Config) -> Result<NetworkChecker, NetworkConfigError> {
        let monitor = config
            .monitor
            .as_ref()
            .ok_or(NetworkConfigError::NoMonitorSection)?;
        NetworkChecker::new(monitor.ping_ips.clone(), monitor.ping_interval)
    }

    /// One round: true as soon as one address answers, false when none does.
    pub async fn round(&self) -> bool {
        for &ip in &self.ping_ips {
            if probe(ip, FALLBACK_PORT, self.timeout).await.0 {
                return true;
            }
        }
        false
    }

    /// Starts the self-check loop.
    pub fn spawn(self) -> NetworkHandle {
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(self.run(tx));
        NetworkHandle {
            network_ok: rx,
            task,
        }
    }

    async fn run(self, tx: watch::Sender<bool>) {
        emit(&LogLine::info("Waiting for network connection..."));
        let mut seen_up = false;
        loop {
            let ok = self.round().await;
            let was = *tx.borrow();
            if ok != was || !seen_up {
                for line in transition_lines(was, ok, seen_up) {
                    emit(&line);
                }
            }
            seen_up |= ok;
            tx.send_replace(ok);
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}

/// The log lines for a verdict `now` after `before`; `seen_up` tells whether the network
/// was ever reachable (before that, only the startup line is logged).
fn transition_lines(before: bool, now: bool, seen_up: bool) -> Vec<LogLine> {
    match (seen_up, before, now) {
        (false, _, true) => vec![LogLine::info("Network connection is available.")],
        (false, _, false) => Vec::new(),
        (true, false, true) => vec![LogLine::fatal("Network is reachable")],
        (true, true, false) => vec![LogLine::fatal("Network is unreachable")],
        (true, _, _) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_only_changes_with_mysql_mmm_wording() {
        assert_eq!(
            transition_lines(false, true, false),
            vec![LogLine::info("Network connection is available.")]
        );
        assert!(transition_lines(false, false, false).is_empty());
        assert_eq!(
            transition_lines(true, false, true),
            vec![LogLine::fatal("Network is unreachable")]
        );
        assert_eq!(
            transition_lines(false, true, true),
            vec![LogLine::fatal("Network is reachable")]
        );
        assert!(transition_lines(true, true, true).is_empty());
    }

    #[test]
    fn refuses_an_empty_address_list() {
        assert_eq!(
            NetworkChecker::new(Vec::new(), Duration::from_secs(1)).err(),
            Some(NetworkConfigError::NoPingIps)
        );
    }
}
