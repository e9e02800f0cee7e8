//! Adding and removing roles: the writer's MySQL steps (catch up and allow writes, deny writes)
//! around the VIP, and the drop when the lease runs out.

use mmm_core::state::RoleIp;
use tokio::time::Instant;

use super::Driver;
use mmm_daemon::fatal;

impl Driver {
    /// Removes one role. Returns false when the lease ran out meanwhile.
    pub(super) async fn remove_role(
        &mut self,
        role: &RoleIp,
        writer: bool,
        errors: &mut Vec<String>,
    ) -> bool {
        if writer {
            self.writer_synced = false;
            self.observed_writable = None;
            self.lease.release();
            match self.db.deny_write().await {
                Ok(killed) => {
                    self.deny_pending = false;
                    tracing::info!(killed, "Denied writes for role '{role}'");
                    self.disarm_timer().await;
                }
                Err(e) => {
                    self.deny_pending = true;
                    fatal!("Couldn't deny writes: {e}");
                    errors.push(format!("Couldn't deny writes: {e}"));
                }
            }
        }
        self.clear_ip(role, errors).await;
        true
    }

    async fn clear_ip(&mut self, role: &RoleIp, errors: &mut Vec<String>) {
        let Some(ip) = role.ip else {
            return;
        };
        match self.vips.remove(ip).await {
            Ok(()) => self.pending_removals.retain(|r| r.ip != role.ip),
            Err(e) => {
                let msg = format!(
                    "Couldn't clear IP '{ip}' from interface '{}': {e}",
                    self.vips.interface()
                );
                fatal!("{msg}");
                errors.push(msg);
                if !self.pending_removals.contains(role) {
                    self.pending_removals.push(role.clone());
                }
            }
        }
    }

    /// Adds one role. Returns false when the lease ran out meanwhile.
    pub(super) async fn add_role(
        &mut self,
        role: &RoleIp,
        writer: bool,
        errors: &mut Vec<String>,
    ) -> bool {
        self.pending_removals.retain(|r| r.ip != role.ip);
        if writer && !self.writer_synced {
            match self.take_writes(errors).await {
                None => return false,
                Some(false) => return true,
                Some(true) => {}
            }
        }
        self.configure_ip(role, errors).await
    }

    /// Catch up, then allow writes. `Some(true)` when writable, `None` when the lease ran out.
    pub(super) async fn take_writes(&mut self, errors: &mut Vec<String>) -> Option<bool> {
        match self.guarded(self.db.sync_with_master()).await? {
            Ok(msg) => {
                self.sync_failed_at = None;
                tracing::info!("{msg}");
            }
            Err(e) => {
                self.sync_failed_at = Some(Instant::now());
                fatal!("Couldn't sync with master: {e}");
                errors.push(format!("Couldn't sync with master: {e}"));
                return Some(false);
            }
        }
        match self
            .guarded(self.db.allow_write(self.epochs.current()))
            .await?
        {
            Ok(()) => {
                self.writer_synced = true;
                self.observed_writable = Some(true);
                Some(true)
            }
            Err(e) => {
                fatal!("Couldn't allow writes: {e}");
                errors.push(format!("Couldn't allow writes: {e}"));
                Some(false)
            }
        }
    }

    pub(super) async fn configure_ip(&mut self, role: &RoleIp, errors: &mut Vec<String>) -> bool {
        let Some(ip) = role.ip else {
            return true;
        };
        match self.guarded(self.vips.add(ip)).await {
            None => false,
            Some(Ok(())) => true,
            Some(Err(e)) => {
                let msg = format!(
                    "Couldn't configure IP '{ip}' on interface '{}': {e}",
                    self.vips.interface()
                );
                fatal!("{msg}");
                errors.push(msg);
                true
            }
        }
    }

    /// The lease ran out: drop the writer role by ourselves. The VIP removal runs concurrently
    /// with denying writes so a hung MySQL cannot delay it.
    pub(super) async fn lease_expired(&mut self) {
        let Some(writer) = self.held_writer() else {
            return;
        };
        fatal!("Lease expired: dropping role '{writer}'");
        self.end_failsafe("the writer lease ran out");
        self.lease.ran_out(self.epochs.current());
        self.drop_writer_now(&writer, "lease expiry").await;
    }

    /// The process is stopping (SIGTERM): nobody would count a writer lease any more, so a
    /// held writer role is given up here (VIP removed, read_only=1). When MySQL does not answer,
    /// the server's own lease timer fences it at the lease deadline, if one is armed.
    pub(super) async fn stop(&mut self) {
        let Some(writer) = self.held_writer() else {
            return;
        };
        tracing::warn!("Stopping: dropping role '{writer}' before exit");
        let armed = self.timer_armed(crate::clock::now());
        if !self.drop_writer_now(&writer, "stop").await {
            if armed {
                tracing::warn!(
                    "Couldn't deny writes before exit; the server's lease timer sets read_only=1 at the lease deadline"
                );
            } else {
                fatal!(
                    "Couldn't deny writes before exit and no server lease timer is armed: this host may stay writable"
                );
            }
        }
    }

    /// Removes the writer VIP and denies writes concurrently, so a hung MySQL cannot delay the
    /// VIP; each result is logged as it arrives. True when writes were denied.
    async fn drop_writer_now(&mut self, writer: &RoleIp, why: &str) -> bool {
        self.adopted = false;
        self.desired.roles.retain(|r| r != writer);
        self.writer_synced = false;
        self.observed_writable = None;
        self.publish();
        let vips = self.vips.clone();
        let db = self.db.clone();
        let ip = writer.ip;
        // The VIP goes at once even when MySQL hangs; each result is logged as it arrives.
        let vip_fut = async {
            let Some(ip) = ip else {
                return true;
            };
            let r = vips.remove(ip).await;
            match &r {
                Ok(()) => tracing::info!("Removed IP '{ip}' after {why}"),
                Err(e) => fatal!(
                    "Couldn't clear IP '{ip}' from interface '{}': {e}",
                    vips.interface()
                ),
            }
            r.is_ok()
        };
        let db_fut = async {
            let r = db.deny_write().await;
            match &r {
                Ok(killed) => tracing::info!(killed, "Denied writes after {why}"),
                Err(e) => fatal!("Couldn't deny writes: {e}"),
            }
            r.is_ok()
        };
        let (vip_ok, db_ok) = tokio::join!(vip_fut, db_fut);
        if !vip_ok && !self.pending_removals.contains(writer) {
            self.pending_removals.push(writer.clone());
        }
        self.deny_pending = !db_ok;
        db_ok
    }
}
