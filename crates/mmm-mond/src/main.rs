//! mmm-mond: the monitor daemon. Several monitors replicate the cluster state with Raft;
//! the leader runs mysql-mmm's main loop and commands the agents.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use mmm_core::config::{ConfigKind, Program};
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
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(fatal = true, "Can't start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(fatal = true, "{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let path = config_path(&cli)?;
    let config = mmm_core::config::load(&path, Program::Monitor)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading {}", path.display()))?;
    tracing::info!("STARTING...");
    let mut opts = MonitorOptions::new(Arc::new(config));
    opts.this = cli.this.clone();
    let monitor = Monitor::start(opts).await.context("starting the monitor")?;
    mmm_daemon::signal::shutdown_signal().await;
    tracing::info!("Signal received: exiting...");
    monitor.shutdown().await;
    tracing::info!("END");
    Ok(())
}
