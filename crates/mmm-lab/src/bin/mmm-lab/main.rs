//! `mmm-lab`: the whole mmm system on one machine, for trying it out.
//!
//! * `mmm-lab demo` starts the seeds' topology (db1 and db2 masters, db3 slave, writer VIP
//!   10.213.7.100, reader VIPs from .101) with real MariaDB servers, an agent per database host
//!   and three monitors, each host in its own network namespace; it prints how to drive and break
//!   the cluster and keeps it up until Ctrl-C or SIGTERM, then removes everything.
//! * `mmm-lab kill-mysqld db2`, `start-mysqld db2`, `cut db1`, `heal`, … break and repair the
//!   running demo from another terminal (the demo carries them out; see `control`), and
//!   `mmm-lab mmmctl show` runs mmmctl against it in the lab's client namespace.
//! * `mmm-lab cleanup` removes namespaces, processes and directories left by lab runs whose
//!   process is gone, and control sockets no demo answers on.
//!
//! It builds nothing: `mmm-agentd`, `mmm-mond` and `mmmctl` must sit next to this executable
//! (`cargo build --workspace --bins`; `scripts/lab-demo` does both).

mod control;
mod demo;
mod faults;
mod signals;
mod summary;

use std::path::{Path, PathBuf};
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
    /// The demo's control socket: where `demo` listens (default /run/mmm-lab/<lab prefix>.sock),
    /// and which demo the other commands talk to (default: the only one running).
    #[arg(long, global = true, value_name = "SOCKET", env = "MMM_LAB_CONTROL")]
    control: Option<PathBuf>,
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
    /// Run mmmctl with ARGS against the running demo, inside its client namespace.
    Mmmctl {
        /// mmmctl's arguments (e.g. `show`, `set_online db2`, `--json show`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Commands carried out by the running demo.
    #[command(flatten)]
    Control(control::Request),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let control = cli.control.as_deref();
    let result = match cli.command {
        Cmd::Demo(args) => demo::run(&args, control).map(|()| ExitCode::SUCCESS),
        Cmd::Cleanup => cleanup().map(|()| ExitCode::SUCCESS),
        Cmd::Mmmctl { args } => mmmctl(control, &args),
        Cmd::Control(request) => ask(control, &request),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mmm-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sends `request` to the running demo and prints its reply; fails when the demo refused.
fn ask(socket: Option<&Path>, request: &control::Request) -> anyhow::Result<ExitCode> {
    require_root()?;
    let reply = control::send(socket, request)?;
    println!("{}", reply.text);
    Ok(if reply.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs mmmctl as the running demo says (its client namespace and config), with `args`, and
/// exits with mmmctl's code.
fn mmmctl(socket: Option<&Path>, args: &[String]) -> anyhow::Result<ExitCode> {
    require_root()?;
    let reply = control::send(socket, &control::Request::Status)?;
    let Some((program, rest)) = reply.mmmctl.split_first() else {
        anyhow::bail!("the demo did not say how to run mmmctl: {}", reply.text);
    };
    let status = std::process::Command::new(program)
        .args(rest)
        .args(args)
        .status()
        .with_context(|| format!("running {program}"))?;
    Ok(status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .map_or(ExitCode::FAILURE, ExitCode::from))
}

/// The directory of this executable (where the demo finds the other programs).
fn own_dir() -> anyhow::Result<PathBuf> {
    Ok(std::env::current_exe()
        .context("finding this executable")?
        .parent()
        .context("this executable has no directory")?
        .to_path_buf())
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
    let sockets = control::remove_stale_sockets().context("removing stale control sockets")?;
    for socket in &sockets {
        println!("removed control socket {}", socket.display());
    }
    if report.is_empty() && sockets.is_empty() {
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
