//! What the driver reads every second only to publish it: which of the cluster's role IPs are
//! on the interface (replication has a task of its own, `replication`). Failed reads publish
//! "unknown", never a guess.

use std::net::IpAddr;

use super::Driver;

impl Driver {
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
