//! `mmm-lab`: the whole mmm system on one machine, for trying it out.
//!
//! * `mmm-lab demo` starts the seeds' topology (db1 and db2 masters, db3 slave, writer VIP
//!   10.213.7.100, reader VIPs from .101) with real MariaDB servers, an agent per database host
//!   and three monitors, each host in its own network namespace; it prints how to drive and break
//!   the cluster and keeps it up until Ctrl-C or SIGTERM, then removes everything.
//! * `mmm-lab cleanup` removes namespaces, processes and directories left by lab runs whose
//!   process is gone.
//!
//! It builds nothing: `mmm-agentd`, `mmm-mond` and `mmmctl` must sit next to this executable
//! (`cargo build --workspace --bins`; `scripts/lab-demo` does both).

mod demo;
mod signals;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Command line of mmm-lab.
#[derive(Debug, Parser)]
#[command(
    name = "mmm-lab",
    version,
    about = "Run the mmm system in network namespaces on this machine (needs root)"
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the seeds' topology with agents and monitors and keep it up until Ctrl-C/SIGTERM.
    Demo(demo::DemoArgs),
    /// Remove namespaces, processes and directories of lab runs whose process has died.
    Cleanup,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Cmd::Demo(args) => demo::run(&args),
        Cmd::Cleanup => cleanup(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmm-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

/// Fails with a clear message unless running as root.
fn require_root() -> anyhow::Result<()> {
    if mmm_lab::have_root() {
        Ok(())
    } else {
        anyhow::bail!("the lab needs root (network namespaces, VIPs): run it with sudo")
    }
}

fn cleanup() -> anyhow::Result<()> {
    require_root()?;
    let report = mmm_lab::cleanup_orphans().context("cleaning up orphaned labs")?;
    if report.is_empty() {
        println!("nothing to clean up");
        return Ok(());
    }
    for ns in &report.namespaces {
        println!("removed namespace {ns}");
    }
    for pid in &report.killed {
        println!("killed pid {pid}");
    }
    for dir in &report.dirs {
        println!("removed directory {}", dir.display());
    }
    for failure in &report.failures {
        println!("could not remove: {failure}");
    }
    if report.failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} orphan(s) could not be removed", report.failures.len())
    }
}
