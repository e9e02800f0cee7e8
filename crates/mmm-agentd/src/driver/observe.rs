//! What the driver reads every second only to publish it: replication as this server sees it
//! (lag for the `?max_lag=` checks, source and threads for `/metrics`) on hosts without the
//! writer role, and which of the cluster's role IPs are on the interface. Failed reads publish
//! "unknown", never a guess.

use std::net::IpAddr;

use mmm_core::state::HostState;

use super::Driver;

/// This server's replication as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// The master it replicates from, `host:port` as the server names it.
    pub source: String,
    /// The IO thread runs (or connects).
    pub io_running: bool,
    /// The SQL thread runs.
    pub sql_running: bool,
}

impl Driver {
    /// Reads the server's replication status while a reader role is held (`/reader`) or the
    /// host is ONLINE without the writer role (`/replica`): the lag those endpoints judge by,
    /// and the source and threads. A host holding the writer role does not read it: a hung
    /// server must not keep its driver from anything the writer has to do.
    pub(super) async fn observe_replication(&mut self) {
        let reader = self.desired.roles.iter().any(|r| !self.is_writer(r));
        let replica = self.desired.state == HostState::Online
            && !self.desired.roles.iter().any(|r| self.is_writer(r));
        if self.held_writer().is_some() || !(reader || replica) {
            self.observed_lag = None;
            self.observed_replication = None;
            return;
        }
        let slave = match self.db.slave_status().await {
            Ok(slave) => slave,
            Err(e) => {
                tracing::debug!(error = %e, "could not read the replication status");
                self.observed_lag = None;
                self.observed_replication = None;
                return;
            }
        };
        self.observed_lag = slave.as_ref().and_then(|s| s.seconds_behind_master);
        self.observed_replication = slave.map(|s| Replication {
            source: format!("{}:{}", s.master_host, s.master_port),
            io_running: s.io_running,
            sql_running: s.sql_running,
        });
    }

    /// Reads which of the cluster's role IPs are on the interface, each IP with whether it is
    /// (`None` when the interface cannot be read); a held writer lease that runs out meanwhile ends the read, and the driver's loop
    /// then drops the role.
    pub(super) async fn observe_vips(&mut self) {
        let Some(read) = self.guarded(self.vips.addresses()).await else {
            return;
        };
        self.observed_vips = match read {
            Ok(present) => Some(
                self.configured
                    .iter()
                    .filter_map(|r| r.ip)
                    .map(|ip| (ip, present.contains(&ip)))
                    .collect::<Vec<(IpAddr, bool)>>(),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "could not read the interface's addresses");
                None
            }
        };
    }
}
