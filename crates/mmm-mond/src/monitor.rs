//! One monitor: its Raft node, checkers, observation book, leader loop, reporter and
//! Control service, started together and stopped together.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use mmm_core::checks::{CheckKind, CheckTable};
use mmm_core::config::{Config, MonitorNode};
use mmm_proto::pb::control_server::ControlServer;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tonic::transport::Server;

use crate::agents::AgentClients;
use crate::checks::{CheckEvent, CheckRunner, NetworkChecker, emit};
use crate::control::ControlService;
use crate::local_checks::{LocalChecks, LocalView};
use crate::machine::MonitorState;
use crate::observations::ObservationBook;
use crate::raft::{BasicNode, NodeConfig, Partition, RaftNode};

/// Why a monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The config names no monitor node, or not the one asked for.
    #[error("monitor node '{0}' is not in the configuration")]
    UnknownNode(String),
    /// The config has several monitor nodes and none was chosen (`this_monitor`).
    #[error("the configuration has several monitor nodes; set this_monitor")]
    NoThisMonitor,
    /// The `<monitor>` section is missing.
    #[error("the configuration has no <monitor> section")]
    NoMonitorSection,
    /// A listening socket could not be bound.
    #[error("can't listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Raft node did not start.
    #[error("raft: {0}")]
    Raft(#[from] crate::raft::StartError),
    /// The checkers could not be built.
    #[error("checks: {0}")]
    Checks(String),
    /// Agent clients could not be built.
    #[error("agents: {0}")]
    Agents(#[from] crate::agents::AgentCallError),
    /// The TLS files of `<socket type ssl>` could not be used.
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The Control server could not be set up.
    #[error("control server: {0}")]
    Control(String),
}

/// Where the monitor's raw check results come from.
pub enum CheckSource {
    /// The real checkers and network self-check from the configuration.
    Real,
    /// Results and network verdicts supplied by the caller.
    Events(mpsc::Receiver<CheckEvent>, watch::Receiver<bool>),
}

/// Timing derived from the configuration.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Lease stamped on every status.
    pub agent_lease: Duration,
    /// Re-push period.
    pub status_interval: Duration,
    /// Per-call bound of agent RPCs.
    pub agent_timeout: Duration,
    /// A leader whose quorum acknowledged it longer ago than this stops deciding and pushing.
    pub quorum_age: Duration,
    /// Monitors that must see a check failed.
    pub observer_quorum: usize,
    /// How often monitors send their tables.
    pub report_interval: Duration,
    /// Bound of one observation send.
    pub report_timeout: Duration,
    /// Tables older than this do not count in the merge.
    pub max_age: Duration,
    /// Bound of a forwarded Control call.
    pub forward_timeout: Duration,
}

impl Timing {
    /// The timing for `config` with `voters` monitor nodes and Raft node settings `node`.
    pub fn new(config: &Config, voters: usize, node: &NodeConfig) -> Timing {
        let m = config.monitor.as_ref();
        let agent_lease = m.map_or(Duration::from_secs(5), |m| m.agent_lease);
        let status_interval = m.map_or(Duration::from_secs(1), |m| m.status_interval);
        let agent_timeout = m.map_or(Duration::from_secs(2), |m| m.agent_timeout);
        let majority = voters / 2 + 1;
        let observer_quorum = m.and_then(|m| m.observer_quorum).unwrap_or(majority).max(1);
        let min_period = CheckKind::ALL
            .iter()
            .map(|k| k.config(&config.checks).check_period)
            .min()
            .unwrap_or(Duration::from_secs(1));
        let report_interval = min_period.clamp(Duration::from_millis(50), Duration::from_secs(1));
        Timing {
            agent_lease,
            status_interval,
            agent_timeout,
            quorum_age: node.election_timeout_max,
            observer_quorum,
            report_interval,
            report_timeout: Duration::from_secs(1),
            max_age: report_interval * 3 + Duration::from_secs(1),
            forward_timeout: agent_timeout + node.propose_timeout + Duration::from_secs(1),
        }
    }
}

/// What every part of a running monitor shares.
pub struct Shared {
    /// The Raft node replicating the cluster state.
    pub node: Arc<RaftNode<MonitorState>>,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// This monitor's node entry.
    pub this: MonitorNode,
    /// Agent clients.
    pub clients: AgentClients,
    /// Latest reports of every monitor (used by the leader).
    pub book: ObservationBook,
    /// This monitor's own check view.
    pub local: watch::Receiver<LocalView>,
    /// The leader's latest merged table.
    pub merged: RwLock<CheckTable>,
    /// Timing settings.
    pub timing: Timing,
    /// Wakes the leader loop (after an admin command).
    pub kick: Notify,
    /// Link fault injection shared with the Raft layer.
    pub partition: Partition,
    /// Mutual TLS of every hop (`<socket type ssl>`), `None` for plain sockets.
    pub tls: Option<crate::tls::Tls>,
    /// mysql-mmm's status file, read at start while this monitor had no cluster state: the
    /// stored side of the startup vote (see [`crate::migrate`]).
    pub stored: Option<mmm_core::status_file::StatusFile>,
}

impl Shared {
    /// A copy of the merged check table.
    pub fn merged_checks(&self) -> CheckTable {
        self.merged
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the merged check table.
    pub fn set_merged(&self, table: CheckTable) {
        *self
            .merged
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = table;
    }

    /// The Control address (`ip:port`) of monitor node `id`.
    pub fn control_addr(&self, id: u64) -> Option<String> {
        self.config
            .monitor_nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| SocketAddr::new(n.ip, n.port).to_string())
    }

    /// The name of monitor node `id`.
    pub fn node_name(&self, id: u64) -> Option<String> {
        self.config
            .monitor_nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.name.clone())
    }
}

/// How to start one monitor.
pub struct MonitorOptions {
    /// The effective configuration (Program::Monitor).
    pub config: Arc<Config>,
    /// Which monitor node this is (None: `this_monitor`, or the only node).
    pub this: Option<String>,
    /// Where check results come from.
    pub checks: CheckSource,
    /// Link fault injection (tests).
    pub partition: Partition,
    /// Adjusts the Raft node settings (tests use shorter timeouts).
    pub tweak: Option<fn(&mut NodeConfig)>,
    /// A monitor added to a running cluster: an empty data_dir waits for `cluster add`
    /// instead of forming a new cluster from the configured nodes.
    pub join: bool,
}

impl MonitorOptions {
    /// Real checks, no fault injection, default Raft timing.
    pub fn new(config: Arc<Config>) -> Self {
        MonitorOptions {
            config,
            this: None,
            checks: CheckSource::Real,
            partition: Partition::default(),
            tweak: None,
            join: false,
        }
    }
}

/// A running monitor.
pub struct Monitor {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    control_stop: Option<tokio::sync::oneshot::Sender<()>>,
    control: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    _network: Option<crate::checks::NetworkHandle>,
    _runner: Option<crate::checks::CheckRunnerHandle>,
}

/// The monitor node `this` (or the configured/only one) of `config`.
pub fn this_node(config: &Config, this: Option<&str>) -> Result<MonitorNode, MonitorError> {
    let name = this
        .map(str::to_string)
        .or_else(|| config.this_monitor.clone());
    match name {
        Some(n) => config
            .monitor_nodes
            .iter()
            .find(|m| m.name == n)
            .cloned()
            .ok_or(MonitorError::UnknownNode(n)),
        None => match config.monitor_nodes.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(MonitorError::NoMonitorSection),
            _ => Err(MonitorError::NoThisMonitor),
        },
    }
}

impl Monitor {
    /// Starts every part of the monitor.
    pub async fn start(opts: MonitorOptions) -> Result<Monitor, MonitorError> {
        let config = opts.config.clone();
        if config.monitor.is_none() {
            return Err(MonitorError::NoMonitorSection);
        }
        let this = this_node(&config, opts.this.as_deref())?;
        let peers: BTreeMap<u64, BasicNode> = config
            .monitor_nodes
            .iter()
            .map(|n| {
                (
                    n.id,
                    BasicNode {
                        addr: SocketAddr::new(n.ip, n.raft_port).to_string(),
                    },
                )
            })
            .collect();
        let mut node_cfg = NodeConfig::new(
            this.id,
            this.data_dir.clone(),
            SocketAddr::new(this.ip, this.raft_port),
            peers,
        );
        node_cfg.bootstrap = !opts.join;
        node_cfg.partition = opts.partition.clone();
        node_cfg.peer_names = config
            .monitor_nodes
            .iter()
            .map(|n| (n.id, n.name.clone()))
            .collect();
        if let Some(t) = opts.tweak {
            t(&mut node_cfg);
        }
        // TLS files and the Control port first, so such errors come before Raft starts.
        let tls = crate::tls::load(&config)?;
        node_cfg.tls = tls.clone();
        let timing = Timing::new(&config, config.monitor_nodes.len(), &node_cfg);
        let clients = AgentClients::new(&config, timing.agent_timeout, tls.as_ref())?;
        let control_addr = SocketAddr::new(this.ip, this.port);
        let control_listener =
            TcpListener::bind(control_addr)
                .await
                .map_err(|source| MonitorError::Bind {
                    addr: control_addr,
                    source,
                })?;

        let node = Arc::new(RaftNode::start(node_cfg, config.clone()).await?);

        // Checks: trackers fed by the real checkers or by the caller.
        let (local_checks, local) = LocalChecks::new(&config);
        let (network_handle, runner_handle, events, network) = match opts.checks {
            CheckSource::Events(rx, net) => (None, None, rx, net),
            CheckSource::Real => {
                let net = NetworkChecker::from_config(&config)
                    .map_err(|e| MonitorError::Checks(e.to_string()))?
                    .spawn();
                let runner = CheckRunner::from_config(&config)
                    .map_err(|e| MonitorError::Checks(e.to_string()))?
                    .with_network(net.subscribe());
                let (tx, rx) = mpsc::channel(1024);
                let handle = runner.spawn(tx);
                let sub = net.subscribe();
                (Some(net), Some(handle), rx, sub)
            }
        };

        let weak: Weak<RaftNode<MonitorState>> = Arc::downgrade(&node);
        let names = config
            .monitor_nodes
            .iter()
            .map(|n| (n.id, n.name.clone()))
            .collect();
        let book = ObservationBook::new(
            config.hosts.iter().map(|h| h.name.clone()).collect(),
            names,
            Arc::new(move || weak.upgrade().map(|n| n.is_leader())),
            crate::checks::now,
        );
        node.set_observations_handler(Arc::new(book.clone()));

        let started = node.with_state(|m| m.cluster().is_some_and(|c| c.started));
        let stored = if started {
            None
        } else {
            crate::migrate::read_status_file(&config)
        };
        let shared = Arc::new(Shared {
            node: node.clone(),
            config: config.clone(),
            this: this.clone(),
            clients,
            book,
            local,
            merged: RwLock::new(CheckTable::new()),
            timing,
            kick: Notify::new(),
            partition: opts.partition,
            tls: tls.clone(),
            stored,
        });
        let (stop, stop_rx) = watch::channel(false);
        let tasks = vec![
            local_checks.spawn(events, network),
            tokio::spawn(crate::leader::run(shared.clone(), stop_rx.clone())),
            tokio::spawn(crate::reporter::run(shared.clone(), stop_rx.clone())),
            tokio::spawn(log_applied(node.subscribe_applied(), stop_rx.clone())),
        ];

        let (control_stop, control_rx) = tokio::sync::oneshot::channel::<()>();
        let service = ControlService::new(shared.clone());
        let control = tokio::spawn(mmm_daemon::tls::serve(
            Server::builder().add_service(ControlServer::new(service)),
            control_listener,
            tls,
            "Control",
            async {
                let _ = control_rx.await;
            },
        ));
        Ok(Monitor {
            shared,
            stop,
            tasks,
            control_stop: Some(control_stop),
            control: Some(control),
            _network: network_handle,
            _runner: runner_handle,
        })
    }

    /// The Raft node.
    pub fn node(&self) -> &Arc<RaftNode<MonitorState>> {
        &self.shared.node
    }

    /// The monitor's TLS settings (to reload them on SIGHUP), `None` for plain sockets.
    pub fn tls(&self) -> Option<crate::tls::Tls> {
        self.shared.tls.clone()
    }

    /// Everything the parts share (for inspection).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops every part and closes the Raft store (no hand-over, like a killed process).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        if let Some(s) = self.control_stop.take() {
            let _ = s.send(());
        }
        if let Some(mut c) = self.control.take()
            && tokio::time::timeout(Duration::from_secs(1), &mut c)
                .await
                .is_err()
        {
            c.abort();
        }
        if let Some(r) = self._runner.take() {
            r.shutdown().await;
        }
        self._network = None;
        let node = self.shared.node.clone();
        drop(self);
        // The Control server's service may take a moment to drop its handle.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut node = node;
        loop {
            match Arc::try_unwrap(node) {
                Ok(n) => {
                    n.shutdown().await;
                    return;
                }
                Err(back) => {
                    if tokio::time::Instant::now() > deadline {
                        tracing::warn!("raft node still referenced at shutdown");
                        let _ = back.raft().shutdown().await;
                        return;
                    }
                    node = back;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// Logs the MMM lines of every applied command, on every monitor.
async fn log_applied(
    mut rx: tokio::sync::broadcast::Receiver<(crate::raft::LogId, crate::machine::ApplyOutcome)>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok((_, outcome)) => {
                    for line in &outcome.lines {
                        emit(line);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{n} applied commands were not logged (log subscriber fell behind)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
    }
}
