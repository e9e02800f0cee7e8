//! Command line of mmm-agentd: clap's grammar only (std and clap, nothing else), so the
//! packaging tool can build the man page from the same definition.

use std::path::PathBuf;

use clap::Parser;

/// Command line of mmm-agentd.
#[derive(Debug, Parser)]
#[command(name = "mmm-agentd", version, about = "mmm agent for a MySQL host")]
pub struct Cli {
    /// Config file; default: mmm_agent[_CLUSTER].conf in /etc, /etc/mmm, /etc/mysql-mmm.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory holding the fencing epoch.
    #[arg(long, default_value = "/var/lib/mmm-agent")]
    pub state_dir: PathBuf,
    /// Pid file (overrides the host's pid_path).
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Log JSON lines instead of mysql-mmm's layout.
    #[arg(long)]
    pub log_json: bool,
    /// Timeout of each MySQL connect/statement and netlink call, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub io_timeout_ms: u64,
    /// After a restart, how long a writer VIP found on the interface is kept (ms) before the
    /// agent drops it by itself, unless the monitor confirms it first.
    #[arg(long, default_value_t = 5000)]
    pub startup_lease_ms: u64,
    /// `@CLUSTER`: use mmm_agent_CLUSTER.conf.
    pub cluster: Option<String>,
}
