//! `<role NAME>` sections, the rules on the active-master role, and VIP uniqueness.

use std::net::IpAddr;

use super::super::error::Loc;
use super::super::model::{HostConfig, Program, RoleConfig, RoleMode};
use super::super::rules::Kind;
use super::super::tree::Tree;
use super::super::value;
use super::context::{Ctx, View};

const MONITOR: &[Program] = &[Program::Monitor];
const AGENT_MONITOR: &[Program] = &[Program::Agent, Program::Monitor];

fn role_mode(text: &str) -> Result<RoleMode, String> {
    match text {
        "exclusive" => Ok(RoleMode::Exclusive),
        "balanced" => Ok(RoleMode::Balanced),
        _ => Err("allowed values are: 'balanced', 'exclusive'".to_owned()),
    }
}

/// Builds every role and checks the active-master role's shape. A role whose `mode` is not
/// set (allowed outside the monitor, as in mysql-mmm) is exclusive when it is the
/// active-master role and balanced otherwise.
pub(super) fn build(ctx: &mut Ctx, tree: &Tree, hosts: &[HostConfig]) -> Vec<RoleConfig> {
    let sections = tree.named(Kind::Role);
    if sections.is_empty() && ctx.needs(AGENT_MONITOR) {
        let main = ctx.main.clone();
        ctx.missing(&main, "role");
    }
    let host_names: Vec<&str> = tree
        .named(Kind::Host)
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    let active_master = tree
        .top
        .get("active_master_role")
        .map(|entry| entry.value.as_str());
    let mut roles = Vec::new();
    let mut vips: Vec<(IpAddr, String)> = Vec::new();
    for (name, section) in sections {
        let view = View::named(Kind::Role, name, section);
        let is_active_master = active_master == Some(name.as_str());
        let mode = ctx.parse(&view, "mode", MONITOR, role_mode);
        let mode = match (view.get("mode"), mode) {
            (Some(_), None) => continue,
            (_, Some(mode)) => mode,
            (None, None) if is_active_master => RoleMode::Exclusive,
            (None, None) => RoleMode::Balanced,
        };
        let Some(role_hosts) = role_hosts(ctx, &view, &host_names) else {
            continue;
        };
        // Without `ips` an exclusive role is VIP-less (see `check_vip_less`).
        let Some(ips) = ctx
            .parse(&view, "ips", &[], |text| value::list_of(text, value::ip))
            .or_else(|| view.get("ips").is_none().then(Vec::new))
        else {
            continue;
        };
        let prefer = prefer(ctx, &view, &role_hosts);
        let ips_at = view
            .get("ips")
            .map_or_else(|| section.at.clone(), |entry| entry.at.clone());
        if mode == RoleMode::Exclusive && ips.len() > 1 {
            ctx.error(
                &ips_at,
                format!(
                    "Exclusive role '{name}' must have exactly one IP, but '{}' lists {}",
                    view.entry_name("ips"),
                    ips.len()
                ),
            );
        }
        if is_active_master {
            check_active_master(ctx, &view, name, mode, &role_hosts, &ips);
        }
        if ips.is_empty() && ctx.needs(AGENT_MONITOR) {
            check_vip_less(ctx, &view, mode, &role_hosts, hosts);
        }
        check_unique_vips(ctx, name, &ips, &ips_at, hosts, &mut vips);
        roles.push(RoleConfig {
            name: name.clone(),
            mode,
            hosts: role_hosts,
            ips,
            prefer,
        });
    }
    roles
}

/// `hosts`: a list of configured host names.
fn role_hosts(ctx: &mut Ctx, view: &View<'_>, host_names: &[&str]) -> Option<Vec<String>> {
    let Some(list) = ctx.parse(view, "hosts", MONITOR, value::list) else {
        return view.get("hosts").is_none().then(Vec::new);
    };
    let mut valid = true;
    for (index, host) in list.iter().enumerate() {
        let Some(entry) = view.get("hosts") else {
            break;
        };
        if !host_names.contains(&host.as_str()) {
            ctx.not_allowed(entry, &view.entry_name("hosts"), host, host_names);
            valid = false;
        } else if list[..index].contains(host) {
            ctx.error(
                &entry.at,
                format!(
                    "Config entry '{}' lists host '{host}' twice",
                    view.entry_name("hosts")
                ),
            );
            valid = false;
        }
    }
    valid.then_some(list)
}

/// `prefer`: one of the role's own hosts.
fn prefer(ctx: &mut Ctx, view: &View<'_>, role_hosts: &[String]) -> Option<String> {
    let entry = view.get("prefer")?;
    if !role_hosts.contains(&entry.value) {
        let allowed: Vec<&str> = role_hosts.iter().map(String::as_str).collect();
        ctx.not_allowed(entry, &view.entry_name("prefer"), &entry.value, &allowed);
        return None;
    }
    Some(entry.value.clone())
}

/// The active-master role is exclusive, has one IP and at most two hosts can hold it.
fn check_active_master(
    ctx: &mut Ctx,
    view: &View<'_>,
    name: &str,
    mode: RoleMode,
    hosts: &[String],
    ips: &[IpAddr],
) {
    if mode != RoleMode::Exclusive {
        let at = view
            .get("mode")
            .map_or_else(|| view.section.at.clone(), |entry| entry.at.clone());
        ctx.error(
            &at,
            format!("The active master role '{name}' must be an exclusive role (mode exclusive)"),
        );
    }
    // An exclusive role with several IPs is already reported for every exclusive role.
    if ips.len() > 1 && mode != RoleMode::Exclusive {
        let at = view
            .get("ips")
            .map_or_else(|| view.section.at.clone(), |entry| entry.at.clone());
        ctx.error(
            &at,
            format!("The active master role '{name}' must have exactly one IP"),
        );
    }
    if hosts.len() > 2 {
        let at = view
            .get("hosts")
            .map_or_else(|| view.section.at.clone(), |entry| entry.at.clone());
        ctx.error(
            &at,
            format!(
                "At most two hosts may hold the active master role '{name}', but '{}' lists {}: {}",
                view.entry_name("hosts"),
                hosts.len(),
                hosts.join(", ")
            ),
        );
    }
}

/// A role without `ips` has no VIP for clients to follow, so it must be exclusive (its one
/// bare instance is the writer a load balancer looks for) and every host that may hold it
/// must serve the agent's health endpoints (`http_port`), which is how clients find it.
fn check_vip_less(
    ctx: &mut Ctx,
    view: &View<'_>,
    mode: RoleMode,
    role_hosts: &[String],
    hosts: &[HostConfig],
) {
    let at = view.missing_at().clone();
    let name = view.entry_name("ips");
    if mode != RoleMode::Exclusive {
        ctx.error(
            &at,
            format!(
                "Required config entry '{name}' is missing: only an exclusive role can go \
                 without VIPs"
            ),
        );
        return;
    }
    let dark: Vec<&str> = hosts
        .iter()
        .filter(|h| role_hosts.contains(&h.name) && h.http_port.is_none())
        .map(|h| h.name.as_str())
        .collect();
    if !dark.is_empty() {
        ctx.error(
            &at,
            format!(
                "Config entry '{name}' is missing, so the role has no VIP and clients find \
                 its host through the agents' health endpoints, but these hosts have no \
                 'http_port': {}",
                dark.join(", ")
            ),
        );
    }
}

/// A role IP belongs to one role only and is never a host's permanent IP.
fn check_unique_vips(
    ctx: &mut Ctx,
    role: &str,
    ips: &[IpAddr],
    at: &Loc,
    hosts: &[HostConfig],
    seen: &mut Vec<(IpAddr, String)>,
) {
    for ip in ips {
        if let Some((_, other)) = seen.iter().find(|(used, _)| used == ip) {
            let whose = if other == role {
                "this role".to_owned()
            } else {
                format!("role '{other}'")
            };
            ctx.error(
                at,
                format!("IP {ip} of role '{role}' is also used by {whose}"),
            );
        } else if let Some(host) = hosts.iter().find(|host| host.ip == *ip) {
            ctx.error(
                at,
                format!(
                    "IP {ip} of role '{role}' is the permanent IP of host '{}'",
                    host.name
                ),
            );
        }
        seen.push((*ip, role.to_owned()));
    }
}
