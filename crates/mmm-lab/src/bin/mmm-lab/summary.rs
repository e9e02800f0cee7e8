//! What the demo prints once the cluster is up: what runs where, the current `show`, and the
//! commands that drive, break and repair the cluster.

use std::fmt::Write as _;
use std::path::Path;

use mmm_lab::cluster::{Cluster, writer_in_show};

use crate::faults::program;

/// The ready text of the demo whose control socket is `socket`.
pub fn text(cluster: &Cluster, show: &str, socket: &Path) -> String {
    let mut s = String::new();
    let lab = cluster.lab();
    let _ = writeln!(
        s,
        "\nmmm lab demo is ready: lab {} (files in {})\n",
        lab.prefix(),
        lab.dir().display()
    );
    hosts(&mut s, cluster);
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
    let lab_cmd = |args: &str| format!("{} {args}", own_exe());
    let socket_arg = format!("--control {}", socket.display());
    let _ = writeln!(
        s,
        "\nDrive it (as root, from another terminal; `mmm-lab mmmctl` runs mmmctl in the lab's client namespace):"
    );
    for args in [
        "show",
        "checks all",
        "cluster status",
        &format!("move_role writer {other}"),
        &format!("set_offline {other}"),
        &format!("set_online {other}"),
    ] {
        let _ = writeln!(s, "  {}", lab_cmd(&format!("mmmctl {args}")));
    }
    let _ = writeln!(
        s,
        "  {}    # the same, without mmm-lab",
        shell_line(&cluster.mmmctl_argv(&["show"]))
    );
    let _ = writeln!(s, "\nBreak it and repair it (then run show again):");
    let leader = cluster.leader();
    let lines = [
        (
            format!("kill-mysqld {writer}"),
            format!("{writer}'s mariadbd dies: the writer VIP moves to {other}, slaves follow it"),
        ),
        (
            format!("start-mysqld {writer}"),
            format!(
                "it starts again: back ONLINE by itself when it was down < 60 s, else AWAITING_RECOVERY until `mmmctl set_online {writer}`"
            ),
        ),
        (
            format!("kill-mysqld {other}"),
            format!("the seeds' test 1: {other}'s reader VIP moves to another host"),
        ),
        (
            format!("kill-daemon {}", leader.as_deref().unwrap_or("mon1")),
            "the leader monitor dies: another monitor takes over".to_owned(),
        ),
        (
            format!("kill-daemon {writer}"),
            format!("{writer}'s agent dies: show warns that it is not reachable"),
        ),
        (
            format!("cut {writer}"),
            format!("{writer} loses the network (all its traffic dropped)"),
        ),
        (
            format!("cut {writer} {}", leader.as_deref().unwrap_or("mon1")),
            "only that link is cut".to_owned(),
        ),
        (
            "heal".to_owned(),
            "undo everything: every link up, every mariadbd, agent and monitor started again"
                .to_owned(),
        ),
        (
            "status".to_owned(),
            "what runs and what is broken".to_owned(),
        ),
    ];
    for (args, effect) in lines {
        let _ = writeln!(s, "  {:<64} # {effect}", lab_cmd(&args));
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
        "(With several demos running, add {socket_arg} to the mmm-lab commands.)"
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

/// One line per lab host: name, address, namespace, processes with pids.
fn hosts(s: &mut String, cluster: &Cluster) {
    let _ = writeln!(
        s,
        "  {:<7} {:<13} {:<26} processes",
        "host", "address", "namespace"
    );
    let leader = cluster.leader();
    for host in cluster.lab().hosts() {
        let name = host.name();
        let mut procs = Vec::new();
        if let Ok(db) = cluster.topology().db(name)
            && let Some(pid) = db.pid()
        {
            procs.push(format!("mariadbd {pid}"));
        }
        if let (Some(pid), Some(kind)) = (cluster.pid(name), cluster.kind(name)) {
            let lead = if leader.as_deref() == Some(name) {
                " (leader)"
            } else {
                ""
            };
            procs.push(format!("{} {pid}{lead}", program(kind)));
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
}

/// This executable's path, as the operator types it.
fn own_exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "mmm-lab".to_owned())
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
