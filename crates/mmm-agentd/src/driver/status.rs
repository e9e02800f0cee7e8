//! Applying one SetStatus in mysql-mmm's order, with the writer role admitted only under a
//! lease counted from the basis the leader echoed.

use std::time::Duration;

use mmm_core::agent::Mono;
use mmm_core::agent::lease::{LeaseBasis, Refusal};
use mmm_core::agent::plan::{Step, role_changes};
use mmm_core::config::HostMode;
use mmm_core::state::{HostState, RoleIp};
use mmm_proto::{convert, pb};
use tonic::Status;

use super::Driver;
use crate::clock;
use crate::desired::{Desired, StatusCommand, role_list};
use crate::uptime::uptime;
use mmm_daemon::fatal;

/// Reply text of an applied status.
pub const STATUS_APPLIED: &str = "OK: Status applied successfully!";

impl Driver {
    pub(super) async fn set_status(
        &mut self,
        cmd: StatusCommand,
    ) -> Result<pb::SetStatusReply, Status> {
        let now = clock::now();
        self.lease
            .check_basis(cmd.basis.as_ref(), now)
            .map_err(|e| {
                tracing::error!("{e}");
                Status::invalid_argument(e.to_string())
            })?;
        if self.lease.is_due(now) && self.held_writer().is_some() {
            self.lease_expired().await;
        }
        self.accept_epoch(cmd.epoch)?;
        self.adopted = false;
        self.note_leader_contact(now, cmd.status_interval, cmd.lease);
        let lease = cmd.lease.unwrap_or(Duration::ZERO);
        let (mut new, offered) =
            self.admit_writer(cmd.desired, cmd.epoch, cmd.basis.as_ref(), lease, now);
        if let Some(deadline) = offered {
            new = self.cover_with_timer(new, deadline).await;
        }
        let old = std::mem::replace(&mut self.desired, new.clone());
        let mut errors = Vec::new();

        // 1. A slave follows a new active master once it is ONLINE.
        if !self.follow_master(&new, &mut errors).await {
            return Ok(self.after_lease_abort(errors).await);
        }

        // 2. Role changes: removals first, then additions.
        let steps = role_changes(&old.roles, &new.roles, self.writer_role.as_deref());
        log_role_changes(&steps);
        for step in steps {
            let ok = match step {
                Step::RemoveRole { role, writer } => {
                    self.remove_role(&role, writer, &mut errors).await
                }
                Step::AddRole { role, writer } => self.add_role(&role, writer, &mut errors).await,
            };
            if !ok {
                return Ok(self.after_lease_abort(errors).await);
            }
        }

        // 3. ADMIN_OFFLINE stops replication; leaving it starts it again.
        if !self.admin_offline_change(&old, &new, &mut errors).await {
            return Ok(self.after_lease_abort(errors).await);
        }

        // 4. Re-assert what is held.
        if !self.reassert(&mut errors).await {
            return Ok(self.after_lease_abort(errors).await);
        }
        Ok(self.reply(STATUS_APPLIED, errors).await)
    }

    /// The status's roles with its writer role kept only when a lease can cover it, and the
    /// deadline the status offers (started or extended once the server's timer is armed); a
    /// status that cannot grant one leaves a held lease as it is (not renewed) and does not
    /// let a host that does not hold the role take it.
    fn admit_writer(
        &mut self,
        new: Desired,
        epoch: u64,
        basis: Option<&LeaseBasis>,
        lease: Duration,
        now: Mono,
    ) -> (Desired, Option<Mono>) {
        let Some(writer) = new.roles.iter().find(|r| self.is_writer(r)).cloned() else {
            self.note_refusal(None, None);
            return (new, None);
        };
        let held = self.held_writer().as_ref() == Some(&writer);
        if !held && let Some(refusal) = self.promise_refusal(now) {
            return (self.refuse_writer(new, &writer, refusal), None);
        }
        match self.lease.offer(epoch, basis, lease, now) {
            Ok(deadline) => (new, Some(deadline)),
            Err(refusal) => (self.refuse_writer(new, &writer, refusal), None),
        }
    }

    fn refuse_writer(&mut self, mut new: Desired, writer: &RoleIp, refusal: Refusal) -> Desired {
        let held = self.held_writer().as_ref() == Some(writer);
        if !held {
            new.roles.retain(|r| r != writer);
        }
        self.note_refusal(Some(refusal), Some(writer));
        new
    }

    /// Arms the server's timer before the lease starts or moves: a lease the server would not
    /// enforce (when its timer is usable) is not granted.
    async fn cover_with_timer(&mut self, new: Desired, deadline: Mono) -> Desired {
        let Some(writer) = new.roles.iter().find(|r| self.is_writer(r)).cloned() else {
            return new;
        };
        match self.arm_timer(deadline).await {
            Ok(()) => {
                self.lease.extend(deadline);
                self.note_refusal(None, Some(&writer));
                new
            }
            Err(error) => self.refuse_writer(new, &writer, Refusal::ServerTimer { error }),
        }
    }

    /// Remembers why the writer role was not taken or renewed; logs each new reason once.
    fn note_refusal(&mut self, refusal: Option<Refusal>, writer: Option<&RoleIp>) {
        if refusal.as_ref().map(std::mem::discriminant)
            != self.writer_refused.as_ref().map(std::mem::discriminant)
            && let (Some(r), Some(w)) = (&refusal, writer)
        {
            let held = self.held_writer().as_ref() == Some(w);
            let what = if held {
                format!("Lease of role '{w}' not renewed: {r}")
            } else {
                format!("Not taking role '{w}': {r}")
            };
            match r {
                // Routine on the first status from a new leader or after a restart.
                Refusal::NoBasis | Refusal::OtherIncarnation { .. } => tracing::info!("{what}"),
                _ => tracing::warn!("{what}"),
            }
        }
        self.writer_refused = refusal;
    }

    /// Step 1. Returns false when the lease ran out meanwhile.
    async fn follow_master(&mut self, new: &Desired, errors: &mut Vec<String>) -> bool {
        if self.me.mode != HostMode::Slave
            || new.state != HostState::Online
            || new.active_master.is_empty()
            || new.active_master == self.remembered_master
        {
            return true;
        }
        let m = new.active_master.clone();
        // Tried again with every status while it fails: the log says it once until it changes.
        let retry = self.follow_failed.as_ref().is_some_and(|(to, _)| *to == m);
        if !retry {
            tracing::info!("Changing active master to '{m}'");
        }
        match self.guarded(self.db.set_active_master(&m)).await {
            Some(Ok(msg)) => {
                tracing::info!("{msg}");
                self.remembered_master = m;
                self.follow_failed = None;
            }
            Some(Err(e)) => {
                let failure = format!("Failed to change master to '{m}': {e}");
                if self.follow_failed.as_ref().map(|(_, f)| f) != Some(&failure) {
                    fatal!("{failure}");
                }
                errors.push(failure.clone());
                self.follow_failed = Some((m, failure));
            }
            None => return false,
        }
        true
    }

    /// Step 3. Returns false when the lease ran out meanwhile.
    async fn admin_offline_change(
        &mut self,
        old: &Desired,
        new: &Desired,
        errors: &mut Vec<String>,
    ) -> bool {
        let admin_offline = HostState::AdminOffline;
        if new.state == old.state || (new.state != admin_offline && old.state != admin_offline) {
            return true;
        }
        let entering = new.state == admin_offline;
        let r = if entering {
            self.guarded(self.db.stop_slave()).await
        } else {
            self.guarded(self.db.start_slave()).await
        };
        match r {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                let what = if entering { "stop" } else { "start" };
                fatal!("Couldn't {what} slave: {e}");
                errors.push(format!("Couldn't {what} slave: {e}"));
            }
            None => return false,
        }
        true
    }

    async fn after_lease_abort(&mut self, mut errors: Vec<String>) -> pb::SetStatusReply {
        errors.push("lease expired while applying the status".into());
        self.lease_expired().await;
        self.reply(STATUS_APPLIED, errors).await
    }

    pub(super) async fn reply(&self, message: &str, errors: Vec<String>) -> pb::SetStatusReply {
        let writable = matches!(self.db.read_only().await, Ok(false));
        let present = self.present_roles().await;
        pb::SetStatusReply {
            message: message.to_string(),
            epoch: self.epochs.current(),
            writable,
            present: convert::roles_to_wire(&present),
            errors,
            uptime: uptime(),
            report: None,
        }
    }

    async fn present_roles(&self) -> Vec<RoleIp> {
        match self.vips.addresses().await {
            Ok(addrs) => self
                .configured
                .iter()
                .filter(|r| r.ip.is_some_and(|ip| addrs.contains(&ip)))
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// mysql-mmm's log lines for a role change.
fn log_role_changes(steps: &[Step]) {
    if steps.is_empty() {
        return;
    }
    let removed: Vec<RoleIp> = steps
        .iter()
        .filter_map(|s| match s {
            Step::RemoveRole { role, .. } => Some(role.clone()),
            Step::AddRole { .. } => None,
        })
        .collect();
    let added: Vec<RoleIp> = steps
        .iter()
        .filter_map(|s| match s {
            Step::AddRole { role, .. } => Some(role.clone()),
            Step::RemoveRole { .. } => None,
        })
        .collect();
    tracing::info!("We have some new roles added or old rules deleted!");
    tracing::info!("Deleted: {}", role_list(&removed));
    tracing::info!("Added:   {}", role_list(&added));
}
