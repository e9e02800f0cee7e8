//! Runs the four checks against every host, forever, and streams the raw results.
//!
//! Each (check, host) pair has its own loop: check, deliver, sleep `check_period`, so a
//! host whose mysqld hangs delays nobody else — its calls end with `ERROR: Timeout` after
//! `timeout` + 1 s while the other hosts keep their cadence. A semaphore per check kind
//! bounds how many calls of that kind are in flight at once. The replication checks' loops
//! keep their MySQL connection between calls ([`KeptConnection`]); when both run with the same
//! period and timeout, one loop per host runs both on one SHOW SLAVE STATUS a round.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use mmm_core::checks::CheckKind;
use mmm_core::config::{CheckConfig, ChecksConfig, Config};
use mmm_core::time::Timestamp;
use mmm_mysql::KnownVersions;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::dispatch::run_check;
use super::replication::KeptConnection;
use super::target::{CheckTarget, TargetError};

/// Calls of one check kind in flight at once, unless configured otherwise.
pub const DEFAULT_MAX_CONCURRENT: usize = 8;

/// One raw check result, as the monitor's driver loop consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEvent {
    /// Host section name.
    pub host: String,
    /// Which check.
    pub kind: CheckKind,
    /// The raw line (`OK…`, `ERROR: …`, `UNKNOWN: …`), for `CheckResult::parse`.
    pub line: String,
    /// When the result was obtained (wall clock).
    pub at: Timestamp,
    /// How long the check took.
    pub took: Duration,
}

/// The monitor's checkers: which hosts, which checks, with which settings.
#[derive(Debug, Clone)]
pub struct CheckRunner {
    targets: Arc<[CheckTarget]>,
    checks: Arc<ChecksConfig>,
    kinds: Vec<CheckKind>,
    max_concurrent: usize,
    network: Option<watch::Receiver<bool>>,
    /// Every server's `VERSION()`, asked once and shared by all loops.
    known: KnownVersions,
}

/// The running check loops; dropping it (or [`CheckRunnerHandle::shutdown`]) stops them.
#[derive(Debug)]
pub struct CheckRunnerHandle {
    tasks: JoinSet<()>,
}

impl CheckRunnerHandle {
    /// Stops every check loop and waits until they are gone.
    pub async fn shutdown(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl CheckRunner {
    /// All four checks against `targets` with the given settings.
    pub fn new(targets: Vec<CheckTarget>, checks: ChecksConfig) -> CheckRunner {
        CheckRunner {
            targets: targets.into(),
            checks: Arc::new(checks),
            kinds: CheckKind::ALL.to_vec(),
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            network: None,
            known: KnownVersions::default(),
        }
    }

    /// All four checks against every host of `config`, in config-file order.
    pub fn from_config(config: &Config) -> Result<CheckRunner, TargetError> {
        Ok(CheckRunner::new(
            CheckTarget::all(config)?,
            config.checks.clone(),
        ))
    }

    /// Runs only these check kinds (all four by default), each once, in the order given.
    pub fn with_kinds(mut self, kinds: &[CheckKind]) -> CheckRunner {
        self.kinds.clear();
        for &kind in kinds {
            if !self.kinds.contains(&kind) {
                self.kinds.push(kind);
            }
        }
        self
    }

    /// Bounds the calls of one kind in flight at once (at least one).
    pub fn with_max_concurrent(mut self, max: usize) -> CheckRunner {
        self.max_concurrent = max.max(1);
        self
    }

    /// Pauses every loop while the network self-check says the monitor is cut off, as
    /// mysql-mmm does: no checks without network.
    pub fn with_network(mut self, network_ok: watch::Receiver<bool>) -> CheckRunner {
        self.network = Some(network_ok);
        self
    }

    /// The hosts checked, in order.
    pub fn targets(&self) -> &[CheckTarget] {
        &self.targets
    }

    /// One result of every check on every host, all at once (bounded per kind) — the
    /// synchronous startup round mysql-mmm runs before its checker threads start.
    /// Results come in (kind, host) order.
    pub async fn run_once(&self) -> Vec<CheckEvent> {
        let mut calls = Vec::new();
        for &kind in &self.kinds {
            let permits = Arc::new(Semaphore::new(self.max_concurrent));
            for target in self.targets.iter() {
                let permits = Arc::clone(&permits);
                let checks = Arc::clone(&self.checks);
                let known = self.known.clone();
                calls.push(async move {
                    let _permit = permits.acquire_owned().await.ok();
                    let mut kept = KeptConnection::sharing(known);
                    let started = Instant::now();
                    let line = run_check(kind, target, kind.config(&checks), &mut kept).await;
                    CheckEvent {
                        host: target.host.clone(),
                        kind,
                        line,
                        at: now(),
                        took: started.elapsed(),
                    }
                });
            }
        }
        join_all(calls).await
    }

    /// Starts one loop per (check, host) sending every result to `results`. The loops end
    /// when the handle is dropped or the receiver goes away.
    pub fn spawn(&self, results: mpsc::Sender<CheckEvent>) -> CheckRunnerHandle {
        let mut tasks = JoinSet::new();
        let paired = self.replication_paired();
        for &kind in &self.kinds {
            if paired && kind == CheckKind::RepBacklog {
                continue;
            }
            let permits = Arc::new(Semaphore::new(self.max_concurrent));
            for index in 0..self.targets.len() {
                let worker = Worker {
                    kind,
                    paired: paired && kind == CheckKind::RepThreads,
                    index,
                    targets: Arc::clone(&self.targets),
                    checks: Arc::clone(&self.checks),
                    permits: Arc::clone(&permits),
                    network: self.network.clone(),
                    results: results.clone(),
                    known: self.known.clone(),
                };
                tasks.spawn(worker.run());
            }
        }
        CheckRunnerHandle { tasks }
    }

    /// Whether one loop per host runs both replication checks on one status read: both
    /// are run, with the same period and timeout, so they would read the same thing at the
    /// same pace anyway.
    fn replication_paired(&self) -> bool {
        let (threads, backlog) = (&self.checks.rep_threads, &self.checks.rep_backlog);
        self.kinds.contains(&CheckKind::RepThreads)
            && self.kinds.contains(&CheckKind::RepBacklog)
            && threads.check_period == backlog.check_period
            && threads.timeout == backlog.timeout
    }
}

/// The loop of one check on one host (or of both replication checks, when `paired`).
struct Worker {
    kind: CheckKind,
    paired: bool,
    index: usize,
    targets: Arc<[CheckTarget]>,
    checks: Arc<ChecksConfig>,
    permits: Arc<Semaphore>,
    network: Option<watch::Receiver<bool>>,
    results: mpsc::Sender<CheckEvent>,
    known: KnownVersions,
}

impl Worker {
    async fn run(mut self) {
        let Some(target) = self.targets.get(self.index).cloned() else {
            return;
        };
        let config = self.kind.config(&self.checks).clone();
        let mut kept = KeptConnection::sharing(self.known.clone());
        loop {
            if let Some(network) = self.network.as_mut()
                && network.wait_for(|ok| *ok).await.is_err()
            {
                // The self-check is gone; keep checking rather than go blind.
                self.network = None;
            }
            let (lines, took) = {
                let Ok(_permit) = self.permits.acquire().await else {
                    return;
                };
                let started = Instant::now();
                let lines = self.check(&target, &config, &mut kept).await;
                (lines, started.elapsed())
            };
            let at = now();
            for (kind, line) in lines {
                let event = CheckEvent {
                    host: target.host.clone(),
                    kind,
                    line,
                    at,
                    took,
                };
                if self.results.send(event).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(config.check_period).await;
        }
    }

    /// This loop's result lines for one round.
    async fn check(
        &self,
        target: &CheckTarget,
        config: &CheckConfig,
        kept: &mut KeptConnection,
    ) -> Vec<(CheckKind, String)> {
        if !self.paired {
            return vec![(self.kind, run_check(self.kind, target, config, kept).await)];
        }
        let max_backlog = self.checks.rep_backlog.max_backlog;
        let (threads, backlog) = kept.rep_both(target, config.timeout, max_backlog).await;
        vec![
            (CheckKind::RepThreads, threads),
            (CheckKind::RepBacklog, backlog),
        ]
    }
}

/// The wall clock as a [`Timestamp`].
pub fn now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Timestamp::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}
