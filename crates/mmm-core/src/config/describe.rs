//! A readable dump of the effective configuration (after includes, templates and
//! defaults), as `mmmctl config check` prints it. Passwords are never printed.

use std::fmt::Display;
use std::path::PathBuf;
use std::time::Duration;

use super::model::{
    CheckConfig, Config, HookDefault, HostConfig, MonitorConfig, MonitorNode, Program, RoleConfig,
    RoleMode, SocketConfig, SocketType, StartMode,
};
use super::rules::{Kind, Scope};
use super::unused;
use super::value::format_seconds;

/// ` (accepted, unused: WHY)` for a directive on the accepted-but-unused list, else "".
fn unused_note(scope: Scope, key: &str) -> String {
    unused::why(scope, key)
        .map(|why| format!(" (accepted, unused: {why})"))
        .unwrap_or_default()
}

/// The effective cluster as `program` sees it: one `section` line, then indented
/// `key value` lines; stable order (config-file order for hosts, roles and monitor nodes).
pub fn describe(cfg: &Config, program: Program) -> String {
    let mut out = Out(String::new());
    out.raw(&format!(
        "# effective mysql-mmm configuration as read by {}",
        program_name(program)
    ));
    global(&mut out, cfg);
    for host in &cfg.hosts {
        self::host(&mut out, host);
    }
    for role in &cfg.roles {
        self::role(&mut out, role, cfg);
    }
    for (name, check) in [
        ("ping", &cfg.checks.ping),
        ("mysql", &cfg.checks.mysql),
        ("rep_threads", &cfg.checks.rep_threads),
        ("rep_backlog", &cfg.checks.rep_backlog),
    ] {
        self::check(&mut out, name, check);
    }
    if let Some(monitor) = &cfg.monitor {
        self::monitor(&mut out, monitor, cfg.monitor_nodes.len());
    }
    let this = cfg.this_monitor_node().map(|node| node.name.clone());
    for node in &cfg.monitor_nodes {
        self::node(&mut out, node, this.as_deref() == Some(node.name.as_str()));
    }
    socket(&mut out, &cfg.socket);
    out.0
}

fn program_name(program: Program) -> &'static str {
    match program {
        Program::Monitor => "mmm-mond (monitor)",
        Program::Agent => "mmm-agentd (agent)",
        Program::Control => "mmmctl (control)",
        Program::Tools => "the tools",
    }
}

struct Out(String);

impl Out {
    fn raw(&mut self, line: &str) {
        self.0.push_str(line);
        self.0.push('\n');
    }

    fn section(&mut self, title: &str) {
        self.raw(title);
    }

    fn kv(&mut self, key: &str, value: impl Display) {
        self.raw(&format!("  {key:<22} {value}"));
    }

    fn opt(&mut self, key: &str, value: Option<impl Display>) {
        match value {
            Some(value) => self.kv(key, value),
            None => self.kv(key, "-"),
        }
    }

    fn path(&mut self, key: &str, value: &Option<PathBuf>, note: &str) {
        match value {
            Some(path) => self.kv(key, format!("{}{note}", path.display())),
            None => self.kv(key, "-"),
        }
    }

    fn secs(&mut self, key: &str, value: Duration) {
        self.kv(key, format!("{}s", format_seconds(value)));
    }

    fn credentials(&mut self, key: &str, user: &Option<String>, password: &Option<String>) {
        let password = if password.is_some() {
            "password set"
        } else {
            "no password"
        };
        match user {
            Some(user) => self.kv(key, format!("{user} ({password})")),
            None if password == "password set" => self.kv(key, "- (password set)"),
            None => self.kv(key, "-"),
        }
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn global(out: &mut Out, cfg: &Config) {
    out.section("global");
    out.opt("this", cfg.this.as_deref());
    let debug_note = if cfg.debug {
        unused_note(Scope::Top, "debug")
    } else {
        String::new()
    };
    out.kv("debug", format!("{}{debug_note}", yes_no(cfg.debug)));
    out.opt("active_master_role", cfg.active_master_role.as_deref());
    out.kv("max_kill_retries", cfg.max_kill_retries);
    out.secs("catchup_timeout", cfg.catchup_timeout);
    out.kv("use_gtid", yes_no(cfg.use_gtid));
    out.kv("failsafe_mode", yes_no(cfg.failsafe_mode));
    out.opt("this_monitor", cfg.this_monitor.as_deref());
}

fn host(out: &mut Out, host: &HostConfig) {
    out.section(&format!("host {}", host.name));
    out.kv("ip", host.ip);
    out.kv("mode", host.mode.as_str());
    out.opt("peer", host.peer.as_deref());
    out.kv("mysql_port", host.mysql_port);
    out.kv("agent_port", host.agent_port);
    out.opt("http_port", host.http_port);
    out.opt("cluster_interface", host.cluster_interface.as_deref());
    out.path("pid_path", &host.pid_path, "");
    out.path(
        "bin_path",
        &host.bin_path,
        &unused_note(Scope::Named(Kind::Host), "bin_path"),
    );
    out.credentials("agent_user", &host.agent_user, &host.agent_password);
    out.credentials("monitor_user", &host.monitor_user, &host.monitor_password);
    out.credentials(
        "replication_user",
        &host.replication_user,
        &host.replication_password,
    );
    for (key, value) in &host.tools {
        if key.ends_with("_password") {
            out.kv(key, "(set)");
        } else {
            out.kv(key, value);
        }
    }
}

fn role(out: &mut Out, role: &RoleConfig, cfg: &Config) {
    let note = if cfg.active_master_role.as_deref() == Some(role.name.as_str()) {
        " (active master role)"
    } else {
        ""
    };
    out.section(&format!("role {}{note}", role.name));
    out.kv(
        "mode",
        match role.mode {
            RoleMode::Exclusive => "exclusive",
            RoleMode::Balanced => "balanced",
        },
    );
    out.kv("hosts", list(&role.hosts));
    if role.ips.is_empty() {
        out.kv(
            "ips",
            "none (VIP-less: load balancers find the holder through /writer)",
        );
    } else {
        out.kv("ips", list(&role.ips));
    }
    out.opt("prefer", role.prefer.as_deref());
}

fn list<T: Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check(out: &mut Out, name: &str, check: &CheckConfig) {
    out.section(&format!("check {name}"));
    out.secs("check_period", check.check_period);
    out.secs("trap_period", check.trap_period);
    out.secs("timeout", check.timeout);
    out.kv(
        "restart_after",
        format!(
            "{}{}",
            check.restart_after,
            unused_note(Scope::Named(Kind::Check), "restart_after")
        ),
    );
    out.kv("max_backlog", check.max_backlog);
}

fn monitor(out: &mut Out, monitor: &MonitorConfig, nodes: usize) {
    out.section("monitor");
    out.kv("ip", monitor.ip);
    out.kv("port", monitor.port);
    out.path("pid_path", &monitor.pid_path, "");
    let monitor_scope = Scope::Unique(Kind::Monitor);
    out.path(
        "bin_path",
        &monitor.bin_path,
        &unused_note(monitor_scope, "bin_path"),
    );
    out.path(
        "status_path",
        &monitor.status_path,
        &unused_note(monitor_scope, "status_path"),
    );
    out.secs("ping_interval", monitor.ping_interval);
    out.kv("ping_ips", list(&monitor.ping_ips));
    out.secs("flap_duration", monitor.flap_duration);
    out.kv("flap_count", monitor.flap_count);
    out.secs("auto_set_online", monitor.auto_set_online);
    out.path(
        "kill_host_bin",
        &monitor.kill_host_bin,
        &unused_note(monitor_scope, "kill_host_bin"),
    );
    out.path("pre_failover_hook", &monitor.pre_failover_hook, "");
    out.path("post_change_hook", &monitor.post_change_hook, "");
    out.secs("hook_timeout", monitor.hook_timeout);
    out.kv(
        "pre_failover_default",
        match monitor.pre_failover_default {
            HookDefault::Proceed => "proceed",
            HookDefault::Abort => "abort",
        },
    );
    out.kv("careful_startup", yes_no(monitor.careful_startup));
    out.kv(
        "mode",
        match monitor.mode {
            StartMode::Active => "active",
            StartMode::Manual => "manual",
            StartMode::Wait => "wait",
            StartMode::Passive => "passive",
        },
    );
    out.secs("wait_for_other_master", monitor.wait_for_other_master);
    out.secs("agent_lease", monitor.agent_lease);
    out.secs("lease_margin", monitor.lease_margin);
    out.secs("status_interval", monitor.status_interval);
    out.secs("agent_timeout", monitor.agent_timeout);
    match monitor.observer_quorum {
        Some(quorum) => out.kv("observer_quorum", format!("{quorum} of {nodes}")),
        None => out.kv(
            "observer_quorum",
            format!("majority ({} of {nodes})", nodes / 2 + 1),
        ),
    }
}

fn node(out: &mut Out, node: &MonitorNode, this: bool) {
    let note = if this { " (this node)" } else { "" };
    out.section(&format!("monitor node {}{note}", node.name));
    out.kv("id", node.id);
    out.kv("ip", node.ip);
    out.kv("port", node.port);
    out.kv("raft_port", node.raft_port);
    out.opt("http_port", node.http_port);
    out.kv("data_dir", node.data_dir.display());
}

fn socket(out: &mut Out, socket: &SocketConfig) {
    out.section("socket");
    out.kv(
        "type",
        match socket.kind {
            SocketType::Plain => "plain",
            SocketType::Ssl => "ssl",
        },
    );
    out.path("cert_file", &socket.cert_file, "");
    out.path("key_file", &socket.key_file, "");
    out.path("ca_file", &socket.ca_file, "");
}
