//! mmm-mond: the monitor daemon. Several monitors replicate the cluster state with Raft;
//! the leader runs mysql-mmm's main loop and commands the agents.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use mmm_core::config::{ConfigKind, Program};
use mmm_daemon::pidfile;
use mmm_mond::monitor::{Monitor, MonitorOptions};

use cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One worker: the monitor is one driver loop and a few I/O tasks, its redb calls run on
    // the blocking pool, and a second worker only added cross-thread wake-ups (the idle
    // monitor spent more in futex and scheduling than in its own code).
    mmm_daemon::launch::run_daemon(cli.log_json, 1, run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (_, config) = mmm_daemon::launch::load_config(
        cli.config.as_deref(),
        cli.cluster.as_deref(),
        ConfigKind::Monitor,
        Program::Monitor,
        cli.this.as_deref(),
    )?;
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
    opts.join = cli.join;
    let monitor = Monitor::start(opts).await.context("starting the monitor")?;
    let reload = mmm_daemon::tls::reload_on_sighup(monitor.tls());
    mmm_daemon::signal::shutdown_signal().await;
    reload.abort();
    monitor.shutdown().await;
    drop(pid);
    tracing::info!("END");
    Ok(())
}
