//! `<monitor>` (settings every monitor shares) and `<monitor NAME>` (the members of the
//! monitor cluster), plus `this_monitor`.
//!
//! The classic single `<monitor>` section is a one-node cluster whose node is called
//! `monitor`. With named sections, the unnamed section holds only shared settings; its
//! `port` and `raft_port` are the nodes' defaults.

use std::net::IpAddr;
use std::path::PathBuf;

use super::super::defaults::{
    self, CLASSIC_MONITOR_NAME, DEFAULT_MONITOR_PORT, DEFAULT_RAFT_PORT, ELECTION_TIMEOUT_MAX,
};
use super::super::model::{HookDefault, MonitorConfig, MonitorNode, Program, StartMode};
use super::super::rules::Kind;
use super::super::tree::{Entry, Section, Tree};
use super::super::value;
use super::context::{Ctx, View};

const MONITOR: &[Program] = &[Program::Monitor];
const MONITOR_CONTROL: &[Program] = &[Program::Monitor, Program::Control];

/// Keys of the unnamed section that describe the single node of the classic form.
const CLASSIC_NODE_KEYS: &[&str] = &["ip", "data_dir", "id"];

fn start_mode(text: &str) -> Result<StartMode, String> {
    match text {
        "active" => Ok(StartMode::Active),
        "manual" => Ok(StartMode::Manual),
        "wait" => Ok(StartMode::Wait),
        "passive" => Ok(StartMode::Passive),
        _ => Err("allowed values are: 'passive', 'active', 'manual', 'wait'".to_owned()),
    }
}

fn hook_default(text: &str) -> Result<HookDefault, String> {
    match text {
        "proceed" => Ok(HookDefault::Proceed),
        "abort" => Ok(HookDefault::Abort),
        _ => Err("allowed values are: 'proceed', 'abort'".to_owned()),
    }
}

fn node_id(text: &str) -> Result<u64, String> {
    match value::unsigned::<u64>(text)? {
        0 => Err("a monitor node id must be 1 or more".to_owned()),
        id => Ok(id),
    }
}

/// Builds the shared monitor settings and the node list; `(None, [])` when the
/// configuration has no monitor section (allowed for the agent and tools).
pub(super) fn build(ctx: &mut Ctx, tree: &Tree) -> (Option<MonitorConfig>, Vec<MonitorNode>) {
    let named = tree.named(Kind::Monitor);
    let this_monitor = tree.top.get("this_monitor");
    let Some(shared_section) = tree
        .unique(Kind::Monitor)
        .cloned()
        .or_else(|| (!named.is_empty()).then(|| Section::new(ctx.main.clone())))
    else {
        if ctx.needs(MONITOR_CONTROL) {
            let main = ctx.main.clone();
            ctx.missing(&main, "monitor");
        }
        if let Some(entry) = this_monitor {
            ctx.error(
                &entry.at,
                "'this_monitor' is set but there is no <monitor NAME> section",
            );
        }
        return (None, Vec::new());
    };
    let shared = View::unique(Kind::Monitor, &shared_section);
    let nodes = if named.is_empty() {
        classic_node(ctx, &shared)
    } else {
        for key in CLASSIC_NODE_KEYS {
            if let Some(entry) = shared.get(key) {
                ctx.error(
                    &entry.at,
                    format!(
                        "'{key}' in the unnamed <monitor> section applies only to a single-monitor \
                         setup; with <monitor NAME> sections, set it in each of them"
                    ),
                );
            }
        }
        named_nodes(ctx, &shared, named)
    };
    check_endpoints(ctx, named, &nodes);
    let this = this_node(ctx, this_monitor, named, &nodes);
    let node = this.or_else(|| nodes.first());
    let Some(config) = settings(ctx, &shared, node, nodes.len()) else {
        return (None, Vec::new());
    };
    (Some(config), nodes)
}

/// The one node of a classic `<monitor>` section; its `ip` is required by the monitor
/// and mmmctl (mysql-mmm 2.2.1), optional elsewhere.
fn classic_node(ctx: &mut Ctx, shared: &View<'_>) -> Vec<MonitorNode> {
    let ip = ctx.parse(shared, "ip", MONITOR_CONTROL, value::ip);
    let port = ctx.parse_or(shared, "port", DEFAULT_MONITOR_PORT, value::port);
    let raft_port = ctx.parse_or(shared, "raft_port", DEFAULT_RAFT_PORT, value::port);
    let http_port = ctx.parse(shared, "http_port", &[], value::port);
    let id = ctx.parse_or(shared, "id", 1, node_id);
    let data_dir = shared.get("data_dir").map_or_else(
        || defaults::default_data_dir(CLASSIC_MONITOR_NAME),
        |entry| PathBuf::from(&entry.value),
    );
    match ip {
        Some(ip) => vec![MonitorNode {
            name: CLASSIC_MONITOR_NAME.to_owned(),
            id,
            ip,
            port,
            raft_port,
            http_port,
            data_dir,
        }],
        None => Vec::new(),
    }
}

/// One node per `<monitor NAME>` section; ids default to the position (from 1).
fn named_nodes(ctx: &mut Ctx, shared: &View<'_>, named: &[(String, Section)]) -> Vec<MonitorNode> {
    let port = ctx.parse_or(shared, "port", DEFAULT_MONITOR_PORT, value::port);
    let raft_port = ctx.parse_or(shared, "raft_port", DEFAULT_RAFT_PORT, value::port);
    let http_port = ctx.parse(shared, "http_port", &[], value::port);
    let mut nodes: Vec<MonitorNode> = Vec::new();
    for (position, (name, section)) in named.iter().enumerate() {
        let view = View::named(Kind::Monitor, name, section);
        let ip = ctx.parse(&view, "ip", super::context::ALL, value::ip);
        let node_port = ctx.parse_or(&view, "port", port, value::port);
        let node_raft_port = ctx.parse_or(&view, "raft_port", raft_port, value::port);
        let node_http_port = ctx
            .parse(&view, "http_port", &[], value::port)
            .or(http_port);
        let id = ctx.parse_or(&view, "id", position as u64 + 1, node_id);
        let data_dir = view.get("data_dir").map_or_else(
            || defaults::default_data_dir(name),
            |entry| PathBuf::from(&entry.value),
        );
        if let Some(other) = nodes.iter().find(|node| node.id == id) {
            let at = view
                .get("id")
                .map_or_else(|| section.at.clone(), |entry| entry.at.clone());
            ctx.error(
                &at,
                format!(
                    "Monitor node id {id} of '{name}' is already used by '{}'",
                    other.name
                ),
            );
        }
        if let Some(ip) = ip {
            nodes.push(MonitorNode {
                name: name.clone(),
                id,
                ip,
                port: node_port,
                raft_port: node_raft_port,
                http_port: node_http_port,
                data_dir,
            });
        }
    }
    nodes
}

/// No two services of the monitor cluster listen on the same address and port.
fn check_endpoints(ctx: &mut Ctx, named: &[(String, Section)], nodes: &[MonitorNode]) {
    let mut seen: Vec<(IpAddr, u16, &str)> = Vec::new();
    for node in nodes {
        let at = named
            .iter()
            .find(|(name, _)| *name == node.name)
            .map(|(_, section)| section.at.clone());
        for port in [Some(node.port), Some(node.raft_port), node.http_port]
            .into_iter()
            .flatten()
        {
            if let Some((_, _, owner)) = seen
                .iter()
                .find(|(ip, used, _)| *ip == node.ip && *used == port)
            {
                let at = at.clone().unwrap_or_else(|| ctx.main.clone());
                let whose = if *owner == node.name {
                    "its own other port".to_owned()
                } else {
                    format!("'{owner}'")
                };
                ctx.error(
                    &at,
                    format!(
                        "Monitor node '{}' listens on {}:{port}, already used by {whose}",
                        node.name, node.ip
                    ),
                );
            }
            seen.push((node.ip, port, &node.name));
        }
    }
}

/// `this_monitor`: required for the monitor daemon when there are named sections; must
/// name a node.
fn this_node<'n>(
    ctx: &mut Ctx,
    this_monitor: Option<&Entry>,
    named: &[(String, Section)],
    nodes: &'n [MonitorNode],
) -> Option<&'n MonitorNode> {
    let main = ctx.main.clone();
    let Some(entry) = this_monitor else {
        if !named.is_empty() && ctx.needs(MONITOR) {
            ctx.error(
                &main,
                "Required config entry 'this_monitor' is missing (it names this monitor's <monitor NAME> section)",
            );
        }
        return None;
    };
    let allowed: Vec<&str> = if named.is_empty() {
        vec![CLASSIC_MONITOR_NAME]
    } else {
        named.iter().map(|(name, _)| name.as_str()).collect()
    };
    if !allowed.contains(&entry.value.as_str()) {
        ctx.not_allowed(entry, "this_monitor", &entry.value, &allowed);
        return None;
    }
    nodes.iter().find(|node| node.name == entry.value)
}

/// The shared settings; `ip` and `port` are those of this node (or the first node).
fn settings(
    ctx: &mut Ctx,
    shared: &View<'_>,
    node: Option<&MonitorNode>,
    node_count: usize,
) -> Option<MonitorConfig> {
    let defaults = MonitorConfig::with_defaults(IpAddr::from([0, 0, 0, 0]));
    let path = |key: &str| shared.get(key).map(|entry| PathBuf::from(&entry.value));
    let pid_path = ctx
        .text(shared, "pid_path", MONITOR)
        .map(|entry| PathBuf::from(&entry.value));
    let ping_ips = ctx
        .parse(shared, "ping_ips", MONITOR, |text| {
            value::list_of(text, value::ip)
        })
        .unwrap_or_default();
    let config = MonitorConfig {
        ip: defaults.ip,
        port: defaults.port,
        pid_path,
        bin_path: path("bin_path"),
        status_path: path("status_path"),
        ping_interval: ctx.parse_or(
            shared,
            "ping_interval",
            defaults.ping_interval,
            value::positive_seconds,
        ),
        ping_ips,
        flap_duration: ctx.parse_or(
            shared,
            "flap_duration",
            defaults.flap_duration,
            value::seconds,
        ),
        flap_count: ctx.parse_or(shared, "flap_count", defaults.flap_count, value::unsigned),
        auto_set_online: ctx.parse_or(
            shared,
            "auto_set_online",
            defaults.auto_set_online,
            value::seconds,
        ),
        kill_host_bin: path("kill_host_bin"),
        pre_failover_hook: path("pre_failover_hook"),
        post_change_hook: path("post_change_hook"),
        hook_timeout: ctx.parse_or(
            shared,
            "hook_timeout",
            defaults.hook_timeout,
            value::positive_seconds,
        ),
        pre_failover_default: ctx.parse_or(
            shared,
            "pre_failover_default",
            defaults.pre_failover_default,
            hook_default,
        ),
        careful_startup: ctx.parse_or(
            shared,
            "careful_startup",
            defaults.careful_startup,
            value::boolean,
        ),
        mode: ctx.parse_or(shared, "mode", defaults.mode, start_mode),
        wait_for_other_master: ctx.parse_or(
            shared,
            "wait_for_other_master",
            defaults.wait_for_other_master,
            value::seconds,
        ),
        agent_lease: ctx.parse_or(
            shared,
            "agent_lease",
            defaults.agent_lease,
            value::positive_seconds,
        ),
        lease_margin: ctx.parse_or(
            shared,
            "lease_margin",
            defaults.lease_margin,
            value::seconds,
        ),
        status_interval: ctx.parse_or(
            shared,
            "status_interval",
            defaults.status_interval,
            value::positive_seconds,
        ),
        agent_timeout: ctx.parse_or(
            shared,
            "agent_timeout",
            defaults.agent_timeout,
            value::positive_seconds,
        ),
        observer_quorum: ctx.parse(shared, "observer_quorum", &[], |text| {
            quorum(text, node_count)
        }),
    };
    if config.status_interval >= config.agent_lease {
        let at = shared
            .get("status_interval")
            .or(shared.get("agent_lease"))
            .map_or_else(|| shared.section.at.clone(), |entry| entry.at.clone());
        ctx.error(
            &at,
            format!(
                "'monitor->status_interval' ({}s) must be shorter than 'monitor->agent_lease' ({}s), \
                 or agents lose their lease between two status updates",
                value::format_seconds(config.status_interval),
                value::format_seconds(config.agent_lease)
            ),
        );
    }
    if config.lease_margin < ELECTION_TIMEOUT_MAX {
        let at = shared
            .get("lease_margin")
            .map_or_else(|| shared.section.at.clone(), |entry| entry.at.clone());
        ctx.error(
            &at,
            format!(
                "'monitor->lease_margin' ({}s) must be at least the monitors' election timeout ({}s): \
                 a deposed leader may renew leases for that long",
                value::format_seconds(config.lease_margin),
                value::format_seconds(ELECTION_TIMEOUT_MAX)
            ),
        );
    }
    let node = node?;
    Some(MonitorConfig {
        ip: node.ip,
        port: node.port,
        ..config
    })
}

/// `observer_quorum`: 1 up to the number of monitor nodes.
fn quorum(text: &str, node_count: usize) -> Result<usize, String> {
    let quorum: usize = value::unsigned(text)?;
    if quorum == 0 || quorum > node_count.max(1) {
        return Err(format!(
            "must be between 1 and {} (the number of monitor nodes)",
            node_count.max(1)
        ));
    }
    Ok(quorum)
}
