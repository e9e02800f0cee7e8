//! Watching a running [`Cluster`] from inside: every `period`, per database host, the server's
//! `read_only`, `server_id` and replication (root over its unix socket), the VIPs on the host's
//! interface (read inside the host's namespace), and its agent's view (`Agent.GetStatus`: the
//! accepted epoch, the lease left, roles); per monitor, its Raft view (`Control.ClusterStatus`:
//! term, leader). Each probe runs inside the observed host's own namespace and talks to its own
//! address, so the lab's network faults never blind it; each has its own task and deadline, so a
//! frozen mysqld does not stop the VIP or agent samples.
//!
//! Every sample carries the instants before and after the probe: the state it reports held at
//! some moment in between.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use mmm_proto::pb;
use mysql_async::prelude::Queryable;

use crate::cluster::Cluster;
use crate::error::Result;
use crate::host::Host;

/// Deadline of one probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// What one probe saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The database server answered.
    Server {
        /// `@@read_only`.
        read_only: bool,
        /// `@@server_id`.
        server_id: u32,
        /// Replication, when configured.
        replication: Option<Replication>,
    },
    /// The lab VIPs (addresses besides the host's own) on the host's interface.
    Vips(Vec<Ipv4Addr>),
    /// The host's agent answered `GetStatus`.
    Agent {
        /// The highest epoch the agent accepted.
        epoch: u64,
        /// Milliseconds left on its lease (0 when none runs).
        lease_remaining_ms: u64,
        /// Roles it holds, `role(ip)`.
        roles: Vec<String>,
        /// Its host state.
        state: String,
        /// The active master it was told.
        active_master: String,
    },
    /// A monitor answered `ClusterStatus` with its own Raft view.
    Monitor {
        /// Its node id.
        this_id: u64,
        /// The leader it knows (0 = none).
        leader_id: u64,
        /// That leader's name.
        leader_name: String,
        /// Its current term.
        term: u64,
        /// The epoch of its replicated state.
        epoch: u64,
    },
    /// The probe got no answer (`what` names it: `server`, `vips`, `agent`, `monitor`).
    Down {
        /// Which probe.
        what: &'static str,
        /// Why.
        error: String,
    },
}

/// The replication part of a server sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// `Master_Host`.
    pub master_host: String,
    /// `Slave_IO_Running` is `Yes`.
    pub io_running: bool,
    /// `Slave_SQL_Running` is `Yes`.
    pub sql_running: bool,
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Host observed (`db1`, `mon2`, …).
    pub host: String,
    /// Before the probe.
    pub start: Instant,
    /// After it.
    pub end: Instant,
    /// What it saw.
    pub observation: Observation,
}

/// A database host to watch.
#[derive(Debug, Clone)]
struct DbTarget {
    host: Host,
    socket: PathBuf,
    agent_port: u16,
}

/// The running sampler; [`Sampler::stop`] (or drop) ends every probe task.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    done: Vec<tokio::sync::oneshot::Receiver<()>>,
}

impl Sampler {
    /// Starts probing every database host and monitor of `cluster` each `period`, sending each
    /// sample to `out`.
    pub fn start(cluster: &Cluster, period: Duration, out: Sender<Sample>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut done = Vec::new();
        let agent_port = cluster.mmm_config().agent_port;
        for node in &cluster.topology().nodes {
            let target = DbTarget {
                host: node.host.clone(),
                socket: node.db.socket_path(),
                agent_port,
            };
            let fut = watch_db(target, period, out.clone(), stop.clone());
            done.push(node.host.netns().spawn_future(fut)?);
        }
        for name in cluster.monitor_names() {
            let Some(host) = cluster.host(&name) else {
                continue;
            };
            let fut = watch_monitor(host.clone(), period, out.clone(), stop.clone());
            done.push(host.netns().spawn_future(fut)?);
        }
        Ok(Self { stop, done })
    }

    /// Stops every probe and waits (bounded) for the tasks to end.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + PROBE_TIMEOUT * 4;
        for mut rx in self.done.drain(..) {
            while rx.try_recv() == Err(tokio::sync::oneshot::error::TryRecvError::Empty)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One kind of probe, keeping its connection between rounds.
trait Probe {
    /// Looks once (bounded by [`PROBE_TIMEOUT`]).
    async fn probe(&mut self) -> Observation;
}

/// Runs `probe` every `period` until `stop`, sending one sample per round.
async fn every<P: Probe>(
    host: String,
    period: Duration,
    out: Sender<Sample>,
    stop: Arc<AtomicBool>,
    mut probe: P,
) {
    let mut next = tokio::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let observation = probe.probe().await;
        let sample = Sample {
            host: host.clone(),
            start,
            end: Instant::now(),
            observation,
        };
        if out.send(sample).is_err() {
            return;
        }
        next = (next + period).max(tokio::time::Instant::now());
        tokio::time::sleep_until(next).await;
    }
}

fn down(what: &'static str, error: impl std::fmt::Display) -> Observation {
    Observation::Down {
        what,
        error: error.to_string(),
    }
}

async fn watch_db(t: DbTarget, period: Duration, out: Sender<Sample>, stop: Arc<AtomicBool>) {
    let name = t.host.name().to_owned();
    let server = ServerProbe {
        socket: t.socket.clone(),
        conn: None,
    };
    let vips = VipProbe {
        iface: t.host.interface(),
        own_ip: t.host.ip(),
    };
    let agent = AgentProbe {
        endpoint: format!("http://{}:{}", t.host.ip(), t.agent_port),
        host: name.clone(),
        client: None,
    };
    tokio::join!(
        every(name.clone(), period, out.clone(), stop.clone(), server),
        every(name.clone(), period, out.clone(), stop.clone(), vips),
        every(name, period, out, stop, agent),
    );
}

async fn watch_monitor(host: Host, period: Duration, out: Sender<Sample>, stop: Arc<AtomicBool>) {
    let probe = MonitorProbe {
        endpoint: format!(
            "http://{}:{}",
            host.ip(),
            mmm_core::config::DEFAULT_MONITOR_PORT
        ),
        client: None,
    };
    every(host.name().to_owned(), period, out, stop, probe).await;
}

/// `read_only`, `server_id` and `SHOW SLAVE STATUS` as root over the unix socket.
struct ServerProbe {
    socket: PathBuf,
    conn: Option<mysql_async::Conn>,
}

impl Probe for ServerProbe {
    async fn probe(&mut self) -> Observation {
        let conn = match self.conn.take() {
            Some(c) => c,
            None => {
                let opts = mysql_async::OptsBuilder::default()
                    .socket(Some(self.socket.to_string_lossy().into_owned()))
                    .user(Some("root"));
                match tokio::time::timeout(PROBE_TIMEOUT, mysql_async::Conn::new(opts)).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => return down("server", e),
                    Err(_) => return down("server", "connect timed out"),
                }
            }
        };
        let mut conn = conn;
        match tokio::time::timeout(PROBE_TIMEOUT, server_view(&mut conn)).await {
            Ok(Ok(obs)) => {
                self.conn = Some(conn);
                obs
            }
            // A broken or stuck connection is dropped; the next round connects anew.
            Ok(Err(e)) => down("server", e),
            Err(_) => down("server", "no answer"),
        }
    }
}

async fn server_view(
    conn: &mut mysql_async::Conn,
) -> std::result::Result<Observation, mysql_async::Error> {
    let (read_only, server_id): (u8, u32) = conn
        .query_first("SELECT @@read_only, @@server_id")
        .await?
        .unwrap_or((1, 0));
    let row: Option<mysql_async::Row> = conn.query_first("SHOW SLAVE STATUS").await?;
    let replication = row.map(|r| {
        let field = |name: &str| {
            r.columns_ref()
                .iter()
                .position(|c| c.name_str() == name)
                .and_then(|i| r.as_ref(i))
                .and_then(crate::replication::value_text)
                .unwrap_or_default()
        };
        Replication {
            master_host: field("Master_Host"),
            io_running: field("Slave_IO_Running") == "Yes",
            sql_running: field("Slave_SQL_Running") == "Yes",
        }
    });
    Ok(Observation::Server {
        read_only: read_only != 0,
        server_id,
        replication,
    })
}

/// The addresses on the host's interface besides its own.
struct VipProbe {
    iface: &'static str,
    own_ip: Ipv4Addr,
}

impl Probe for VipProbe {
    async fn probe(&mut self) -> Observation {
        match crate::ifaddrs::ipv4_addresses(self.iface) {
            Ok(all) => Observation::Vips(all.into_iter().filter(|a| *a != self.own_ip).collect()),
            Err(e) => down("vips", e),
        }
    }
}

/// The agent's own view over gRPC.
struct AgentProbe {
    endpoint: String,
    host: String,
    client: Option<pb::agent_client::AgentClient<tonic::transport::Channel>>,
}

impl Probe for AgentProbe {
    async fn probe(&mut self) -> Observation {
        let mut client = match self.client.take() {
            Some(c) => c,
            None => match connect(&self.endpoint).await {
                Ok(ch) => pb::agent_client::AgentClient::new(ch),
                Err(e) => return down("agent", e),
            },
        };
        let request = pb::GetStatusRequest {
            host: self.host.clone(),
        };
        match tokio::time::timeout(PROBE_TIMEOUT, client.get_status(request)).await {
            Ok(Ok(reply)) => {
                self.client = Some(client);
                let r = reply.into_inner();
                Observation::Agent {
                    epoch: r.epoch,
                    lease_remaining_ms: r.lease_remaining_ms,
                    roles: r
                        .roles
                        .iter()
                        .map(|x| format!("{}({})", x.role, x.ip))
                        .collect(),
                    state: pb::HostState::try_from(r.state).map_or_else(
                        |_| format!("state {}", r.state),
                        |st| {
                            st.as_str_name()
                                .trim_start_matches("HOST_STATE_")
                                .to_owned()
                        },
                    ),
                    active_master: r.active_master,
                }
            }
            Ok(Err(status)) => down("agent", status.message()),
            Err(_) => down("agent", "no answer"),
        }
    }
}

/// A monitor's own Raft view over gRPC.
struct MonitorProbe {
    endpoint: String,
    client: Option<pb::control_client::ControlClient<tonic::transport::Channel>>,
}

impl Probe for MonitorProbe {
    async fn probe(&mut self) -> Observation {
        let mut client = match self.client.take() {
            Some(c) => c,
            None => match connect(&self.endpoint).await {
                Ok(ch) => pb::control_client::ControlClient::new(ch),
                Err(e) => return down("monitor", e),
            },
        };
        let request = pb::ClusterStatusRequest {};
        match tokio::time::timeout(PROBE_TIMEOUT, client.cluster_status(request)).await {
            Ok(Ok(reply)) => {
                self.client = Some(client);
                let r = reply.into_inner();
                Observation::Monitor {
                    this_id: r.this_id,
                    leader_id: r.leader_id,
                    leader_name: r.leader_name,
                    term: r.term,
                    epoch: r.epoch,
                }
            }
            Ok(Err(status)) => down("monitor", status.message()),
            Err(_) => down("monitor", "no answer"),
        }
    }
}

async fn connect(endpoint: &str) -> std::result::Result<tonic::transport::Channel, String> {
    let ep = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| e.to_string())?
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT);
    match tokio::time::timeout(PROBE_TIMEOUT, ep.connect()).await {
        Ok(Ok(ch)) => Ok(ch),
        Ok(Err(e)) => Err(format!("connect: {e}")),
        Err(_) => Err("connect timed out".to_owned()),
    }
}
