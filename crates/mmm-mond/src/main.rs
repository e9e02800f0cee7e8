//! mmm-mond: the monitor daemon. Several monitors replicate the cluster state with Raft;
//! the leader runs mysql-mmm's main loop and commands the agents.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use mmm_core::config::{ConfigKind, Program};
use mmm_daemon::{fatal, logging, pidfile};
use mmm_mond::monitor::{Monitor, MonitorOptions};

/// Command line of mmm-mond.
#[derive(Debug, Parser)]
#[command(
    name = "mmm-mond",
    version,
    about = "mmm monitor (Raft-replicated mysql-mmm monitor)"
)]
struct Cli {
    /// Config file; default: mmm_mon[_CLUSTER].conf in /etc, /etc/mmm, /etc/mysql-mmm.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Which monitor node this process is (overrides `this_monitor`).
    #[arg(long)]
    this: Option<String>,
    /// Log JSON lines instead of mysql-mmm's layout.
    #[arg(long)]
    log_json: bool,
    /// `@CLUSTER`: use mmm_mon_CLUSTER.conf.
    cluster: Option<String>,
}

fn config_path(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(p) = &cli.config {
        return Ok(p.clone());
    }
    if let Some(c) = &cli.cluster
        && !c.starts_with('@')
    {
        bail!("invalid cluster argument '{c}' (expected @NAME)");
    }
    mmm_core::config::find_default(ConfigKind::Monitor, cli.cluster.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    logging::capture_local_offset();
    let cli = Cli::parse();
    logging::init(cli.log_json, false);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            fatal!("Can't start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fatal!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let path = config_path(&cli)?;
    let config = mmm_core::config::load(&path, Program::Monitor)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading {}", path.display()))?;
    let pid_path = config
        .monitor
        .as_ref()
        .and_then(|m| m.pid_path.clone())
        .unwrap_or_else(|| PathBuf::from("/run/mmm/mmm-mond.pid"));
    let (pid, stale) = pidfile::PidFile::acquire(&pid_path)?;
    if stale {
        tracing::warn!("Unclean start - found stale pid file!");
    }
    tracing::info!("STARTING...");
    let mut opts = MonitorOptions::new(Arc::new(config));
    opts.this = cli.this.clone();
    let monitor = Monitor::start(opts).await.context("starting the monitor")?;
    mmm_daemon::signal::shutdown_signal().await;
    monitor.shutdown().await;
    drop(pid);
    tracing::info!("END");
    Ok(())
}
