//! `<host NAME>` sections (the `default` template is already applied).

use std::path::PathBuf;

use super::super::model::{HostConfig, HostMode, Program};
use super::super::rules::{HOST_TOOLS_KEYS, Kind};
use super::super::tree::Tree;
use super::super::value;
use super::context::{ALL, Ctx, View};

const AGENT: &[Program] = &[Program::Agent];
const MONITOR: &[Program] = &[Program::Monitor];
const TOOLS: &[Program] = &[Program::Tools];
const AGENT_TOOLS: &[Program] = &[Program::Agent, Program::Tools];

/// Tools-only host keys the tools need, and the defaults of the others.
const TOOLS_REQUIRED: &[&str] = &[
    "ssh_user",
    "tools_user",
    "tools_password",
    "backup_dir",
    "restore_dir",
    "lvm_snapshot_size",
    "lvm_logical_volume",
    "lvm_volume_group",
    "lvm_mount_dir",
    "lvm_mount_opts",
];
const TOOLS_DEFAULTS: &[(&str, &str)] = &[
    ("mysql_pidfile", "/var/run/mysqld/mysqld.pid"),
    ("mysql_rcscript", "/etc/init.d/mysql"),
    ("mysql_cnf", "/etc/my.cnf"),
    ("ssh_port", "22"),
    ("ssh_parameters", ""),
    ("lvm_bin_lvcreate", "lvcreate"),
    ("lvm_bin_lvremove", "lvremove"),
];

fn host_mode(text: &str) -> Result<HostMode, String> {
    match text {
        "master" => Ok(HostMode::Master),
        "slave" => Ok(HostMode::Slave),
        _ => Err("allowed values are: 'master', 'slave'".to_owned()),
    }
}

/// Builds every host; hosts with a missing or bad `ip`/`mode` are reported and left out.
pub(super) fn build(ctx: &mut Ctx, tree: &Tree) -> Vec<HostConfig> {
    let sections = tree.named(Kind::Host);
    if sections.is_empty() {
        let main = ctx.main.clone();
        ctx.missing(&main, "host");
    }
    let names: Vec<&str> = sections.iter().map(|(name, _)| name.as_str()).collect();
    let mut hosts = Vec::new();
    for (name, section) in sections {
        let view = View::named(Kind::Host, name, section);
        let ip = ctx.parse(&view, "ip", ALL, value::ip);
        let mode = ctx.parse(&view, "mode", ALL, host_mode);
        let peer = peer(ctx, &view, name, mode, &names);
        let path = |ctx: &mut Ctx, key: &str, required: &[Program]| {
            ctx.text(&view, key, required)
                .map(|entry| PathBuf::from(&entry.value))
        };
        let pid_path = path(ctx, "pid_path", AGENT);
        let bin_path = path(ctx, "bin_path", &[]);
        let mut text = |key: &str, required: &[Program]| {
            ctx.text(&view, key, required).map(|e| e.value.clone())
        };
        let cluster_interface = text("cluster_interface", AGENT);
        let agent_user = text("agent_user", AGENT);
        let agent_password = text("agent_password", AGENT);
        let monitor_user = text("monitor_user", MONITOR);
        let monitor_password = text("monitor_password", MONITOR);
        let replication_user = text("replication_user", AGENT_TOOLS);
        let replication_password = text("replication_password", AGENT_TOOLS);
        let agent_port = ctx.parse_or(&view, "agent_port", 9989, value::port);
        let mysql_port = ctx.parse_or(&view, "mysql_port", 3306, value::port);
        let http_port = ctx.parse(&view, "http_port", &[], value::port);
        let tools = tools_settings(ctx, &view);
        let (Some(ip), Some(mode)) = (ip, mode) else {
            continue;
        };
        hosts.push(HostConfig {
            name: name.clone(),
            ip,
            mode,
            peer,
            pid_path,
            bin_path,
            agent_port,
            http_port,
            cluster_interface,
            mysql_port,
            tools,
            agent_user,
            agent_password,
            monitor_user,
            monitor_password,
            replication_user,
            replication_password,
        });
    }
    hosts
}

/// `peer`: required for masters, must name another host.
fn peer(
    ctx: &mut Ctx,
    view: &View<'_>,
    name: &str,
    mode: Option<HostMode>,
    names: &[&str],
) -> Option<String> {
    let Some(entry) = view.get("peer") else {
        if mode == Some(HostMode::Master) {
            let at = view.section.at.clone();
            ctx.error(
                &at,
                format!(
                    "Config entry '{}' is required because of 'mode master', but missing",
                    view.entry_name("peer")
                ),
            );
        }
        return None;
    };
    let others: Vec<&str> = names
        .iter()
        .copied()
        .filter(|other| *other != name)
        .collect();
    if !others.contains(&entry.value.as_str()) {
        ctx.not_allowed(entry, &view.entry_name("peer"), &entry.value, &others);
        return None;
    }
    Some(entry.value.clone())
}

/// Tools-only keys, verbatim; the tools get mysql-mmm's defaults and required keys.
fn tools_settings(ctx: &mut Ctx, view: &View<'_>) -> Vec<(String, String)> {
    let for_tools = ctx.needs(TOOLS);
    let mut settings = Vec::new();
    for key in HOST_TOOLS_KEYS {
        let required = if TOOLS_REQUIRED.contains(key) {
            TOOLS
        } else {
            &[]
        };
        if let Some(entry) = ctx.text(view, key, required) {
            settings.push(((*key).to_owned(), entry.value.clone()));
        } else if for_tools
            && let Some((_, default)) = TOOLS_DEFAULTS.iter().find(|(k, _)| k == key)
        {
            settings.push(((*key).to_owned(), (*default).to_owned()));
        }
    }
    ctx.parse(view, "ssh_port", &[], value::port);
    settings
}
