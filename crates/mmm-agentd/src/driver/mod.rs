//! The one task that owns the system: it applies statuses, re-asserts held roles every
//! second, retries what failed, and drops the writer role itself when the lease runs out.
//! gRPC handlers talk to it through a channel.
//!
//! The rules come from `mmm_core::agent`; this module does the I/O in their order:
//! `status` applies a SetStatus, `roles` adds and removes roles (the writer with its MySQL
//! steps), `reassert` runs every second and at startup.

mod failsafe;
mod observe;
mod reassert;
mod replication;

pub use failsafe::FailsafeParts;
mod roles;
mod status;
mod timer;

pub use replication::Replication;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::agent::Mono;
use mmm_core::agent::epoch::{EpochStep, check_epoch};
use mmm_core::agent::failsafe::Answer;
use mmm_core::agent::lease::{Refusal, WriterLease};
use mmm_core::config::{Config, HostConfig};
use mmm_core::state::RoleIp;
use mmm_proto::pb;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tonic::Status;

use crate::clock;
use crate::db::Db;
use crate::desired::{Desired, GrantCommand, StatusCommand};
use crate::epoch::EpochStore;
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
    /// A writer's failsafe request (this host is a peer).
    GrantFailsafe {
        /// The validated request.
        ask: GrantCommand,
        /// Where the reply goes.
        reply: oneshot::Sender<Result<pb::GrantFailsafeReply, Status>>,
    },
    /// The answers to a failsafe round this driver sent.
    FailsafeAnswers {
        /// When the round was sent (before any peer counted its promise).
        sent_at: Mono,
        /// The epoch it asked at.
        epoch: u64,
        /// Every peer's answer.
        answers: Vec<(String, Answer)>,
    },
    /// Remove role IPs present but not held.
    ClearBadRoles {
        /// Fencing epoch of the sender.
        epoch: u64,
        /// Where the reply goes.
        reply: oneshot::Sender<Result<pb::ClearBadRolesReply, Status>>,
    },
}

/// What the driver publishes for GetStatus, Ping and every reply's report.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Last accepted status (minus a writer role dropped or not taken).
    pub desired: Desired,
    /// Highest accepted epoch.
    pub epoch: u64,
    /// This process's incarnation.
    pub incarnation: u64,
    /// When the writer lease runs out, if one runs.
    pub lease_deadline: Option<Mono>,
    /// Highest epoch at which a writer lease ran out.
    pub ran_out_epoch: Option<u64>,
    /// Why the last status's writer role was not taken or renewed.
    pub writer_refused: Option<String>,
    /// Until when the server's own lease timer is armed (only while it can fire).
    pub timer_armed_until: Option<Mono>,
    /// The server timer's state as the report names it.
    pub timer: String,
    /// The writer role was taken: caught up and `read_only=0` set since it was granted.
    pub writer_synced: bool,
    /// `read_only=0` as the driver last read it while holding the writer role (`None`: not
    /// read since, or the read failed).
    pub writable: Option<bool>,
    /// Seconds_Behind_Master as last read (`None`: no replication, NULL, or no fresh
    /// reading).
    pub lag: Option<u64>,
    /// This server's replication as last read, on every host, the writer included (`None`:
    /// not a slave, or no fresh reading).
    pub replication: Option<Replication>,
    /// Every role IP of the cluster with whether the last read found it on this host's
    /// interface (`None`: not read), so `/metrics` shows the absent ones too.
    pub vips_present: Option<Vec<(std::net::IpAddr, bool)>>,
    /// Until when the writer lease runs on failsafe grants (`None`: not in failsafe).
    pub failsafe_until: Option<Mono>,
    /// The failsafe promise that keeps this host from the writer role: to whom, until when.
    pub promise: Option<(String, Mono)>,
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
    lease: WriterLease,
    writer_refused: Option<Refusal>,
    timer: timer::TimerState,
    timer_armed_until: Option<Mono>,
    writer_synced: bool,
    /// What [`Snapshot::writable`] reports.
    observed_writable: Option<bool>,
    /// The replication observer's readings, for [`Snapshot::lag`] and
    /// [`Snapshot::replication`] (`None` until [`Driver::run`] starts it).
    replication: Option<watch::Receiver<replication::Reading>>,
    /// What [`Snapshot::vips_present`] reports.
    observed_vips: Option<Vec<(std::net::IpAddr, bool)>>,
    /// When the last catch-up attempt failed; re-tries wait a second after it.
    sync_failed_at: Option<Instant>,
    deny_pending: bool,
    pending_removals: Vec<RoleIp>,
    remembered_master: String,
    /// The master this host last failed to follow, and the failure (logged once until it
    /// changes or ends).
    follow_failed: Option<(String, String)>,
    /// Set at startup when the writer VIP was found on the interface: the role is held only
    /// until the startup lease runs out or the first status arrives; nothing is re-asserted.
    adopted: bool,
    startup_lease: Duration,
    failsafe: failsafe::Failsafe,
    snapshot: watch::Sender<Snapshot>,
    rx: mpsc::Receiver<Request>,
}

impl Driver {
    /// Builds the driver and the channels the service uses.
    pub fn new(
        cfg: &Arc<Config>,
        me: HostConfig,
        db: Db,
        vips: Vips,
        epochs: EpochStore,
        startup_lease: Duration,
        failsafe: FailsafeParts,
    ) -> (Driver, mpsc::Sender<Request>, watch::Receiver<Snapshot>) {
        let (tx, rx) = mpsc::channel(32);
        let failsafe = failsafe::Failsafe::new(cfg.failsafe_mode, failsafe, tx.downgrade());
        let lease = WriterLease::new(clock::new_incarnation());
        let (snapshot, snap_rx) = watch::channel(Snapshot {
            desired: Desired::default(),
            epoch: epochs.current(),
            incarnation: lease.incarnation(),
            lease_deadline: None,
            ran_out_epoch: None,
            writer_refused: None,
            timer_armed_until: None,
            timer: timer::TimerState::Unknown.describe(),
            writer_synced: false,
            writable: None,
            lag: None,
            replication: None,
            vips_present: None,
            failsafe_until: None,
            promise: None,
        });
        let configured = cfg.roles.iter().flat_map(|r| r.instances()).collect();
        let driver = Driver {
            me,
            writer_role: cfg.active_master_role.clone(),
            configured,
            db,
            vips,
            epochs,
            desired: Desired::default(),
            lease,
            writer_refused: None,
            timer: timer::TimerState::Unknown,
            timer_armed_until: None,
            writer_synced: false,
            observed_writable: None,
            replication: None,
            observed_vips: None,
            sync_failed_at: None,
            deny_pending: false,
            pending_removals: Vec::new(),
            remembered_master: String::new(),
            follow_failed: None,
            adopted: false,
            startup_lease,
            failsafe,
            snapshot,
            rx,
        };
        (driver, tx, snap_rx)
    }

    fn is_writer(&self, r: &RoleIp) -> bool {
        Some(r.role.as_str()) == self.writer_role.as_deref()
    }

    /// The writer role this host holds (it is in the desired roles only while a lease runs).
    fn held_writer(&self) -> Option<RoleIp> {
        self.desired
            .roles
            .iter()
            .find(|r| self.is_writer(r))
            .cloned()
    }

    /// The instant the lease forces a demotion, when the writer role is held.
    fn writer_deadline(&self) -> Option<Instant> {
        self.held_writer()
            .and(self.lease.deadline())
            .map(clock::instant_of)
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

    fn snapshot_now(&self) -> Snapshot {
        let reading = self
            .replication
            .as_ref()
            .map(|r| r.borrow().fresh_at(Instant::now()))
            .unwrap_or_default();
        Snapshot {
            desired: self.desired.clone(),
            epoch: self.epochs.current(),
            incarnation: self.lease.incarnation(),
            lease_deadline: self.lease.deadline(),
            ran_out_epoch: self.lease.ran_out_epoch(),
            writer_refused: self.writer_refused.as_ref().map(ToString::to_string),
            timer_armed_until: self
                .timer_armed_until
                .filter(|_| self.timer_armed(clock::now())),
            timer: self.timer.describe(),
            writer_synced: self.writer_synced && self.held_writer().is_some(),
            writable: self
                .observed_writable
                .filter(|_| self.held_writer().is_some()),
            lag: reading.lag,
            replication: reading.replication,
            vips_present: self.observed_vips.clone(),
            failsafe_until: self
                .failsafe
                .active_until()
                .filter(|_| self.held_writer().is_some()),
            promise: self.failsafe.blocking(clock::now()),
        }
    }

    /// Publishes the state; checks that a held writer role always has a lease running.
    fn publish(&mut self) {
        if self.held_writer().is_none() {
            self.lease.release();
        } else if self.lease.deadline().is_none() {
            tracing::error!("Writer role held without a lease; dropping it at once");
            debug_assert!(false, "writer role held without a lease");
            self.desired
                .roles
                .retain(|r| Some(&r.role) != self.writer_role.as_ref());
        }
        self.snapshot.send_replace(self.snapshot_now());
    }

    /// Runs until every sender is gone.
    pub async fn run(mut self) {
        self.replication = Some(replication::spawn(self.db.clone()));
        self.probe_timer().await;
        self.adopt_running_writer().await;
        self.publish();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.writer_deadline();
            let round = self.failsafe_round_at();
            tokio::select! {
                biased;
                _ = sleep_opt(deadline) => self.lease_expired().await,
                _ = sleep_opt(round) => self.start_failsafe_round(),
                req = self.rx.recv() => match req {
                    None => break,
                    Some(req) => self.handle(req).await,
                },
                _ = tick.tick() => {
                    self.probe_timer().await;
                    let mut errors = Vec::new();
                    self.reassert(&mut errors).await;
                    self.observe_vips().await;
                }
            }
            self.publish();
        }
        self.stop().await;
    }

    async fn handle(&mut self, req: Request) {
        match req {
            Request::SetStatus { cmd, reply } => {
                let r = self.set_status(cmd).await;
                self.publish();
                let _ = reply.send(r.map(|mut reply| {
                    reply.report = Some(crate::report::build(&self.snapshot_now(), clock::now()));
                    reply
                }));
            }
            Request::GrantFailsafe { ask, reply } => {
                let r = self.grant_failsafe(&ask);
                let _ = reply.send(Ok(r));
            }
            Request::FailsafeAnswers {
                sent_at,
                epoch,
                answers,
            } => self.apply_failsafe_round(sent_at, epoch, answers).await,
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
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
