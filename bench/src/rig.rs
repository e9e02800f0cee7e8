//! One lab cluster a case's runs share: launched once per case with the case's timings and the
//! daemons logging JSON, brought back to a clean steady state before every run (everything
//! healed and running, every host ONLINE, writes landing through the writer VIP, every monitor
//! agreeing on one leader), and asked afterwards which acknowledged writes a server lacks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use mmm_lab::cluster::{Binaries, Cluster, ClusterOptions};
use mmm_lab::sampler::{Observation, Sampler};
use mmm_lab::topology::NodeMode;
use mmm_lab::users::TEST_DB;
use mysql_async::prelude::Queryable;

use crate::profiles::Profile;
use crate::recorder::{SCHEMA, TABLE};

/// Namespace tag of the benchmark's labs (`mmmb-<pid>-<n>-<host>`).
pub const LAB_TAG: &str = "mmmb";
/// How long a fresh cluster may take to put the writer on a host.
const BRING_UP: Duration = Duration::from_secs(180);
/// How long the cluster may take to be steady again after a run.
const STEADY_LIMIT: Duration = Duration::from_secs(120);
/// How often `set_online` is retried for a host waiting for it.
const SET_ONLINE_EVERY: Duration = Duration::from_secs(2);

/// The writer at the start of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// Its host.
    pub host: String,
    /// Its server's `server_id`.
    pub server_id: u32,
}

/// A cluster and what its runs need to share.
#[derive(Debug)]
pub struct Rig {
    /// The cluster.
    pub cluster: Cluster,
    /// The timings it runs with.
    pub profile: Profile,
    /// Row ids, unique over the whole benchmark.
    pub ids: Arc<AtomicU64>,
    /// Hosts a run powered off, to boot before the next one.
    powered_off: Vec<String>,
}

/// The options a case's cluster is launched with.
pub fn options(binaries: &Binaries, profile: &Profile, db_hosts: usize) -> ClusterOptions {
    let mut opts = ClusterOptions::new(LAB_TAG, binaries.clone());
    opts.timings = profile.timings.clone();
    opts.topology.slaves = db_hosts.saturating_sub(2);
    opts.log_json = true;
    opts
}

impl Rig {
    /// Launches the cluster, brings it online and creates the writes' table.
    pub fn launch(opts: ClusterOptions, profile: Profile, ids: Arc<AtomicU64>) -> Result<Self> {
        let cluster = Cluster::launch(opts).context("launching the lab cluster")?;
        cluster
            .bring_online(BRING_UP)
            .context("bringing the cluster online")?;
        let vip = cluster.writer_vip().to_string();
        cluster.wait_for("the writes' table", Duration::from_secs(30), || {
            cluster.app_exec(&vip, SCHEMA).is_ok()
        })?;
        Ok(Self {
            cluster,
            profile,
            ids,
            powered_off: Vec::new(),
        })
    }

    /// Powers `host` off (see [`Cluster::power_off`]); the next [`Rig::steady`] boots it.
    pub fn power_off(&mut self, host: &str) -> Result<()> {
        self.powered_off.push(host.to_owned());
        Ok(self.cluster.power_off(host)?)
    }

    /// Undoes what a run did (boots powered-off hosts, heals every link, starts every daemon and
    /// server that is down) and waits until the cluster is steady; returns the writer.
    pub fn steady(&mut self) -> Result<Writer> {
        for host in std::mem::take(&mut self.powered_off) {
            self.cluster.power_on(&host)?;
        }
        self.cluster.lab().heal_all()?;
        let daemons: Vec<String> = self
            .cluster
            .monitor_names()
            .into_iter()
            .chain(self.cluster.agent_names())
            .collect();
        for name in daemons {
            if !self.cluster.is_running(&name)? {
                self.cluster.start(&name)?;
            }
        }
        for host in self.cluster.agent_names() {
            let server = self.cluster.topology_mut().db_mut(&host)?;
            if !server.is_running() {
                block_on(server.start_again())??;
            }
        }
        self.wait_steady()
    }

    fn wait_steady(&self) -> Result<Writer> {
        let (tx, rx) = std::sync::mpsc::channel();
        let sampler = Sampler::start(&self.cluster, Duration::from_millis(100), tx)?;
        let deadline = Instant::now() + STEADY_LIMIT;
        let mut latest: BTreeMap<(String, &'static str), Observation> = BTreeMap::new();
        let mut asked: BTreeMap<String, Instant> = BTreeMap::new();
        let mut last_problem = String::new();
        while Instant::now() < deadline {
            for s in rx.try_iter() {
                latest.insert((s.host.clone(), probe_kind(&s.observation)), s.observation);
            }
            match self.steady_writer(&latest, &mut asked) {
                Ok(w) => {
                    sampler.stop();
                    return Ok(w);
                }
                Err(problem) => last_problem = format!("{problem:#}"),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        sampler.stop();
        bail!(
            "the cluster did not become steady within {STEADY_LIMIT:?}: {last_problem}\n{}",
            self.cluster.logs()
        )
    }

    /// The writer when the cluster is steady, else what is still wrong. Sets hosts waiting in
    /// AWAITING_RECOVERY online.
    fn steady_writer(
        &self,
        latest: &BTreeMap<(String, &'static str), Observation>,
        asked: &mut BTreeMap<String, Instant>,
    ) -> Result<Writer> {
        let c = &self.cluster;
        let show = c.mmmctl(&["--json", "show"])?;
        anyhow::ensure!(show.status.success(), "mmmctl show failed");
        let show: serde_json::Value = serde_json::from_slice(&show.stdout)?;
        let vip = c.writer_vip().to_string();
        let mut writer = None;
        let mut not_online = Vec::new();
        for h in show["hosts"].as_array().into_iter().flatten() {
            let name = h["name"].as_str().unwrap_or_default().to_owned();
            let state = h["state"].as_str().unwrap_or_default();
            if h["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["ip"].as_str() == Some(vip.as_str()))
            {
                writer = Some(name.clone());
            }
            if state == "AWAITING_RECOVERY"
                && asked
                    .get(&name)
                    .is_none_or(|t| t.elapsed() >= SET_ONLINE_EVERY)
            {
                asked.insert(name.clone(), Instant::now());
                let _ = c.mmmctl(&["set_online", &name]);
            }
            if state != "ONLINE" || h["agent_reachable"].as_bool() != Some(true) {
                not_online.push(format!("{name} {state}"));
            }
        }
        anyhow::ensure!(not_online.is_empty(), "not ONLINE: {not_online:?}");
        let host = writer.ok_or_else(|| anyhow!("no host holds the writer VIP"))?;
        anyhow::ensure!(c.has_ip(&host, &vip), "{host} lacks the writer VIP");
        self.replication_follows(&host)?;
        agreed_leader(c, latest)?;
        let probe = format!(
            "INSERT INTO {TABLE} (id, run, server_id) VALUES ({}, 0, @@server_id)",
            self.ids.fetch_add(1, Ordering::Relaxed)
        );
        c.app_exec(&vip, &probe)
            .context("a write through the writer VIP")?;
        let server_id = c.topology().db(&host)?.server_id();
        Ok(Writer { host, server_id })
    }

    /// Every slave replicates from the writer.
    fn replication_follows(&self, writer: &str) -> Result<()> {
        let c = &self.cluster;
        let writer_ip = c.topology().host(writer)?.ip().to_string();
        for node in &c.topology().nodes {
            if node.mode != NodeMode::Slave {
                continue;
            }
            let name = node.host.name();
            let source = c.master_host(name);
            anyhow::ensure!(
                source.as_deref() == Some(writer_ip.as_str()),
                "{name} replicates from {source:?}, not from the writer {writer}"
            );
        }
        Ok(())
    }

    /// How many of `acked` ids the server on `host` lacks.
    pub fn missing_on(&self, host: &str, acked: &[u64]) -> Result<u64> {
        let (Some(lo), Some(hi)) = (acked.iter().min(), acked.iter().max()) else {
            return Ok(0);
        };
        let db = self.cluster.topology().db(host)?;
        let sql = format!("SELECT id FROM {TEST_DB}.{TABLE} WHERE id BETWEEN {lo} AND {hi}");
        let present: Vec<u64> = block_on(async {
            let query = async {
                let mut conn = db.root_conn().await?;
                let rows: Vec<u64> = conn.query(&sql).await?;
                let _ = conn.disconnect().await;
                anyhow::Ok(rows)
            };
            tokio::time::timeout(Duration::from_secs(10), query)
                .await
                .map_err(|_| anyhow!("reading the acknowledged rows on {host} timed out"))?
        })??;
        let present: BTreeSet<u64> = present.into_iter().collect();
        Ok(acked.iter().filter(|id| !present.contains(id)).count() as u64)
    }
}

fn probe_kind(o: &Observation) -> &'static str {
    match o {
        Observation::Server { .. } => "server",
        Observation::Vips(_) => "vips",
        Observation::Agent { .. } => "agent",
        Observation::Monitor { .. } => "monitor",
        Observation::Down { what, .. } => what,
    }
}

/// Every monitor's latest Raft view names the same leader, and every agent answered.
fn agreed_leader(
    c: &Cluster,
    latest: &BTreeMap<(String, &'static str), Observation>,
) -> Result<()> {
    let mut leaders = BTreeSet::new();
    for m in c.monitor_names() {
        match latest.get(&(m.clone(), "monitor")) {
            Some(Observation::Monitor {
                leader_id,
                leader_name,
                ..
            }) if *leader_id != 0 => {
                leaders.insert(leader_name.clone());
            }
            other => bail!("monitor {m} knows no leader ({other:?})"),
        }
    }
    anyhow::ensure!(
        leaders.len() == 1,
        "monitors disagree on the leader: {leaders:?}"
    );
    for a in c.agent_names() {
        anyhow::ensure!(
            matches!(
                latest.get(&(a.clone(), "agent")),
                Some(Observation::Agent { .. })
            ),
            "agent {a} does not answer"
        );
    }
    Ok(())
}

/// Runs `fut` on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(fut: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building a tokio runtime")?;
    Ok(rt.block_on(fut))
}
