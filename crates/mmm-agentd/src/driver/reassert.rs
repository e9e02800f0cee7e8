//! The periodic re-assertion of held roles, the startup adoption of a writer VIP found on the
//! interface, and CLEAR_BAD_ROLES.

use std::net::IpAddr;
use std::time::Duration;

use mmm_core::agent::plan::{bad_roles, reassert};
use mmm_core::state::RoleIp;
use mmm_proto::pb;
use tonic::Status;

use super::Driver;
use crate::clock;
use mmm_daemon::fatal;

impl Driver {
    /// Periodic re-assertion and retries. Returns false when the lease ran out meanwhile.
    pub(super) async fn reassert(&mut self, errors: &mut Vec<String>) -> bool {
        if self.adopted {
            return true;
        }
        self.retry_deny(errors).await;
        self.retry_removals().await;
        if self.desired.roles.is_empty() {
            return true;
        }
        let present: Vec<IpAddr> = match self.guarded(self.vips.addresses()).await {
            None => {
                self.lease_expired().await;
                return false;
            }
            Some(Ok(a)) => a,
            Some(Err(e)) => {
                errors.push(format!("Could not check if IP is configured: {e}"));
                return true;
            }
        };
        let Some(writable) = self.read_writable().await else {
            self.lease_expired().await;
            return false;
        };
        self.observed_writable = writable;
        if !self.apply_reassert(&present, writable, errors).await {
            self.lease_expired().await;
            return false;
        }
        if !self.reannounce(&present, writable).await {
            self.lease_expired().await;
            return false;
        }
        true
    }

    /// Denies writes again when an earlier deny failed and the writer role is not held.
    async fn retry_deny(&mut self, errors: &mut Vec<String>) {
        if !self.deny_pending || self.held_writer().is_some() {
            return;
        }
        match self.db.deny_write().await {
            Ok(_) => {
                self.deny_pending = false;
                tracing::info!("Denied writes (retry)");
            }
            Err(e) => {
                tracing::debug!(error = %e, "deny writes retry failed");
                errors.push(format!("Couldn't deny writes: {e}"));
            }
        }
    }

    /// Removes again the VIPs an earlier removal left behind (unless held again meanwhile).
    async fn retry_removals(&mut self) {
        let pending: Vec<RoleIp> = self
            .pending_removals
            .iter()
            .filter(|r| !self.desired.roles.iter().any(|h| h.ip == r.ip))
            .cloned()
            .collect();
        self.pending_removals = pending.clone();
        for role in pending {
            let Some(ip) = role.ip else {
                self.pending_removals.retain(|r| r != &role);
                continue;
            };
            if let Ok(()) = self.vips.remove(ip).await {
                self.pending_removals.retain(|r| r.ip != role.ip);
            }
        }
    }

    /// Whether MySQL accepts writes, read only while the writer role is held (`Some(None)`
    /// otherwise or when the read failed); `None` when the lease ran out during the read.
    async fn read_writable(&mut self) -> Option<Option<bool>> {
        if self.held_writer().is_none() {
            return Some(None);
        }
        match self.guarded(self.db.read_only()).await {
            None => None,
            Some(Ok(ro)) => Some(Some(!ro)),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "could not read read_only");
                Some(None)
            }
        }
    }

    /// Applies the re-assertion plan: takes the writer's writes (then its IP), allows writes,
    /// adds missing IPs. False when the lease ran out meanwhile (the caller demotes).
    async fn apply_reassert(
        &mut self,
        present: &[IpAddr],
        writable: Option<bool>,
        errors: &mut Vec<String>,
    ) -> bool {
        let plan = reassert(
            &self.desired.roles,
            present,
            writable,
            self.writer_role.as_deref(),
            self.writer_synced,
        );
        let sync_due = self
            .sync_failed_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if plan.sync_writer && sync_due {
            match self.take_writes(errors).await {
                None => return false,
                Some(true) => {
                    if let Some(w) = self.held_writer()
                        && !self.configure_ip(&w, errors).await
                    {
                        return false;
                    }
                }
                Some(false) => {}
            }
        }
        if plan.allow_write {
            match self
                .guarded(self.db.allow_write(self.epochs.current()))
                .await
            {
                None => return false,
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    fatal!("Couldn't allow writes: {e}");
                    errors.push(format!("Couldn't allow writes: {e}"));
                }
            }
        }
        for role in plan.add_ips {
            if !self.configure_ip(&role, errors).await {
                return false;
            }
        }
        true
    }

    /// Announces every held VIP that was on the interface at this pass again; the writer VIP
    /// only while the server was just read back writable (a host fenced over SQL or by its
    /// timer never announces it). Bounded by a held writer's lease like every other step:
    /// false when it ran out meanwhile (the caller demotes).
    async fn reannounce(&self, present: &[IpAddr], writable: Option<bool>) -> bool {
        for role in &self.desired.roles {
            let Some(ip) = role.ip.filter(|ip| present.contains(ip)) else {
                continue;
            };
            if self.is_writer(role) && writable != Some(true) {
                continue;
            }
            match self.guarded(self.vips.reannounce(ip)).await {
                None => return false,
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    tracing::debug!(%ip, error = %e, "re-announcing a VIP failed");
                }
            }
        }
        true
    }

    /// After a restart the agent does not know its last status. If the writer VIP is on the
    /// interface it may still be the writer, so it holds the role under a short startup lease:
    /// the leader's next status confirms or removes it, and without one the agent demotes itself.
    pub(super) async fn adopt_running_writer(&mut self) {
        let Some(addrs) = self.vips.addresses().await.ok() else {
            return;
        };
        let Some(writer) = self
            .configured
            .iter()
            .find(|r| self.is_writer(r) && r.ip.is_some_and(|ip| addrs.contains(&ip)))
            .cloned()
        else {
            return;
        };
        if let Some((host, until)) = self.failsafe.blocking(clock::now()) {
            tracing::warn!(
                "Found role '{writer}' configured at startup, but this host promised '{host}' (failsafe) to take no writer role for {} ms: not holding it",
                clock::now().until(until).as_millis()
            );
            return;
        }
        let writable = matches!(self.db.read_only().await, Ok(false));
        tracing::warn!(
            "Found role '{writer}' configured at startup; holding it for {:?} until the monitor confirms it",
            self.startup_lease
        );
        self.desired.roles = vec![writer.clone()];
        self.writer_synced = writable;
        self.adopted = true;
        let deadline = clock::now().plus(self.startup_lease);
        self.lease.extend(deadline);
        if let Err(e) = self.arm_timer(deadline).await {
            tracing::warn!("Startup lease of role '{writer}': {e}");
        }
    }

    pub(super) async fn clear_bad_roles(
        &mut self,
        epoch: u64,
    ) -> Result<pb::ClearBadRolesReply, Status> {
        self.accept_epoch(epoch)?;
        let present: Vec<IpAddr> = self.vips.addresses().await.map_err(|e| {
            Status::unavailable(format!("Could not check if IP is configured: {e}"))
        })?;
        let bad = bad_roles(&self.configured, &self.desired.roles, &present);
        let mut errors = Vec::new();
        let mut removed = 0u32;
        for role in &bad {
            let writer = self.is_writer(role);
            self.remove_role(role, writer, &mut errors).await;
            if !self.pending_removals.contains(role) {
                removed += 1;
            }
        }
        if !errors.is_empty() {
            return Err(Status::internal(errors.join("; ")));
        }
        Ok(pb::ClearBadRolesReply {
            message: format!("OK: Removed {removed} roles"),
            removed,
        })
    }
}
