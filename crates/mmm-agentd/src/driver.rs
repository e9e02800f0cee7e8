//! The one task that owns the system: it applies statuses, re-asserts held roles every
//! second, retries what failed, and drops the writer role itself when the lease runs out.
//! gRPC handlers talk to it through a channel.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::agent::epoch::{EpochStep, check_epoch};
use mmm_core::agent::plan::{Step, bad_roles, reassert, role_changes};
use mmm_core::config::{Config, HostConfig, HostMode};
use mmm_core::state::{HostState, RoleIp};
use mmm_proto::{convert, pb};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tonic::Status;

use crate::db::Db;
use crate::desired::{Desired, StatusCommand, role_list};
use crate::epoch::EpochStore;
use crate::uptime::uptime;
use crate::vip::Vips;
use mmm_daemon::fatal;

/// A request for the driver, answered through its oneshot.
#[derive(Debug)]
pub enum Request {
    /// Apply a validated status.
    SetStatus {
        /// The status.
        cmd: StatusCommand,
        /// Where the reply goes.
        reply: oneshot::Sender<Result<pb::SetStatusReply, Status>>,
    },
    /// Remove role IPs present but not held.
    ClearBadRoles {
        /// Fencing epoch of the sender.
        epoch: u64,
        /// Where the reply goes.
        reply: oneshot::Sender<Result<pb::ClearBadRolesReply, Status>>,
    },
}

/// What the driver publishes for GetStatus.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Last accepted status (minus a writer role dropped on lease expiry).
    pub desired: Desired,
    /// Highest accepted epoch.
    pub epoch: u64,
    /// When the lease runs out, if one runs.
    pub lease_deadline: Option<Instant>,
}

/// The driver's state.
pub struct Driver {
    me: HostConfig,
    writer_role: Option<String>,
    configured: Vec<RoleIp>,
    db: Db,
    vips: Vips,
    epochs: EpochStore,
    desired: Desired,
    lease_deadline: Option<Instant>,
    writer_synced: bool,
    /// When the last catch-up attempt failed; re-tries wait a second after it.
    sync_failed_at: Option<Instant>,
    deny_pending: bool,
    pending_removals: Vec<RoleIp>,
    remembered_master: String,
    /// Set at startup when the writer VIP was found on the interface: the role is held only
    /// until the startup lease runs out or the first status arrives; nothing is re-asserted.
    adopted: bool,
    startup_lease: Duration,
    snapshot: watch::Sender<Snapshot>,
    rx: mpsc::Receiver<Request>,
}

/// Reply text of an applied status.
pub const STATUS_APPLIED: &str = "OK: Status applied successfully!";

impl Driver {
    /// Builds the driver and the channels the service uses.
    pub fn new(
        cfg: &Arc<Config>,
        me: HostConfig,
        db: Db,
        vips: Vips,
        epochs: EpochStore,
        startup_lease: Duration,
    ) -> (Driver, mpsc::Sender<Request>, watch::Receiver<Snapshot>) {
        let (tx, rx) = mpsc::channel(32);
        let (snap_tx, snap_rx) = watch::channel(Snapshot {
            desired: Desired::default(),
            epoch: epochs.current(),
            lease_deadline: None,
        });
        let configured = cfg
            .roles
            .iter()
            .flat_map(|r| r.ips.iter().map(|ip| RoleIp::new(r.name.clone(), *ip)))
            .collect();
        let driver = Driver {
            me,
            writer_role: cfg.active_master_role.clone(),
            configured,
            db,
            vips,
            epochs,
            desired: Desired::default(),
            lease_deadline: None,
            writer_synced: false,
            sync_failed_at: None,
            deny_pending: false,
            pending_removals: Vec::new(),
            remembered_master: String::new(),
            adopted: false,
            startup_lease,
            snapshot: snap_tx,
            rx,
        };
        (driver, tx, snap_rx)
    }

    fn is_writer(&self, r: &RoleIp) -> bool {
        Some(r.role.as_str()) == self.writer_role.as_deref()
    }

    fn held_writer(&self) -> Option<RoleIp> {
        self.desired
            .roles
            .iter()
            .find(|r| self.is_writer(r))
            .cloned()
    }

    /// The instant the lease forces a demotion, when the writer role is held.
    fn writer_deadline(&self) -> Option<Instant> {
        self.held_writer().and(self.lease_deadline)
    }

    /// Runs `fut` unless the lease of a held writer runs out first (then `None`).
    async fn guarded<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        match self.writer_deadline() {
            None => Some(fut.await),
            Some(deadline) => tokio::select! {
                r = fut => Some(r),
                _ = tokio::time::sleep_until(deadline) => None,
            },
        }
    }

    fn publish(&self) {
        self.snapshot.send_replace(Snapshot {
            desired: self.desired.clone(),
            epoch: self.epochs.current(),
            lease_deadline: self.lease_deadline,
        });
    }

    /// Runs until every sender is gone.
    pub async fn run(mut self) {
        self.adopt_running_writer().await;
        self.publish();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.writer_deadline();
            tokio::select! {
                biased;
                _ = sleep_opt(deadline) => self.lease_expired().await,
                req = self.rx.recv() => match req {
                    None => break,
                    Some(req) => self.handle(req).await,
                },
                _ = tick.tick() => {
                    let mut errors = Vec::new();
                    self.reassert(&mut errors).await;
                }
            }
            self.publish();
        }
    }

    async fn handle(&mut self, req: Request) {
        match req {
            Request::SetStatus { cmd, reply } => {
                let r = self.set_status(cmd).await;
                self.publish();
                let _ = reply.send(r);
            }
            Request::ClearBadRoles { epoch, reply } => {
                let r = self.clear_bad_roles(epoch).await;
                self.publish();
                let _ = reply.send(r);
            }
        }
    }

    /// Refuses a lower epoch; persists a higher one before anything else happens.
    fn accept_epoch(&mut self, epoch: u64) -> Result<(), Status> {
        let stored = self.epochs.current();
        match check_epoch(stored, epoch) {
            Err(stale) => {
                tracing::warn!(
                    "Refusing command with stale epoch {epoch} (stored epoch is {stored})"
                );
                return Err(Status::failed_precondition(stale.to_string()));
            }
            Ok(EpochStep::Same) => return Ok(()),
            Ok(EpochStep::Raise) => {}
        }
        self.epochs.raise(epoch).map_err(|e| {
            fatal!("Couldn't store epoch {epoch}: {e}");
            Status::internal(format!("could not persist epoch {epoch}: {e}"))
        })
    }

    async fn set_status(&mut self, cmd: StatusCommand) -> Result<pb::SetStatusReply, Status> {
        self.accept_epoch(cmd.epoch)?;
        self.adopted = false;
        self.lease_deadline = cmd.lease.map(|l| Instant::now() + l);
        let new = cmd.desired;
        let old = std::mem::replace(&mut self.desired, new.clone());
        let mut errors = Vec::new();

        // 1. A slave follows a new active master once it is ONLINE.
        if self.me.mode == HostMode::Slave
            && new.state == HostState::Online
            && !new.active_master.is_empty()
            && new.active_master != self.remembered_master
        {
            let m = new.active_master.clone();
            tracing::info!("Changing active master to '{m}'");
            match self.guarded(self.db.set_active_master(&m)).await {
                Some(Ok(msg)) => {
                    tracing::info!("{msg}");
                    self.remembered_master = m;
                }
                Some(Err(e)) => {
                    fatal!("Failed to change master to '{m}': {e}");
                    errors.push(format!("Failed to change master to '{m}': {e}"));
                }
                None => return Ok(self.after_lease_abort(errors).await),
            }
        }

        // 2. RoleIp changes: removals first, then additions.
        let steps = role_changes(&old.roles, &new.roles, self.writer_role.as_deref());
        if !steps.is_empty() {
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
        let admin_offline = HostState::AdminOffline;
        if new.state != old.state && (new.state == admin_offline || old.state == admin_offline) {
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
                None => return Ok(self.after_lease_abort(errors).await),
            }
        }

        // 4. Re-assert what is held.
        if !self.reassert(&mut errors).await {
            return Ok(self.after_lease_abort(errors).await);
        }
        Ok(self.reply(STATUS_APPLIED, errors).await)
    }

    async fn after_lease_abort(&mut self, mut errors: Vec<String>) -> pb::SetStatusReply {
        errors.push("lease expired while applying the status".into());
        self.lease_expired().await;
        self.reply(STATUS_APPLIED, errors).await
    }

    async fn reply(&self, message: &str, errors: Vec<String>) -> pb::SetStatusReply {
        let writable = matches!(self.db.read_only().await, Ok(false));
        let present = self.present_roles().await;
        pb::SetStatusReply {
            message: message.to_string(),
            epoch: self.epochs.current(),
            writable,
            present: convert::roles_to_wire(&present),
            errors,
            uptime: uptime(),
        }
    }

    async fn present_roles(&self) -> Vec<RoleIp> {
        match self.vips.addresses().await {
            Ok(addrs) => self
                .configured
                .iter()
                .filter(|r| addrs.contains(&r.ip))
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Removes one role. Returns false when the lease ran out meanwhile.
    async fn remove_role(&mut self, role: &RoleIp, writer: bool, errors: &mut Vec<String>) -> bool {
        if writer {
            self.writer_synced = false;
            match self.db.deny_write().await {
                Ok(killed) => {
                    self.deny_pending = false;
                    tracing::info!(killed, "Denied writes for role '{role}'");
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
        match self.vips.remove(role.ip).await {
            Ok(()) => self.pending_removals.retain(|r| r.ip != role.ip),
            Err(e) => {
                let msg = format!(
                    "Couldn't clear IP '{}' from interface '{}': {e}",
                    role.ip,
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
    async fn add_role(&mut self, role: &RoleIp, writer: bool, errors: &mut Vec<String>) -> bool {
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
    async fn take_writes(&mut self, errors: &mut Vec<String>) -> Option<bool> {
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
        match self.guarded(self.db.allow_write()).await? {
            Ok(()) => {
                self.writer_synced = true;
                Some(true)
            }
            Err(e) => {
                fatal!("Couldn't allow writes: {e}");
                errors.push(format!("Couldn't allow writes: {e}"));
                Some(false)
            }
        }
    }

    async fn configure_ip(&mut self, role: &RoleIp, errors: &mut Vec<String>) -> bool {
        match self.guarded(self.vips.add(role.ip)).await {
            None => false,
            Some(Ok(())) => true,
            Some(Err(e)) => {
                let msg = format!(
                    "Couldn't configure IP '{}' on interface '{}': {e}",
                    role.ip,
                    self.vips.interface()
                );
                fatal!("{msg}");
                errors.push(msg);
                true
            }
        }
    }

    /// Periodic re-assertion and retries. Returns false when the lease ran out meanwhile.
    async fn reassert(&mut self, errors: &mut Vec<String>) -> bool {
        if self.adopted {
            return true;
        }
        if self.deny_pending && self.held_writer().is_none() {
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
        let pending: Vec<RoleIp> = self
            .pending_removals
            .iter()
            .filter(|r| !self.desired.roles.iter().any(|h| h.ip == r.ip))
            .cloned()
            .collect();
        self.pending_removals = pending.clone();
        for role in pending {
            if let Ok(()) = self.vips.remove(role.ip).await {
                self.pending_removals.retain(|r| r.ip != role.ip);
            }
        }
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
        let writable = if self.held_writer().is_some() {
            match self.guarded(self.db.read_only()).await {
                None => {
                    self.lease_expired().await;
                    return false;
                }
                Some(Ok(ro)) => Some(!ro),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "could not read read_only");
                    None
                }
            }
        } else {
            None
        };
        let plan = reassert(
            &self.desired.roles,
            &present,
            writable,
            self.writer_role.as_deref(),
            self.writer_synced,
        );
        let sync_due = self
            .sync_failed_at
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if plan.sync_writer && sync_due {
            match self.take_writes(errors).await {
                None => {
                    self.lease_expired().await;
                    return false;
                }
                Some(true) => {
                    if let Some(w) = self.held_writer()
                        && !self.configure_ip(&w, errors).await
                    {
                        self.lease_expired().await;
                        return false;
                    }
                }
                Some(false) => {}
            }
        }
        if plan.allow_write {
            match self.guarded(self.db.allow_write()).await {
                None => {
                    self.lease_expired().await;
                    return false;
                }
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    fatal!("Couldn't allow writes: {e}");
                    errors.push(format!("Couldn't allow writes: {e}"));
                }
            }
        }
        for role in plan.add_ips {
            if !self.configure_ip(&role, errors).await {
                self.lease_expired().await;
                return false;
            }
        }
        true
    }

    /// After a restart the agent does not know its last status. If the writer VIP is on the
    /// interface it may still be the writer, so it holds the role under a short startup lease:
    /// the leader's next status confirms or removes it, and without one the agent demotes itself.
    async fn adopt_running_writer(&mut self) {
        let Some(addrs) = self.vips.addresses().await.ok() else {
            return;
        };
        let Some(writer) = self
            .configured
            .iter()
            .find(|r| self.is_writer(r) && addrs.contains(&r.ip))
            .cloned()
        else {
            return;
        };
        let writable = matches!(self.db.read_only().await, Ok(false));
        tracing::warn!(
            "Found role '{writer}' configured at startup; holding it for {:?} until the monitor confirms it",
            self.startup_lease
        );
        self.desired.roles = vec![writer];
        self.writer_synced = writable;
        self.adopted = true;
        self.lease_deadline = Some(Instant::now() + self.startup_lease);
    }

    /// The lease ran out: drop the writer role by ourselves. The VIP removal runs concurrently
    /// with denying writes so a hung MySQL cannot delay it.
    async fn lease_expired(&mut self) {
        let Some(writer) = self.held_writer() else {
            return;
        };
        fatal!("Lease expired: dropping role '{writer}'");
        self.adopted = false;
        self.desired.roles.retain(|r| r != &writer);
        self.writer_synced = false;
        self.publish();
        let vips = self.vips.clone();
        let db = self.db.clone();
        let ip = writer.ip;
        // The VIP goes at once even when MySQL hangs; each result is logged as it arrives.
        let vip_fut = async {
            let r = vips.remove(ip).await;
            match &r {
                Ok(()) => tracing::info!("Removed IP '{ip}' after lease expiry"),
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
                Ok(killed) => tracing::info!(killed, "Denied writes after lease expiry"),
                Err(e) => fatal!("Couldn't deny writes: {e}"),
            }
            r.is_ok()
        };
        let (vip_ok, db_ok) = tokio::join!(vip_fut, db_fut);
        if !vip_ok && !self.pending_removals.contains(&writer) {
            self.pending_removals.push(writer.clone());
        }
        self.deny_pending = !db_ok;
    }

    async fn clear_bad_roles(&mut self, epoch: u64) -> Result<pb::ClearBadRolesReply, Status> {
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

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
