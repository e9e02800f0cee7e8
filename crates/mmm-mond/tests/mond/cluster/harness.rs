//! Three in-process monitors on loopback with redb stores in a tempdir, fed scripted check
//! results, commanding fake agents.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mmm_core::checks::CheckKind;
use mmm_core::config::{Config, Program};
use mmm_mond::checks::{CheckEvent, now};
use mmm_mond::monitor::{CheckSource, Monitor, MonitorOptions};
use mmm_mond::raft::Partition;
use mmm_proto::pb;
use mmm_proto::pb::control_client::ControlClient;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use super::fake_agent::FakeAgent;

pub const HOSTS: [&str; 3] = ["db1", "db2", "db3"];

/// Check lines that differ from "OK", by (monitor id, host, check).
pub type Overrides = Arc<Mutex<BTreeMap<(u64, String, CheckKind), String>>>;

pub struct MonCluster {
    _dir: tempfile::TempDir,
    pub text: String,
    pub config: Arc<Config>,
    pub agents: BTreeMap<String, FakeAgent>,
    pub monitors: BTreeMap<u64, Option<Monitor>>,
    pub partition: Partition,
    pub overrides: Overrides,
    pub control: BTreeMap<u64, SocketAddr>,
    feeders: BTreeMap<u64, (JoinHandle<()>, watch::Sender<bool>)>,
}

/// `n` distinct free ports: every listener is held until all are bound (one released at once
/// could be handed out again by the next bind).
pub async fn free_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    held.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

fn config_text(dir: &std::path::Path, agent_ports: &[u16], mons: &[(u16, u16)]) -> String {
    let mut s = String::from(
        "active_master_role writer\n<host default>\ncluster_interface eth0\nagent_user agent\nagent_password a\nmonitor_user monitor\nmonitor_password m\nreplication_user repl\nreplication_password r\n</host>\n",
    );
    let modes = ["master\npeer db2", "master\npeer db1", "slave"];
    for (i, h) in HOSTS.iter().enumerate() {
        s.push_str(&format!(
            "<host {h}>\nip 127.0.0.1\nmode {}\nagent_port {}\n</host>\n",
            modes[i], agent_ports[i]
        ));
    }
    s.push_str("<role writer>\nhosts db1, db2\nips 10.213.7.100\nmode exclusive\n</role>\n");
    s.push_str("<role reader>\nhosts db1, db2, db3\nips 10.213.7.101, 10.213.7.102, 10.213.7.103\nmode balanced\n</role>\n");
    s.push_str("<check default>\ncheck_period 0.1\ntrap_period 0.5\n</check>\n");
    s.push_str(&format!(
        "<monitor>\npid_path {}/mond.pid\nping_ips 127.0.0.1\nagent_lease 2\nstatus_interval 0.3\nagent_timeout 0.5\nlease_margin 0.6\n</monitor>\n",
        dir.display()
    ));
    for (i, (c, r)) in mons.iter().enumerate() {
        let n = i + 1;
        s.push_str(&format!(
            "<monitor mon{n}>\nip 127.0.0.1\nport {c}\nraft_port {r}\ndata_dir {}/mon{n}\n</monitor>\n",
            dir.display()
        ));
    }
    s
}

/// The config as monitor `id` reads it (`this_monitor monID`).
fn load(text: &str, id: u64) -> Arc<Config> {
    let text = format!("{text}this_monitor mon{id}\n");
    match mmm_core::config::load_str(&text, "test.conf", Program::Monitor) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("test config: {e}\n{text}"),
    }
}

impl MonCluster {
    pub async fn start(n: usize) -> MonCluster {
        Self::start_with(n, |_| {}).await
    }

    /// Starts the fake agents, lets `setup` prepare them, then starts `n` monitors.
    pub async fn start_with(
        n: usize,
        setup: impl FnOnce(&BTreeMap<String, FakeAgent>),
    ) -> MonCluster {
        Self::start_tuned(n, setup, |text| text).await
    }

    /// Like [`MonCluster::start_with`], with the config text edited by `tune` first.
    pub async fn start_tuned(
        n: usize,
        setup: impl FnOnce(&BTreeMap<String, FakeAgent>),
        tune: impl FnOnce(String) -> String,
    ) -> MonCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut agents = BTreeMap::new();
        let mut agent_ports = Vec::new();
        for h in HOSTS {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            agent_ports.push(l.local_addr().expect("addr").port());
            agents.insert(h.to_string(), FakeAgent::start(h, l).await);
        }
        setup(&agents);
        let ports = free_ports(2 * n).await;
        let mons: Vec<(u16, u16)> = ports.chunks(2).map(|p| (p[0], p[1])).collect();
        let text = tune(config_text(dir.path(), &agent_ports, &mons));
        let config = load(&text, 1);
        let control = config
            .monitor_nodes
            .iter()
            .map(|m| (m.id, SocketAddr::new(m.ip, m.port)))
            .collect();
        let mut c = MonCluster {
            _dir: dir,
            text,
            config,
            agents,
            monitors: BTreeMap::new(),
            partition: Partition::new(),
            overrides: Arc::new(Mutex::new(BTreeMap::new())),
            control,
            feeders: BTreeMap::new(),
        };
        let ids: Vec<u64> = c.config.monitor_nodes.iter().map(|m| m.id).collect();
        for id in ids {
            c.start_monitor(id).await;
        }
        c
    }

    pub async fn start_monitor(&mut self, id: u64) {
        let name = format!("mon{id}");
        let (tx, rx) = mpsc::channel(1024);
        let (net_tx, net_rx) = watch::channel(true);
        let overrides = self.overrides.clone();
        let feeder = tokio::spawn(async move {
            loop {
                for h in HOSTS {
                    for k in CheckKind::ALL {
                        let line = overrides
                            .lock()
                            .expect("lock")
                            .get(&(id, h.to_string(), k))
                            .cloned()
                            .unwrap_or_else(|| "OK".to_string());
                        let ev = CheckEvent {
                            host: h.to_string(),
                            kind: k,
                            line,
                            at: now(),
                            took: Duration::ZERO,
                        };
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let opts = MonitorOptions {
            config: load(&self.text, id),
            this: Some(name),
            checks: CheckSource::Events(rx, net_rx),
            partition: self.partition.clone(),
            tweak: None,
            join: false,
        };
        let m = Monitor::start(opts).await.expect("monitor starts");
        self.monitors.insert(id, Some(m));
        self.feeders.insert(id, (feeder, net_tx));
    }

    /// Stops a monitor abruptly (no hand-over), like kill -9.
    pub async fn kill(&mut self, id: u64) {
        if let Some((f, _)) = self.feeders.remove(&id) {
            f.abort();
        }
        if let Some(Some(m)) = self.monitors.insert(id, None) {
            m.shutdown().await;
        }
    }

    pub fn monitor(&self, id: u64) -> &Monitor {
        self.monitors[&id].as_ref().expect("running monitor")
    }

    /// The id of the node that leads (as the leader itself says).
    pub fn leader(&self) -> Option<u64> {
        self.monitors
            .iter()
            .filter_map(|(id, m)| m.as_ref().map(|m| (id, m)))
            .find(|(_, m)| m.node().is_leader())
            .map(|(id, _)| *id)
    }

    pub async fn wait_leader(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader() {
                return l;
            }
            assert!(Instant::now() < deadline, "no leader within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The leader once every running monitor names it in the same term: right after start a
    /// monitor may still think it leads a term another has already replaced.
    pub async fn wait_agreed_leader(&self, timeout: Duration) -> (u64, u64) {
        let deadline = Instant::now() + timeout;
        loop {
            let seen: Vec<(Option<u64>, u64)> = self
                .monitors
                .values()
                .flatten()
                .map(|m| {
                    let metrics = m.node().metrics().borrow().clone();
                    (metrics.current_leader, metrics.current_term)
                })
                .collect();
            if let (Some((Some(l), term)), Some(lead)) = (seen.first().copied(), self.leader())
                && lead == l
                && seen.iter().all(|s| *s == (Some(l), term))
            {
                return (l, term);
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader within {timeout:?}: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn followers(&self) -> Vec<u64> {
        let l = self.leader();
        self.monitors
            .iter()
            .filter(|(id, m)| m.is_some() && Some(**id) != l)
            .map(|(id, _)| *id)
            .collect()
    }

    pub async fn client(&self, id: u64) -> ControlClient<Channel> {
        let ch = tonic::transport::Endpoint::from_shared(format!("http://{}", self.control[&id]))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connect control");
        ControlClient::new(ch)
    }

    pub async fn command(&self, id: u64, args: &[&str]) -> Result<pb::CommandReply, tonic::Status> {
        let mut c = self.client(id).await;
        c.command(pb::CommandRequest {
            args: args.iter().map(|a| a.to_string()).collect(),
        })
        .await
        .map(|r| r.into_inner())
    }

    pub async fn show(&self, id: u64) -> Result<pb::ShowReply, tonic::Status> {
        self.show_as(id, false).await
    }

    /// `show` on monitor `id`, accepting its own last state when it has no quorum.
    pub async fn show_as(&self, id: u64, stale_ok: bool) -> Result<pb::ShowReply, tonic::Status> {
        self.client(id)
            .await
            .show(pb::ShowRequest { stale_ok })
            .await
            .map(|r| r.into_inner())
    }

    /// Waits until `cond` holds on the leader's replicated state.
    pub async fn wait_state(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&mmm_core::state::ClusterState) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader() {
                let ok = self
                    .monitor(l)
                    .node()
                    .with_state(|m| m.cluster().is_some_and(&cond));
                if ok {
                    return;
                }
            }
            if Instant::now() > deadline {
                let st = self.leader().map(|l| {
                    self.monitor(l)
                        .node()
                        .with_state(|m| format!("{:?}", m.cluster()))
                });
                panic!("{what}: not reached within {timeout:?}; leader state: {st:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Brings the fresh cluster to db1 writer, everything ONLINE.
    pub async fn bring_online(&self) {
        let leader = self.wait_leader(Duration::from_secs(10)).await;
        self.wait_state("startup", Duration::from_secs(10), |s| s.started)
            .await;
        // A follower forwards every command to the leader.
        let via = self.followers().first().copied().unwrap_or(leader);
        for h in HOSTS {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let r = self
                    .command(via, &["set_online", h])
                    .await
                    .expect("set_online answered");
                if r.ok {
                    break;
                }
                // The leader may not have merged every monitor's checks yet.
                assert!(Instant::now() < deadline, "set_online {h}: {}", r.text);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        self.wait_state("db1 writer", Duration::from_secs(10), |s| {
            s.roles_of("db1").iter().any(|r| r.role == "writer")
        })
        .await;
    }

    pub async fn shutdown(mut self) {
        let ids: Vec<u64> = self.monitors.keys().copied().collect();
        for id in ids {
            self.kill(id).await;
        }
        for a in self.agents.values() {
            a.stop();
        }
    }
}
