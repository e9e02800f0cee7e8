//! The seeds' topology in the lab with real mmm-agentd on every database host, three real
//! mmm-mond processes in their own namespaces, and a client namespace for mmmctl and the
//! application's writes.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mmm_lab::users::{APP_PASSWORD, APP_USER, TEST_DB};
use mmm_lab::{Host, Lab, LabProcess, Topology, TopologySpec, write_private_file};
use mysql_async::prelude::Queryable;

pub const WRITER_IP: &str = "10.213.7.100";
pub const MONITORS: [(&str, u8); 3] = [("mon1", 21), ("mon2", 22), ("mon3", 23)];

/// A built workspace binary next to this test's executable (target/debug/NAME).
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "mmm-agentd", "-p", "mmmctl"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building mmm-agentd and mmmctl failed");
    });
    if name == "mmm-mond" {
        return PathBuf::from(env!("CARGO_BIN_EXE_mmm-mond"));
    }
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing", p.display());
    p
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub struct LabCluster {
    pub lab: Lab,
    pub topo: Topology,
    pub client: Host,
    pub monitors: Vec<(String, Host, Option<LabProcess>)>,
    pub agents: Vec<(String, LabProcess)>,
    common: String,
}

impl LabCluster {
    pub fn start(tag: &str) -> Option<LabCluster> {
        if !mmm_lab::have_root() {
            eprintln!("skipping: the lab needs root");
            return None;
        }
        let lab = Lab::new_unique(tag).expect("lab");
        let topo = runtime()
            .block_on(Topology::start(&lab, &TopologySpec::default()))
            .expect("topology");
        let client = lab.add_host("client", 50).expect("client host");
        let mut monitors = Vec::new();
        for (name, octet) in MONITORS {
            monitors.push((
                name.to_string(),
                lab.add_host(name, octet).expect("monitor host"),
                None,
            ));
        }
        let mut common = lab.mmm_config(&topo);
        common.push_str(
            "\n<check default>\n    check_period 0.2\n    trap_period 0.8\n    timeout 1\n</check>\n",
        );
        common.push_str(&format!(
            "\n<monitor>\n    pid_path {dir}/mond.pid\n    ping_ips 10.213.7.11, 10.213.7.12, 10.213.7.13\n    agent_lease 2\n    status_interval 0.3\n    agent_timeout 1\n    lease_margin 0.5\n</monitor>\n",
            dir = lab.dir().display()
        ));
        for (name, octet) in MONITORS {
            common.push_str(&format!(
                "\n<monitor {name}>\n    ip 10.213.7.{octet}\n    data_dir {}/{name}/raft\n</monitor>\n",
                lab.dir().display()
            ));
        }
        let mut c = LabCluster {
            lab,
            topo,
            client,
            monitors,
            agents: Vec::new(),
            common,
        };
        for db in ["db1", "db2", "db3"] {
            c.start_agent(db);
        }
        for i in 0..MONITORS.len() {
            c.start_monitor(i);
        }
        Some(c)
    }

    fn dir(&self, name: &str) -> PathBuf {
        let d = self.lab.dir().join(name);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir(name).join("daemon.log")).unwrap_or_default()
    }

    fn start_agent(&mut self, name: &str) {
        let dir = self.dir(name);
        let conf = dir.join("mmm_agent.conf");
        write_private_file(&conf, &format!("{}\nthis {name}\n", self.common))
            .expect("agent config");
        let host = self.topo.node(name).expect("node").host.clone();
        let p = host
            .spawn(
                bin("mmm-agentd"),
                &[
                    "--config",
                    conf.to_str().expect("utf8"),
                    "--state-dir",
                    dir.join("state").to_str().expect("utf8"),
                    "--pid-file",
                    dir.join("agentd.pid").to_str().expect("utf8"),
                    "--io-timeout-ms",
                    "1000",
                ],
                &[("RUST_LOG", "info")],
                dir.join("daemon.log"),
            )
            .expect("spawn agent");
        self.agents.push((name.to_string(), p));
    }

    pub fn monitor_conf(&self, name: &str) -> PathBuf {
        let conf = self.dir(name).join("mmm_mon.conf");
        // Each monitor process has its own pid file (a later <monitor> section overrides).
        let pid = self.lab.dir().join(name).join("mond.pid");
        let text = format!(
            "{}\n<monitor>\n    pid_path {}\n</monitor>\nthis_monitor {name}\n",
            self.common,
            pid.display()
        );
        write_private_file(&conf, &text).expect("config");
        conf
    }

    pub fn start_monitor(&mut self, i: usize) {
        let name = self.monitors[i].0.clone();
        let conf = self.monitor_conf(&name);
        let log = self.dir(&name).join("daemon.log");
        let p = self.monitors[i]
            .1
            .spawn(
                bin("mmm-mond"),
                &["--config", conf.to_str().expect("utf8")],
                &[("RUST_LOG", "info,openraft=error")],
                log,
            )
            .expect("spawn monitor");
        self.monitors[i].2 = Some(p);
    }

    /// kill -9 of monitor `i`.
    pub fn kill_monitor(&mut self, i: usize) {
        if let Some(mut p) = self.monitors[i].2.take() {
            p.kill_and_wait().expect("kill -9 monitor");
        }
    }

    /// Runs mmmctl in the client namespace; returns (success, stdout+stderr).
    pub fn mmmctl(&self, args: &[&str]) -> (bool, String) {
        let conf = self.monitor_conf("mon1");
        let mut full = vec!["--config", conf.to_str().expect("utf8")];
        full.extend_from_slice(args);
        match self
            .client
            .exec(bin("mmmctl").to_str().expect("utf8"), &full)
        {
            Ok(out) => (true, out),
            Err(e) => (false, e.to_string()),
        }
    }

    /// Index of the monitor whose ClusterStatus names itself leader.
    pub fn leader_index(&self) -> Option<usize> {
        let (ok, out) = self.mmmctl(&["--json", "cluster", "status"]);
        if !ok {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        let name = v.get("leader_name")?.as_str()?.to_string();
        self.monitors.iter().position(|(n, _, _)| *n == name)
    }

    pub fn has_ip(&self, db: &str, ip: &str) -> bool {
        let host = &self.topo.node(db).expect("node").host;
        host.exec("ip", &["-4", "-o", "addr", "show", "dev", "eth0"])
            .map(|out| out.contains(&format!("inet {ip}/32")))
            .unwrap_or(false)
    }

    /// Runs `sql` as the application user from the client namespace against `ip`.
    pub fn app_exec(&self, ip: &str, sql: &str) -> Result<(), String> {
        let ip = ip.to_string();
        let sql = sql.to_string();
        self.client
            .block_on(async move {
                let opts = mysql_async::OptsBuilder::default()
                    .ip_or_hostname(ip)
                    .tcp_port(3306)
                    .user(Some(APP_USER))
                    .pass(Some(APP_PASSWORD))
                    .db_name(Some(TEST_DB))
                    .prefer_socket(false);
                let mut c =
                    tokio::time::timeout(Duration::from_secs(3), mysql_async::Conn::new(opts))
                        .await
                        .map_err(|_| "connect timed out".to_string())?
                        .map_err(|e| e.to_string())?;
                let r = c.query_drop(sql).await.map_err(|e| e.to_string());
                let _ = c.disconnect().await;
                r
            })
            .map_err(|e| e.to_string())?
    }

    /// Master_Host of `db`'s replication.
    pub fn master_host(&self, db: &str) -> Option<String> {
        let d = self.topo.db(db).ok()?;
        runtime()
            .block_on(mmm_lab::replication::slave_status(d))
            .ok()
            .flatten()
            .map(|s| s.master_host().to_string())
    }

    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut cond: impl FnMut() -> bool,
    ) -> Duration {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond() {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{what}: not reached within {limit:?}\n{}", self.logs());
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for (name, _, _) in &self.monitors {
            s.push_str(&format!("--- {name} ---\n{}\n", tail(&self.log(name), 60)));
        }
        for (name, _) in &self.agents {
            s.push_str(&format!(
                "--- agent {name} ---\n{}\n",
                tail(&self.log(name), 30)
            ));
        }
        s.push_str(&format!("--- show ---\n{}\n", self.mmmctl(&["show"]).1));
        s
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
