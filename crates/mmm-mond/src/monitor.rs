//! One monitor: its Raft node, checkers, driver loop, reporter and Control service,
//! started together and stopped together.
//!
//! Construction has no cycles: the driver's channel exists first, the Raft node is started
//! with the observation inbox that feeds it, and nothing is bound late. Shutdown stops the
//! tasks in order and joins each, so the Raft node is released exactly once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::config::{Config, MonitorNode};
use mmm_core::leader::Switches;
use mmm_proto::pb::control_server::ControlServer;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::transport::Server;

use crate::agents::AgentClients;
use crate::checks::{CheckEvent, CheckRunner, CheckRunnerHandle, NetworkChecker, NetworkHandle};
use crate::control::{ControlParts, ControlService};
use crate::driver::{Driver, DriverHandle, DriverParts};
use crate::local_checks::{LocalChecks, LocalView};
use crate::machine::MonitorState;
use crate::observations::{Inbox, Vocabulary};
use crate::raft::{BasicNode, LeaderGone, NodeConfig, Partition, RaftNode};
use crate::reporter::Reporter;
use crate::tls::Tls;

pub use mmm_core::leader::Timing;

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
    node: Arc<RaftNode<MonitorState>>,
    switches: watch::Receiver<Switches>,
    stop: watch::Sender<bool>,
    driver: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    control_stop: tokio::sync::oneshot::Sender<()>,
    control: JoinHandle<Result<(), mmm_daemon::tls::ServeError>>,
    network: Option<NetworkHandle>,
    runner: Option<CheckRunnerHandle>,
    tls: Option<Tls>,
    counters: crate::counters::Counters,
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

/// The Raft node settings of monitor `this`.
fn node_config(
    config: &Config,
    this: &MonitorNode,
    opts: &MonitorOptions,
    tls: Option<Tls>,
) -> NodeConfig {
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
    node_cfg.tls = tls;
    node_cfg.peer_names = config
        .monitor_nodes
        .iter()
        .map(|n| (n.id, n.name.clone()))
        .collect();
    if let Some(t) = opts.tweak {
        t(&mut node_cfg);
    }
    node_cfg
}

/// The checkers the monitor runs, or the caller's stream of results.
struct Checks {
    events: mpsc::Receiver<CheckEvent>,
    network: watch::Receiver<bool>,
    network_handle: Option<NetworkHandle>,
    runner: Option<CheckRunnerHandle>,
}

fn start_checks(config: &Config, source: CheckSource) -> Result<Checks, MonitorError> {
    match source {
        CheckSource::Events(events, network) => Ok(Checks {
            events,
            network,
            network_handle: None,
            runner: None,
        }),
        CheckSource::Real => {
            let net = NetworkChecker::from_config(config)
                .map_err(|e| MonitorError::Checks(e.to_string()))?
                .spawn();
            let runner = CheckRunner::from_config(config)
                .map_err(|e| MonitorError::Checks(e.to_string()))?
                .with_network(net.subscribe());
            let (tx, events) = mpsc::channel(1024);
            let handle = runner.spawn(tx);
            let network = net.subscribe();
            Ok(Checks {
                events,
                network,
                network_handle: Some(net),
                runner: Some(handle),
            })
        }
    }
}

/// The Control server task and the sender that stops it.
type Served = (
    tokio::sync::oneshot::Sender<()>,
    JoinHandle<Result<(), mmm_daemon::tls::ServeError>>,
);

/// Serves Control on `listener` (mutual TLS with `tls`) until the returned sender fires.
fn serve_control(listener: TcpListener, tls: Option<Tls>, service: ControlService) -> Served {
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(mmm_daemon::tls::serve(
        Server::builder().add_service(ControlServer::new(service)),
        listener,
        tls,
        "Control",
        async {
            let _ = rx.await;
        },
    ));
    (stop, served)
}

/// Binds the Control port (before Raft starts, so such errors come first).
async fn bind_control(this: &MonitorNode) -> Result<TcpListener, MonitorError> {
    let addr = SocketAddr::new(this.ip, this.port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| MonitorError::Bind { addr, source })
}

/// Binds the HTTP port when the node has one (before Raft starts, like Control).
async fn bind_http(this: &MonitorNode) -> Result<Option<TcpListener>, MonitorError> {
    let Some(port) = this.http_port else {
        return Ok(None);
    };
    let addr = SocketAddr::new(this.ip, port);
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(Some(l)),
        Err(source) => Err(MonitorError::Bind { addr, source }),
    }
}

/// Serves `/metrics` and `/health` on `listener` until the task is aborted.
fn serve_http(
    listener: TcpListener,
    tls: Option<Tls>,
    sources: crate::http::Sources,
) -> JoinHandle<()> {
    tokio::spawn(mmm_daemon::http::serve(
        listener,
        tls,
        crate::http::router(sources),
    ))
}

/// mysql-mmm's status file, read only while this monitor's replicated state has not started.
fn unstarted_status_file(
    config: &Config,
    node: &RaftNode<MonitorState>,
) -> Option<mmm_core::status_file::StatusFile> {
    let started = node.with_state(|m: &MonitorState| m.cluster().is_some_and(|c| c.started));
    if started {
        None
    } else {
        crate::migrate::read_status_file(config)
    }
}

/// What the monitor's tasks are built from, once Raft runs.
struct Wiring {
    config: Arc<Config>,
    this: MonitorNode,
    timing: Timing,
    node: Arc<RaftNode<MonitorState>>,
    clients: AgentClients,
    tls: Option<Tls>,
    inputs: DriverHandle,
    local: watch::Receiver<LocalView>,
    counters: crate::counters::Counters,
}

impl Wiring {
    fn driver_parts(&self, stored: Option<mmm_core::status_file::StatusFile>) -> DriverParts {
        DriverParts {
            config: self.config.clone(),
            me: self.this.id,
            timing: self.timing.clone(),
            node: self.node.clone(),
            clients: self.clients.clone(),
            local: self.local.clone(),
            tls: self.tls.clone(),
            stored,
            counters: self.counters.clone(),
        }
    }

    fn reporter(&self, partition: Partition) -> Reporter {
        Reporter {
            me: self.this.id,
            name: self.this.name.clone(),
            timing: self.timing.clone(),
            metrics: self.node.metrics(),
            local: self.local.clone(),
            driver: self.inputs.clone(),
            partition,
            tls: self.tls.clone(),
        }
    }

    fn http_sources(&self) -> crate::http::Sources {
        crate::http::Sources {
            config: self.config.clone(),
            me: self.this.id,
            metrics: self.node.metrics(),
            state: self.node.state_reader(),
            local: self.local.clone(),
            counters: self.counters.clone(),
            health: self.node.peer_health(),
            stale_after: crate::cluster_status::stale_after(self.timing.quorum_age),
        }
    }

    fn control(&self) -> ControlService {
        ControlService::new(ControlParts {
            config: self.config.clone(),
            me: self.this.id,
            timing: self.timing.clone(),
            metrics: self.node.metrics(),
            state: self.node.state_reader(),
            health: self.node.peer_health(),
            tls: self.tls.clone(),
            driver: self.inputs.clone(),
            agents: self.clients.clone(),
        })
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
        // TLS files and the Control port first, so such errors come before Raft starts.
        let tls = crate::tls::load(&config)?;
        let node_cfg = node_config(&config, &this, &opts, tls.clone());
        let voters = config.monitor_nodes.len();
        let (max, propose) = (node_cfg.election_timeout_max, node_cfg.propose_timeout);
        let gone_timing = crate::raft::LeaderGoneTiming {
            heartbeat: node_cfg.heartbeat_interval,
            leader_lease: max,
            probe_timeout: node_cfg.connect_timeout.min(node_cfg.heartbeat_interval),
        };
        let timing = Timing::new(&config, voters, max, propose);
        let clients = AgentClients::new(&config, timing.agent_timeout, tls.as_ref())?;
        let control_listener = bind_control(&this).await?;
        let http_listener = bind_http(&this).await?;

        let (inputs, driver_rx) = DriverHandle::channel(&timing);
        let inbox = Inbox::new(Vocabulary::new(&config), inputs.clone());
        let node = Arc::new(
            RaftNode::start_with_observations(node_cfg, config.clone(), Arc::new(inbox)).await?,
        );
        let checks = start_checks(&config, opts.checks)?;
        let (local_checks, local) = LocalChecks::new(&config);
        let stored = unstarted_status_file(&config, &node);
        let (stop, stop_rx) = watch::channel(false);
        let w = Wiring {
            config,
            this,
            timing,
            node,
            clients,
            tls,
            inputs,
            local,
            counters: crate::counters::Counters::default(),
        };
        let (driver, switches) = Driver::new(w.driver_parts(stored), driver_rx);
        let driver = tokio::spawn(driver.run(stop_rx.clone()));
        let (elect, counters) = (switches.clone(), w.counters.clone());
        let hooks = crate::raft::LeaderGoneHooks {
            elections_on: Box::new(move || elect.borrow().elect),
            on_campaign: Box::new(move || counters.leader_gone_campaign()),
        };
        let gone = LeaderGone::new(w.node.clone(), gone_timing, hooks);
        let mut tasks = vec![
            local_checks.spawn(checks.events, checks.network, w.counters.clone()),
            tokio::spawn(gone.run(stop_rx.clone())),
            tokio::spawn(w.reporter(opts.partition).run(stop_rx)),
        ];
        tasks.extend(http_listener.map(|l| serve_http(l, w.tls.clone(), w.http_sources())));
        let (control_stop, control) = serve_control(control_listener, w.tls.clone(), w.control());
        let (node, tls, counters) = (w.node, w.tls, w.counters);
        Ok(Monitor {
            node,
            switches,
            stop,
            driver,
            tasks,
            control_stop,
            control,
            network: checks.network_handle,
            runner: checks.runner,
            tls,
            counters,
        })
    }

    /// The Raft node.
    pub fn node(&self) -> &Arc<RaftNode<MonitorState>> {
        &self.node
    }

    /// The monitor's TLS settings (to reload them on SIGHUP), `None` for plain sockets.
    pub fn tls(&self) -> Option<Tls> {
        self.tls.clone()
    }

    /// What this monitor counted (the numbers `/metrics` shows).
    pub fn counters(&self) -> &crate::counters::Counters {
        &self.counters
    }

    /// Raft's heartbeat and election switches as the driver loop last set them.
    pub fn switches(&self) -> Switches {
        *self.switches.borrow()
    }

    /// The same switches as a receiver, for a caller that waits on their changes.
    pub fn watch_switches(&self) -> watch::Receiver<Switches> {
        self.switches.clone()
    }

    /// Stops every part and closes the Raft store (no hand-over, like a killed process).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.driver.await {
            tracing::error!("the driver loop failed: {e}");
        }
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = self.control_stop.send(());
        let mut control = self.control;
        if tokio::time::timeout(Duration::from_secs(1), &mut control)
            .await
            .is_err()
        {
            control.abort();
        }
        if let Some(r) = self.runner {
            r.shutdown().await;
        }
        drop(self.network);
        let node = self.node;
        let alone = mmm_core::invariant::check(Arc::strong_count(&node) == 1, || {
            "the raft node is still held after every monitor task ended".into()
        });
        if let Err(v) = alone {
            tracing::error!("{v}; its store may stay open");
        }
        node.shutdown().await;
    }
}
