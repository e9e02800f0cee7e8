//! `mmm-lab demo`: the seeds' cluster with three monitors, up until Ctrl-C/SIGTERM.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use mmm_lab::ReplicationMode;
use mmm_lab::cluster::{Binaries, Cluster, ClusterOptions, DaemonKind, writer_in_show};

use crate::signals;

/// Lab tag of the demo: namespaces are `mmmdemo-<pid>-0-<host>`.
const TAG: &str = "mmmdemo";
/// How often the demo looks for a stop request or a daemon that exited.
const POLL: Duration = Duration::from_millis(200);

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

/// Starts the cluster, prints how to use it, waits for a stop request, tears it down.
pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    crate::require_root()?;
    signals::install()?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .context("finding this executable")?
            .parent()
            .context("this executable has no directory")?
            .to_path_buf(),
    };
    let mut opts = ClusterOptions::new(TAG, Binaries::in_dir(&bin_dir));
    opts.monitors = usize::from(args.monitors);
    opts.topology.slaves = usize::from(args.slaves);
    if args.binlog {
        opts.topology.mode = ReplicationMode::BinlogCoordinates;
    }
    eprintln!(
        "mmm-lab: starting MariaDB servers, agents and {} monitors in network namespaces…",
        opts.monitors
    );
    let mut cluster = Cluster::launch(opts).context("starting the lab cluster")?;
    if signals::stop_requested() {
        return teardown(cluster);
    }
    eprintln!("mmm-lab: waiting for a leader monitor and setting the hosts online…");
    let show = match cluster.bring_online(Duration::from_secs(args.ready_timeout)) {
        Ok(show) => show,
        Err(e) => {
            let _ = teardown(cluster);
            return Err(e).context("the cluster did not come up");
        }
    };
    println!("{}", summary(&cluster, &show));
    if args.exit_after_ready {
        return teardown(cluster);
    }
    watch(&mut cluster);
    teardown(cluster)
}

/// Waits for Ctrl-C/SIGTERM, reporting daemons and servers that exit meanwhile (e.g. killed by
/// the user).
fn watch(cluster: &mut Cluster) {
    let agents = cluster.agent_names();
    let names: Vec<String> = agents
        .iter()
        .cloned()
        .chain(cluster.monitor_names())
        .collect();
    let mut reported_daemons = Vec::new();
    let mut reported_servers = Vec::new();
    while !signals::stop_requested() {
        for name in &names {
            if !reported_daemons.contains(name) && !cluster.is_running(name).unwrap_or(true) {
                let log = cluster
                    .log_path(name)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                println!("mmm-lab: {name}'s daemon has exited (log: {log})");
                reported_daemons.push(name.clone());
            }
        }
        for name in &agents {
            let Ok(db) = cluster.topology_mut().db_mut(name) else {
                continue;
            };
            if !reported_servers.contains(name) && !db.is_running() {
                println!(
                    "mmm-lab: {name}'s mariadbd has exited (error log: {})",
                    db.error_log().display()
                );
                reported_servers.push(name.clone());
            }
        }
        std::thread::sleep(POLL);
    }
}

fn teardown(mut cluster: Cluster) -> anyhow::Result<()> {
    eprintln!("mmm-lab: stopping the daemons and removing the lab…");
    cluster.shutdown();
    let prefix = cluster.lab().prefix().to_owned();
    drop(cluster);
    println!("mmm-lab: lab {prefix} removed");
    Ok(())
}

/// What runs where, the current `show`, and the commands to drive and break the cluster.
fn summary(cluster: &Cluster, show: &str) -> String {
    let mut s = String::new();
    let lab = cluster.lab();
    let _ = writeln!(
        s,
        "\nmmm lab demo is ready: lab {} (files in {})\n",
        lab.prefix(),
        lab.dir().display()
    );
    let _ = writeln!(
        s,
        "  {:<7} {:<13} {:<26} processes",
        "host", "address", "namespace"
    );
    let leader = cluster.leader();
    for host in lab.hosts() {
        let name = host.name();
        let mut procs = Vec::new();
        if let Ok(db) = cluster.topology().db(name)
            && let Some(pid) = db.pid()
        {
            procs.push(format!("mariadbd {pid}"));
        }
        if let Some(pid) = cluster.pid(name) {
            let program = match cluster.kind(name) {
                Some(DaemonKind::Agent) => "mmm-agentd",
                _ => "mmm-mond",
            };
            let lead = if leader.as_deref() == Some(name) {
                " (leader)"
            } else {
                ""
            };
            procs.push(format!("{program} {pid}{lead}"));
        }
        let _ = writeln!(
            s,
            "  {:<7} {:<13} {:<26} {}",
            name,
            host.ip(),
            host.netns().name(),
            procs.join(", ")
        );
    }
    let config = cluster.mmm_config();
    let readers: Vec<String> = config.reader_ips.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        s,
        "\nVIPs: writer {}, readers {}\n\n$ mmmctl show\n{}",
        config.writer_ip,
        readers.join(", "),
        show.trim_end()
    );
    let writer = writer_in_show(show, config.writer_ip).unwrap_or_else(|| "db1".to_owned());
    let other = if writer == "db1" { "db2" } else { "db1" };
    let mmmctl = |args: &[&str]| shell_line(&cluster.mmmctl_argv(args));
    let _ = writeln!(s, "\nDrive it (as root, from another terminal):");
    for args in [
        &["show"][..],
        &["checks", "all"],
        &["cluster", "status"],
        &["move_role", "writer", other],
        &["set_offline", other],
        &["set_online", other],
    ] {
        let _ = writeln!(s, "  {}", mmmctl(args));
    }
    let _ = writeln!(s, "\nBreak it (then run show again):");
    if let Ok(db) = cluster.topology().db(&writer)
        && let Some(pid) = db.pid()
    {
        let _ = writeln!(
            s,
            "  kill -9 {pid}    # {writer}'s mariadbd dies: the writer VIP moves to {other}, slaves follow it"
        );
    }
    if let Some(leader) = &leader
        && let Some(pid) = cluster.pid(leader)
    {
        let _ = writeln!(
            s,
            "  kill -9 {pid}    # the leader monitor {leader} dies: another monitor takes over"
        );
    }
    if let Some(pid) = cluster.pid(&writer) {
        let _ = writeln!(
            s,
            "  kill -9 {pid}    # {writer}'s agent dies: show warns that it is not reachable"
        );
    }
    let _ = writeln!(
        s,
        "  {}    # the application's view through the writer VIP",
        shell_line(&[
            "ip".into(),
            "netns".into(),
            "exec".into(),
            cluster.client().netns().name().to_owned(),
            "ping".into(),
            "-c1".into(),
            config.writer_ip.to_string(),
        ])
    );
    let _ = writeln!(
        s,
        "\nLogs: {}/<host>/daemon.log (agents and monitors), MariaDB error logs under {}/<host>/mariadb-*/error.log",
        lab.dir().display(),
        lab.dir().display()
    );
    let _ = write!(
        s,
        "\nCtrl-C (or kill -TERM {}) stops everything and removes the namespaces.",
        std::process::id()
    );
    s
}

/// `argv` as one line a shell runs as-is (words with unusual characters single-quoted).
fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
