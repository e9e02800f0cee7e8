//! mmm-agentd: the agent on each MySQL host. It applies the desired status the leading
//! monitor sends over gRPC (VIPs, read_only, replication source), refuses stale epochs,
//! and drops the writer role by itself when its lease runs out.

mod arp;
mod cli;
mod clock;
mod db;
mod desired;
mod driver;
mod durable;
mod epoch;
mod http;
mod peers;
mod promises;
mod report;
mod service;
mod uptime;
mod vip;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use mmm_core::config::{Config, ConfigKind, HostConfig, Program};
use mmm_daemon::pidfile;
use mmm_daemon::signal::shutdown_signal;
use mmm_proto::pb::agent_server::AgentServer;
use tonic::transport::Server;

use cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Two workers: the driver writes its epoch and promise files synchronously (an fsync), and
    // the service keeps answering on the other worker meanwhile.
    mmm_daemon::launch::run_daemon(cli.log_json, 2, run(cli))
}

/// This host's name, section and `cluster_interface`, from `this`.
fn this_host(cfg: &Config) -> anyhow::Result<(String, HostConfig, String)> {
    let this = cfg.this.clone().context("config has no 'this' host")?;
    let me = cfg
        .hosts
        .iter()
        .find(|h| h.name == this)
        .cloned()
        .with_context(|| format!("'this' names unknown host '{this}'"))?;
    let interface = me
        .cluster_interface
        .clone()
        .with_context(|| format!("host '{this}' has no cluster_interface"))?;
    Ok((this, me, interface))
}

/// The stored failsafe promises (a loaded one is logged) and the channels to the other agents.
fn failsafe_parts(
    cli: &Cli,
    cfg: &Config,
    this: &str,
    tls: Option<&mmm_daemon::tls::Tls>,
) -> anyhow::Result<driver::FailsafeParts> {
    let promises = promises::PromiseStore::open(&cli.state_dir, clock::now())?;
    if let Some((host, until)) = promises.promises().blocking(clock::now()) {
        tracing::warn!(
            "Loaded a failsafe promise to host '{host}': no writer role here for {} ms",
            clock::now().until(until).as_millis()
        );
    }
    let peers = peers::Peers::new(cfg, this, tls)?;
    Ok(driver::FailsafeParts { peers, promises })
}

/// Serves `/writer`, `/reader`, `/health` and `/metrics` on `http_port`, when one is set
/// (mutual TLS with `<socket type ssl>`, as the Agent service).
async fn start_http(
    cfg: &Config,
    me: &HostConfig,
    tls: Option<&mmm_daemon::tls::Tls>,
    snap: tokio::sync::watch::Receiver<driver::Snapshot>,
    timings: db::Timings,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(port) = me.http_port else {
        return Ok(None);
    };
    let addr = SocketAddr::new(me.ip, port);
    let facts = http::Facts {
        host: me.name.clone(),
        writer_role: cfg.active_master_role.clone(),
        timings,
    };
    let server = http::bind(addr, tls.cloned(), facts, snap)
        .await
        .with_context(|| format!("binding HTTP on {addr}"))?;
    tracing::info!("HTTP listening on {addr}");
    Ok(Some(tokio::spawn(server)))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (_, cfg) = mmm_daemon::launch::load_config(
        cli.config.as_deref(),
        cli.cluster.as_deref(),
        ConfigKind::Agent,
        Program::Agent,
        None,
    )?;
    let cfg = Arc::new(cfg);
    let (this, me, interface) = this_host(&cfg)?;

    let pid_path = cli
        .pid_file
        .clone()
        .or_else(|| me.pid_path.clone())
        .unwrap_or_else(|| PathBuf::from("/run/mmm-agentd.pid"));
    let (pid, stale) = pidfile::PidFile::acquire(&pid_path)?;
    if stale {
        tracing::warn!("Unclean start - found stale pid file!");
    }
    tracing::info!("STARTING...");

    let io_timeout = Duration::from_millis(cli.io_timeout_ms.max(100));
    let epochs = epoch::EpochStore::open(&cli.state_dir)?;
    tracing::info!("Loaded fencing epoch {}", epochs.current());
    let vips = vip::Vips::new(&interface, io_timeout)?;
    let db = db::Db::new(&cfg, &me, io_timeout)?;
    let tls = mmm_daemon::tls::Tls::from_config(&cfg).context("TLS configuration")?;
    let failsafe = failsafe_parts(&cli, &cfg, &this, tls.as_ref())?;
    let (drv, tx, snap) = driver::Driver::new(
        &cfg,
        me.clone(),
        db.clone(),
        vips.clone(),
        epochs,
        Duration::from_millis(cli.startup_lease_ms.min(desired::MAX_LEASE_MS)),
        failsafe,
    );
    let driver_task = tokio::spawn(drv.run());
    let http_task = start_http(&cfg, &me, tls.as_ref(), snap.clone(), db.timings()).await?;

    let kill_rounds = u64::from(cfg.max_kill_retries) + 1;
    let driver_timeout = cfg
        .catchup_timeout
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(kill_rounds))
        .saturating_add(io_timeout.saturating_mul(10));
    let svc = service::AgentService {
        cfg: cfg.clone(),
        me: this.clone(),
        tx,
        snapshot: snap,
        db,
        vips,
        driver_timeout,
        read_timeout: io_timeout * 4,
    };
    let addr = SocketAddr::new(me.ip, me.agent_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let reload = mmm_daemon::tls::reload_on_sighup(tls.clone());
    tracing::info!("Listening on {addr}");
    let router = Server::builder().add_service(AgentServer::new(svc));
    mmm_daemon::tls::serve(router, listener, tls, "Agent", shutdown_signal())
        .await
        .with_context(|| format!("serving on {addr}"))?;
    reload.abort();
    // The service is gone, so the driver's channel closes: it gives up a held writer role
    // (VIP removed, read_only=1) and ends. Bounded: a hung MySQL leaves it to the server's
    // lease timer.
    let stop_bound = io_timeout.saturating_mul(4);
    if tokio::time::timeout(stop_bound, driver_task).await.is_err() {
        tracing::error!("Driver did not stop within {stop_bound:?}");
    }
    if let Some(t) = http_task {
        t.abort();
    }
    drop(pid);
    tracing::info!("END");
    Ok(())
}
