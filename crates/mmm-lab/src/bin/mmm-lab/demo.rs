//! `mmm-lab demo`: the seeds' cluster with three monitors, up until Ctrl-C/SIGTERM, driven from
//! other terminals with mmmctl and broken and repaired with `mmm-lab kill-mysqld db2` & co.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use mmm_lab::ReplicationMode;
use mmm_lab::cluster::{Binaries, Cluster, ClusterOptions};

use crate::control::{self, Server};
use crate::faults::{Faults, program};
use crate::{signals, summary};

/// Lab tag of the demo: namespaces are `mmmdemo-<pid>-0-<host>`.
pub const TAG: &str = "mmmdemo";
/// How often the demo looks for a stop request, a control request or a daemon that exited.
const POLL: Duration = Duration::from_millis(100);

/// Options of `mmm-lab demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Tear everything down and exit once the writer is on a host (for scripts and tests).
    #[arg(long)]
    exit_after_ready: bool,
    /// Number of monitors.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=29))]
    monitors: u8,
    /// Number of slaves of db1 (db3, db4, …).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=8))]
    slaves: u8,
    /// Replicate with binlog file and position instead of GTID.
    #[arg(long)]
    binlog: bool,
    /// Seconds to wait for the cluster to put the writer on a host.
    #[arg(long, default_value_t = 120)]
    ready_timeout: u64,
    /// Directory holding mmm-agentd, mmm-mond and mmmctl (default: this executable's directory).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

/// Starts the cluster, prints how to use it, serves control requests until a stop request,
/// tears it down. `control` is where to listen (default: `/run/mmm-lab/<lab prefix>.sock`).
pub fn run(args: &DemoArgs, control: Option<&Path>) -> anyhow::Result<()> {
    crate::require_root()?;
    signals::install()?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => crate::own_dir()?,
    };
    let mut opts = ClusterOptions::new(TAG, Binaries::in_dir(&bin_dir));
    opts.monitors = usize::from(args.monitors);
    opts.topology.slaves = usize::from(args.slaves);
    if args.binlog {
        opts.topology.mode = ReplicationMode::BinlogCoordinates;
    }
    // An explicit socket is claimed first, so a clash fails before anything starts.
    let early = control.map(Server::bind).transpose()?;
    eprintln!(
        "mmm-lab: starting MariaDB servers, agents and {} monitors in network namespaces…",
        opts.monitors
    );
    let mut cluster = Cluster::launch(opts).context("starting the lab cluster")?;
    if signals::stop_requested() {
        return teardown(cluster);
    }
    let server = match early {
        Some(server) => server,
        None => match Server::bind(&control::socket_path(cluster.lab().prefix())) {
            Ok(server) => server,
            Err(e) => {
                let _ = teardown(cluster);
                return Err(e);
            }
        },
    };
    eprintln!("mmm-lab: waiting for a leader monitor and setting the hosts online…");
    let show = match cluster.bring_online(Duration::from_secs(args.ready_timeout)) {
        Ok(show) => show,
        Err(e) => {
            let _ = teardown(cluster);
            return Err(e).context("the cluster did not come up");
        }
    };
    println!("{}", summary::text(&cluster, &show, server.path()));
    if args.exit_after_ready {
        return teardown(cluster);
    }
    serve(&mut cluster, &server);
    drop(server);
    teardown(cluster)
}

/// Until Ctrl-C/SIGTERM: carries out control requests and reports servers and daemons that exit
/// by themselves (or are killed by the user with `kill`).
fn serve(cluster: &mut Cluster, server: &Server) {
    let mut faults = Faults::default();
    let mut exits = Exits::default();
    exits.sync(cluster);
    while !signals::stop_requested() {
        if let Some((request, stream)) = server.next() {
            let reply = faults.execute(cluster, &request);
            println!("mmm-lab: {}: {}", request.words().join(" "), reply.text);
            control::answer(stream, &reply);
            exits.sync(cluster);
            continue;
        }
        exits.report(cluster);
        std::thread::sleep(POLL);
    }
}

/// Which servers and daemons are known to be down, so each exit is reported once and exits the
/// operator asked for are not reported at all.
#[derive(Debug, Default)]
struct Exits {
    down: BTreeSet<String>,
}

impl Exits {
    /// Everything that is down now is known; everything that runs again may be reported again.
    fn sync(&mut self, cluster: &mut Cluster) {
        self.down = down(cluster).into_iter().map(|(key, _)| key).collect();
    }

    /// Prints a line for every server or daemon that went down since the last look.
    fn report(&mut self, cluster: &mut Cluster) {
        let now = down(cluster);
        for (key, line) in &now {
            if !self.down.contains(key) {
                println!("mmm-lab: {line}");
            }
        }
        self.down = now.into_iter().map(|(key, _)| key).collect();
    }
}

/// What is down, as `(key, report line)`.
fn down(cluster: &mut Cluster) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let agents = cluster.agent_names();
    for name in &agents {
        if !cluster.mysqld_running(name) {
            let log = cluster
                .topology()
                .db(name)
                .map(|db| db.error_log().display().to_string())
                .unwrap_or_default();
            out.push((
                format!("mariadbd {name}"),
                format!("{name}'s mariadbd has exited (error log: {log})"),
            ));
        }
    }
    for name in agents.iter().cloned().chain(cluster.monitor_names()) {
        if !cluster.is_running(&name).unwrap_or(true) {
            let what = cluster.kind(&name).map(program).unwrap_or("daemon");
            let log = cluster
                .log_path(&name)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.push((
                format!("daemon {name}"),
                format!("{name}'s {what} has exited (log: {log})"),
            ));
        }
    }
    out
}

fn teardown(mut cluster: Cluster) -> anyhow::Result<()> {
    eprintln!("mmm-lab: stopping the daemons and removing the lab…");
    cluster.shutdown();
    let prefix = cluster.lab().prefix().to_owned();
    drop(cluster);
    println!("mmm-lab: lab {prefix} removed");
    Ok(())
}
