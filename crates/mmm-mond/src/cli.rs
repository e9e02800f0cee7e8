//! Command line of mmm-mond: clap's grammar only (std and clap, nothing else), so the
//! packaging tool can build the man page from the same definition.

use std::path::PathBuf;

use clap::Parser;

/// Command line of mmm-mond.
#[derive(Debug, Parser)]
#[command(
    name = "mmm-mond",
    version,
    about = "mmm monitor (Raft-replicated mysql-mmm monitor)"
)]
pub struct Cli {
    /// Config file; default: mmm_mon[_CLUSTER].conf in /etc, /etc/mmm, /etc/mysql-mmm.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Which monitor node this process is: stands in for a missing `this_monitor` and
    /// overrides the config's.
    #[arg(long)]
    pub this: Option<String>,
    /// Join a running cluster: with an empty data_dir, wait to be added (`mmmctl cluster add
    /// NAME` on the running monitors) instead of forming a new cluster from the config's
    /// monitors. Has no effect once the data_dir holds state.
    #[arg(long)]
    pub join: bool,
    /// Log JSON lines instead of mysql-mmm's layout.
    #[arg(long)]
    pub log_json: bool,
    /// `@CLUSTER`: use mmm_mon_CLUSTER.conf.
    pub cluster: Option<String>,
}
