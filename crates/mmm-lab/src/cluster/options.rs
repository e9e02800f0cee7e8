//! What a lab cluster is launched with: the programs, the timings and the options, checked
//! before anything starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::lab::{CLIENT_OCTET, MONITOR_OCTET_BASE};
use crate::mmm_config::RoleLayout;
use crate::topology::TopologySpec;

/// Most monitors a cluster can have (10.213.7.21 up to the client's .50).
pub const MAX_MONITORS: usize = (CLIENT_OCTET - MONITOR_OCTET_BASE - 1) as usize;
/// Most slaves (db3…db30; see [`crate::topology::db_octet`] for their addresses).
pub const MAX_SLAVES: usize = crate::topology::MAX_DB_HOSTS - 2;

/// Paths of the three programs the cluster runs; the caller builds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// `mmm-agentd`.
    pub agentd: PathBuf,
    /// `mmm-mond`.
    pub mond: PathBuf,
    /// `mmmctl`.
    pub mmmctl: PathBuf,
}

impl Binaries {
    /// The three programs inside `dir` (e.g. `target/debug`).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            agentd: dir.join("mmm-agentd"),
            mond: dir.join("mmm-mond"),
            mmmctl: dir.join("mmmctl"),
        }
    }

    /// Fails with the list of programs that are not files.
    pub fn check(&self) -> Result<()> {
        let missing: Vec<String> = [&self.agentd, &self.mond, &self.mmmctl]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LabError::Unsupported(format!(
                "missing program(s): {} (build them with `cargo build --workspace --bins`)",
                missing.join(", ")
            )))
        }
    }
}

/// `<target>/<kind>/<unix seconds><suffix>`, where `<target>` is the cargo target directory
/// holding `exe_dir` (else `exe_dir` itself): where a lab program's run keeps its results, so
/// runs never overwrite each other.
pub fn results_path(exe_dir: &Path, kind: &str, suffix: &str) -> PathBuf {
    let target = exe_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .unwrap_or(exe_dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    target.join(kind).join(format!("{now}{suffix}"))
}

/// The cluster's timing knobs; the defaults are short so tests see failovers within seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// `<check default> check_period`.
    pub check_period: Duration,
    /// `<check default> trap_period`.
    pub trap_period: Duration,
    /// `<check default> timeout`.
    pub check_timeout: Duration,
    /// `check_period` of `<check rep_threads>` and `<check rep_backlog>` when set; `None`
    /// leaves them at `check_period`. They decide a slave's replication states and no
    /// failover's speed, so the fast profile reads replication once a second while `ping` and
    /// `mysql` run every 0.2 s.
    pub replication_check_period: Option<Duration>,
    /// `<monitor> agent_lease`: how long a writer stays writable without hearing the leader.
    pub agent_lease: Duration,
    /// `<monitor> status_interval`: how often the leader pushes status (and renews leases).
    pub status_interval: Duration,
    /// `<monitor> agent_timeout`: deadline of one agent call.
    pub agent_timeout: Duration,
    /// `<monitor> lease_margin`: extra wait before a lease counts as surely expired.
    pub lease_margin: Duration,
    /// `mmm-agentd --io-timeout-ms`: deadline of each MySQL and netlink call of the agents.
    pub agent_io_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            check_period: Duration::from_millis(200),
            trap_period: Duration::from_millis(800),
            check_timeout: Duration::from_secs(1),
            replication_check_period: Some(Duration::from_secs(1)),
            agent_lease: Duration::from_secs(2),
            status_interval: Duration::from_millis(300),
            agent_timeout: Duration::from_secs(1),
            lease_margin: Duration::from_millis(600),
            agent_io_timeout: Duration::from_secs(1),
        }
    }
}

/// What to launch. Start from [`ClusterOptions::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Lab tag: namespaces are `<tag>-<pid>-<n>-<host>`.
    pub tag: String,
    /// Number of monitors (`mon1`…); default 3.
    pub monitors: usize,
    /// Slaves and replication mode (GTID or binlog coordinates) of the seeds' topology.
    pub topology: TopologySpec,
    /// Which hosts hold which roles; `None` is the lab's default (writer on the masters, one
    /// reader VIP per host on every host).
    pub roles: Option<RoleLayout>,
    /// Check, lease and status timings.
    pub timings: Timings,
    /// The programs to run.
    pub binaries: Binaries,
    /// Extra configuration text appended to every daemon's file (before `this`).
    pub extra_config: String,
    /// `RUST_LOG` of the agents.
    pub agent_log_filter: String,
    /// `RUST_LOG` of the monitors.
    pub monitor_log_filter: String,
    /// The script that makes a test CA and per-host certificates (`deploy/tls/mmm-make-test-ca`);
    /// when set, the cluster makes a certificate for every daemon and for `mmmctl` and every hop
    /// uses mutual TLS (`<socket type ssl>`).
    pub tls_script: Option<PathBuf>,
    /// Semi-synchronous replication between the masters (each the other's acker, `AFTER_SYNC`,
    /// no fallback; see [`crate::replication::semi_sync_config`]); slaves stay asynchronous.
    pub semi_sync: bool,
    /// Run the daemons with `--log-json` (microsecond timestamps, for the benchmark's phase
    /// breakdown) instead of mysql-mmm's layout.
    pub log_json: bool,
    /// VIP-less mode: no writer VIP, every agent serving its health endpoints on this port
    /// (see [`MmmConfig::vip_less`]).
    pub vip_less: Option<u16>,
}

impl ClusterOptions {
    /// Three monitors, one slave, GTID replication, [`Timings::default`].
    pub fn new(tag: &str, binaries: Binaries) -> Self {
        Self {
            tag: tag.to_owned(),
            monitors: 3,
            topology: TopologySpec::default(),
            roles: None,
            timings: Timings::default(),
            binaries,
            extra_config: String::new(),
            agent_log_filter: "info".to_owned(),
            monitor_log_filter: "info,openraft=error".to_owned(),
            tls_script: None,
            semi_sync: false,
            log_json: false,
            vip_less: None,
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        if self.monitors == 0 || self.monitors > MAX_MONITORS {
            return Err(LabError::Unsupported(format!(
                "{} monitors; a lab cluster has 1..={MAX_MONITORS}",
                self.monitors
            )));
        }
        if self.topology.slaves > MAX_SLAVES {
            return Err(LabError::Unsupported(format!(
                "{} slaves; a lab cluster has at most {MAX_SLAVES}",
                self.topology.slaves
            )));
        }
        if self.timings.status_interval >= self.timings.agent_lease {
            return Err(LabError::Unsupported(
                "status_interval must be shorter than agent_lease".to_owned(),
            ));
        }
        self.binaries.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated_before_anything_starts() {
        let bins = Binaries::in_dir(Path::new("/nonexistent-dir"));
        let mut opts = ClusterOptions::new("mmmc", bins);
        assert!(
            matches!(opts.validate(), Err(LabError::Unsupported(m)) if m.contains("missing program"))
        );
        opts.monitors = 0;
        assert!(opts.validate().is_err());
        opts.monitors = MAX_MONITORS + 1;
        assert!(opts.validate().is_err());
        opts.monitors = 3;
        opts.topology.slaves = MAX_SLAVES + 1;
        assert!(opts.validate().is_err());
        opts.topology.slaves = 1;
        opts.timings.status_interval = opts.timings.agent_lease;
        assert!(opts.validate().is_err());
    }
}
