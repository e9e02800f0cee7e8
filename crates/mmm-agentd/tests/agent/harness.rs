//! A lab with the seeds' topology, a client namespace, and helpers to run agents and talk to them.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mmm_core::state::HostState;
use mmm_lab::users::{APP_PASSWORD, APP_USER, TEST_DB};
use mmm_lab::{Host, Lab, LabProcess, MmmConfig, Topology, TopologySpec, write_private_file};
use mmm_proto::pb::agent_client::AgentClient;
use mmm_proto::{convert, pb};
use mysql_async::prelude::Queryable;
use tonic::transport::Channel;

/// The writer VIP of lab configs.
pub const WRITER_IP: &str = "10.213.7.100";

/// A running lab: topology, client host, agent processes.
pub struct Cluster {
    pub lab: Lab,
    pub topo: Topology,
    pub client: Host,
    pub agents: Vec<(String, LabProcess)>,
    extra_config: String,
    /// The lease basis of each agent's latest reply, echoed in pushes as a leader does.
    bases: Mutex<BTreeMap<String, pb::LeaseBasis>>,
}

/// None (with a message) when not root: the lab needs namespaces.
pub fn cluster(tag: &str, spec: TopologySpec, extra_config: &str) -> Option<Cluster> {
    if !mmm_lab::lab_available(tag) {
        return None;
    }
    let lab = Lab::new_unique(tag).expect("lab");
    let topo = runtime()
        .block_on(Topology::start(&lab, &spec))
        .expect("topology");
    let client = lab.add_host("client", 50).expect("client host");
    Some(Cluster {
        lab,
        topo,
        client,
        agents: Vec::new(),
        extra_config: extra_config.to_string(),
        bases: Mutex::new(BTreeMap::new()),
    })
}

/// The `mmm-agentd` program, built through the lab's one build helper (the same build and
/// feature set every lab test uses, so the daemons are compiled once per run).
fn agentd() -> std::path::PathBuf {
    mmm_lab::build_binaries()
        .expect("build mmm-agentd, mmm-mond and mmmctl")
        .agentd
}

/// A small runtime for root-namespace async work (starting MariaDB etc.).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

impl Cluster {
    /// The lab host called `name`.
    pub fn host(&self, name: &str) -> Host {
        self.topo.node(name).expect("node").host.clone()
    }

    fn host_dir(&self, name: &str) -> PathBuf {
        let d = self.lab.dir().join(name);
        std::fs::create_dir_all(&d).expect("host dir");
        d
    }

    /// The agent log of `name`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.host_dir(name).join("agentd.log")
    }

    /// The agent log text of `name`.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Writes `mmm_agent.conf` for `name` and starts the agent in its namespace; waits for Ping.
    pub fn start_agent(&mut self, name: &str) {
        let dir = self.host_dir(name);
        let mut text = MmmConfig::for_topology(&self.topo, self.lab.dir()).render();
        text.push_str(&format!("\nthis {name}\n{}\n", self.extra_config));
        let conf = dir.join("mmm_agent.conf");
        write_private_file(&conf, &text).expect("config");
        let state = dir.join("state");
        let pid = dir.join("agentd.pid");
        let host = self.host(name);
        let proc = host
            .spawn(
                agentd(),
                &[
                    "--config",
                    conf.to_str().expect("utf8"),
                    "--state-dir",
                    state.to_str().expect("utf8"),
                    "--pid-file",
                    pid.to_str().expect("utf8"),
                    "--io-timeout-ms",
                    "1000",
                    "--startup-lease-ms",
                    "1500",
                ],
                &[("RUST_LOG", "info")],
                self.log_path(name),
            )
            .expect("spawn agent");
        self.agents.push((name.to_string(), proc));
        let deadline = Instant::now() + Duration::from_secs(10);
        self.bases.lock().expect("lock").remove(name);
        loop {
            let reply = self.call(name, |mut c, host| async move {
                c.ping(pb::PingRequest { host }).await
            });
            if let Ok(r) = reply {
                self.learn(name, r.report.as_ref());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "agent on {name} did not come up; log:\n{}",
                self.log(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the agent of `name` with SIGKILL (no cleanup) and waits for it.
    pub fn kill_agent(&mut self, name: &str) {
        let idx = self
            .agents
            .iter()
            .position(|(n, _)| n == name)
            .expect("agent running");
        let (_, mut proc) = self.agents.remove(idx);
        proc.kill_and_wait().expect("kill -9 agent");
    }

    /// Starts a second agent process for `name` (same files) without waiting for it.
    pub fn spawn_second_agent(&self, name: &str) -> LabProcess {
        let dir = self.host_dir(name);
        let conf = dir.join("mmm_agent.conf");
        let state = dir.join("state");
        let pid = dir.join("agentd.pid");
        self.host(name)
            .spawn(
                agentd(),
                &[
                    "--config",
                    conf.to_str().expect("utf8"),
                    "--state-dir",
                    state.to_str().expect("utf8"),
                    "--pid-file",
                    pid.to_str().expect("utf8"),
                ],
                &[],
                self.log_path(name),
            )
            .expect("spawn second agent")
    }

    /// Sends `signal` to the agent of `name` (it keeps running, e.g. SIGSTOP / SIGCONT).
    pub fn signal_agent(&mut self, name: &str, signal: i32) {
        let (_, proc) = self
            .agents
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("agent running");
        proc.kill(signal).expect("signal agent");
    }

    /// Sends SIGTERM to the agent of `name` and waits for it to exit.
    pub fn stop_agent(&mut self, name: &str) {
        let idx = self
            .agents
            .iter()
            .position(|(n, _)| n == name)
            .expect("agent running");
        let (_, mut proc) = self.agents.remove(idx);
        proc.kill(libc::SIGTERM).expect("sigterm");
        let status = proc.wait_exit(Duration::from_secs(10)).expect("wait");
        assert!(status.is_some(), "agent on {name} did not exit on SIGTERM");
    }

    /// Runs one gRPC call from the client namespace against the agent of `name`.
    pub fn call<T, F, Fut>(&self, name: &str, f: F) -> Result<T, tonic::Status>
    where
        F: FnOnce(AgentClient<Channel>, String) -> Fut + Send,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>> + Send,
        T: Send,
    {
        let ip = self.host(name).ip();
        let host = name.to_string();
        self.client
            .block_on(async move {
                let ch = Channel::from_shared(format!("http://{ip}:9989"))
                    .map_err(|e| tonic::Status::internal(e.to_string()))?
                    .connect_timeout(Duration::from_secs(2))
                    .timeout(Duration::from_secs(30))
                    .connect()
                    .await
                    .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                f(AgentClient::new(ch), host).await.map(|r| r.into_inner())
            })
            .expect("client namespace")
    }

    /// SetStatus with the given roles (`(role, ip)`), epoch and lease, echoing the agent's
    /// latest lease basis as a leader does (pinging it first when none is known yet).
    pub fn set_status(
        &self,
        name: &str,
        state: &str,
        roles: &[(&str, &str)],
        active_master: &str,
        epoch: u64,
        lease_ms: u64,
    ) -> Result<pb::SetStatusReply, tonic::Status> {
        let basis = match self.basis(name) {
            Some(b) => b,
            None => self.ping_basis(name).1,
        };
        let mut req = status_req(name, roles, active_master, epoch, lease_ms);
        req.state = convert::state_to_wire(state.parse::<HostState>().expect("state name"));
        req.basis = Some(basis);
        self.send_status(name, req)
    }

    /// Sends `req` as it is and learns the basis of the reply.
    pub fn send_status(
        &self,
        name: &str,
        req: pb::SetStatusRequest,
    ) -> Result<pb::SetStatusReply, tonic::Status> {
        let reply = self.call(name, move |mut c, _| async move { c.set_status(req).await });
        if let Ok(r) = &reply {
            self.learn(name, r.report.as_ref());
        }
        reply
    }

    /// The basis of the agent's latest reply seen, if any.
    pub fn basis(&self, name: &str) -> Option<pb::LeaseBasis> {
        self.bases.lock().expect("lock").get(name).cloned()
    }

    /// Remembers the basis a reply of `name` carried.
    pub fn learn(&self, name: &str, report: Option<&pb::AgentReport>) {
        if let Some(b) = report.and_then(convert::basis_of) {
            self.bases.lock().expect("lock").insert(name.to_string(), b);
        }
    }

    /// Pings `name` and returns the instants right before the request and right after the
    /// reply around the basis it carries: the agent read its clock between the two.
    pub fn ping_basis(&self, name: &str) -> (Instant, pb::LeaseBasis, Instant) {
        let ip = self.host(name).ip().to_string();
        let host = name.to_string();
        let (before, reply, after) = self
            .client
            .block_on(async move {
                let mut agent = connect_agent(&ip).await;
                let before = Instant::now();
                let reply = agent.ping(pb::PingRequest { host }).await;
                (before, reply, Instant::now())
            })
            .expect("client namespace");
        let reply = reply.expect("ping").into_inner();
        self.learn(name, reply.report.as_ref());
        let basis = reply
            .report
            .as_ref()
            .and_then(convert::basis_of)
            .expect("ping reply carries a lease basis");
        (before, basis, after)
    }

    /// GetStatus of the agent of `name`.
    pub fn get_status(&self, name: &str) -> pb::AgentStatusReply {
        let reply = self
            .call(name, |mut c, host| async move {
                c.get_status(pb::GetStatusRequest { host }).await
            })
            .expect("get_status");
        self.learn(name, reply.report.as_ref());
        reply
    }

    /// Addresses on eth0 of `name`, as `ip -4 addr` prints them.
    pub fn addresses(&self, name: &str) -> String {
        self.host(name)
            .exec("ip", &["-4", "-o", "addr", "show", "dev", "eth0"])
            .expect("ip addr")
    }

    /// True when `ip/32` is on eth0 of `name`.
    pub fn has_ip(&self, name: &str, ip: &str) -> bool {
        self.addresses(name).contains(&format!("inet {ip}/32"))
    }

    /// The MAC of eth0 on `name`.
    pub fn mac(&self, name: &str) -> String {
        let out = self
            .host(name)
            .exec("cat", &["/sys/class/net/eth0/address"])
            .expect("mac");
        out.trim().to_string()
    }

    /// The client's neighbour entry for `ip` (`ip neigh show`).
    pub fn client_neigh(&self, ip: &str) -> String {
        self.client
            .exec("ip", &["neigh", "show", ip, "dev", "eth0"])
            .expect("ip neigh")
    }

    /// Runs `sql` as root on `name`'s server through its socket.
    pub fn root_exec(&self, name: &str, sql: &str) {
        let db = self.topo.db(name).expect("db");
        runtime()
            .block_on(db.exec(sql))
            .unwrap_or_else(|e| panic!("{sql} on {name}: {e}"));
    }

    /// `@@read_only` of `name` through root's socket.
    pub fn read_only(&self, name: &str) -> bool {
        self.query_read_only(name).expect("read_only")
    }

    /// `@@read_only` of `name`, `None` when root's session fails (a poll waiting for a server
    /// that was just resumed from SIGSTOP reads again instead of stopping the test).
    pub fn try_read_only(&self, name: &str) -> Option<bool> {
        self.query_read_only(name).ok()
    }

    fn query_read_only(&self, name: &str) -> mmm_lab::Result<bool> {
        let db = self.topo.db(name).expect("db");
        let v = runtime().block_on(db.query_value("SELECT @@GLOBAL.read_only"))?;
        Ok(v.as_deref() == Some("1"))
    }

    /// Opens an application session from the client namespace to `ip` and runs `sql`.
    pub fn app_exec(&self, ip: &str, sql: &str) -> Result<(), mysql_async::Error> {
        let ip = ip.to_string();
        let sql = sql.to_string();
        self.client
            .block_on(async move {
                let mut c = app_conn(&ip).await?;
                let r = c.query_drop(sql).await;
                let _ = c.disconnect().await;
                r
            })
            .expect("client namespace")
    }

    /// Waits up to `limit` for `cond`, polling every 20 ms; returns the time it took.
    pub fn wait_for(&self, limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond() {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// An application connection (non-privileged user) to `ip:3306`.
pub async fn app_conn(ip: &str) -> Result<mysql_async::Conn, mysql_async::Error> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(ip.to_string())
        .tcp_port(3306)
        .user(Some(APP_USER))
        .pass(Some(APP_PASSWORD))
        .db_name(Some(TEST_DB))
        .prefer_socket(false);
    tokio::time::timeout(Duration::from_secs(3), mysql_async::Conn::new(opts))
        .await
        .map_err(|_| {
            mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            )))
        })?
}

/// The server error code of a failed statement, if it was a server error.
pub fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(se) => Some(se.code),
        _ => None,
    }
}

/// `10.213.7.N`.
pub fn lab_ip(octet: u8) -> String {
    Ipv4Addr::new(10, 213, 7, octet).to_string()
}

/// A gRPC client to the agent at `ip` (call from inside a namespace).
pub async fn connect_agent(ip: &str) -> AgentClient<Channel> {
    let ch = Channel::from_shared(format!("http://{ip}:9989"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect agent");
    AgentClient::new(ch)
}

/// A SetStatus request.
pub fn status_req(
    host: &str,
    roles: &[(&str, &str)],
    active_master: &str,
    epoch: u64,
    lease_ms: u64,
) -> pb::SetStatusRequest {
    pb::SetStatusRequest {
        host: host.to_string(),
        fence: Some(pb::Fence {
            epoch,
            term: 1,
            leader_id: 1,
        }),
        state: convert::state_to_wire(HostState::Online),
        roles: roles
            .iter()
            .map(|(r, ip)| pb::RoleIp {
                role: (*r).to_string(),
                ip: (*ip).to_string(),
            })
            .collect(),
        active_master: active_master.to_string(),
        lease_ms,
        basis: None,
        status_interval_ms: 0,
    }
}

impl Drop for Cluster {
    /// With `MMM_TEST_SHOW_LOGS` set, prints every agent log (the lab directory is deleted next).
    fn drop(&mut self) {
        if std::env::var_os("MMM_TEST_SHOW_LOGS").is_none() {
            return;
        }
        for node in &self.topo.nodes {
            let log = self.log(node.host.name());
            if !log.is_empty() {
                eprintln!("===== agent log of {} =====\n{log}", node.host.name());
            }
        }
    }
}

impl Cluster {
    /// Polls eth0 of `name` through netlink every 5 ms (inside its namespace) and returns the
    /// instant `ip` was first seen absent, or `None` after `limit`.
    pub fn wait_ip_gone(&self, name: &str, ip: &str, limit: Duration) -> Option<Instant> {
        use futures_util::TryStreamExt;
        use rtnetlink::packet_route::address::AddressAttribute;
        let ip: std::net::IpAddr = ip.parse().expect("ip");
        self.host(name)
            .block_on(async move {
                let (conn, handle, _) = rtnetlink::new_connection().expect("netlink");
                tokio::spawn(conn);
                let start = Instant::now();
                while start.elapsed() < limit {
                    let mut present = false;
                    let mut stream = handle.address().get().execute();
                    while let Ok(Some(msg)) = stream.try_next().await {
                        present |= msg.attributes.iter().any(|a| {
                            matches!(a, AddressAttribute::Local(x) | AddressAttribute::Address(x) if *x == ip)
                        });
                    }
                    if !present {
                        return Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                None
            })
            .expect("host namespace")
    }
}
