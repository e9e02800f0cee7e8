//! Top-level directives.

use std::time::Duration;

use super::super::model::{HostConfig, Program, RoleConfig};
use super::super::rules::Kind;
use super::super::tree::Tree;
use super::super::value;
use super::context::{Ctx, View};

/// The typed top-level settings.
pub(super) struct Global {
    pub(super) this: Option<String>,
    pub(super) debug: bool,
    pub(super) active_master_role: Option<String>,
    pub(super) max_kill_retries: u32,
    pub(super) catchup_timeout: Duration,
    pub(super) use_gtid: bool,
    pub(super) failsafe_mode: bool,
    pub(super) this_monitor: Option<String>,
}

/// Reads the top-level directives; `this` must name a host and `active_master_role` a role.
/// `this_monitor` is checked with the monitor sections.
/// References are checked against the declared sections, so a section that failed
/// validation (already reported) does not cause a second error here.
pub(super) fn build(
    ctx: &mut Ctx,
    tree: &Tree,
    hosts: &[HostConfig],
    roles: &[RoleConfig],
) -> Global {
    let view = View::top(&tree.top);
    let names = |kind: Kind| -> Vec<&str> {
        tree.named(kind)
            .iter()
            .map(|(name, _)| name.as_str())
            .collect()
    };
    let this = reference(
        ctx,
        &view,
        "this",
        &[Program::Agent, Program::Tools],
        &names(Kind::Host),
    )
    .filter(|name| hosts.iter().any(|host| host.name == *name));
    let active_master_role = reference(
        ctx,
        &view,
        "active_master_role",
        &[Program::Agent, Program::Monitor],
        &names(Kind::Role),
    )
    .filter(|name| roles.iter().any(|role| role.name == *name));
    Global {
        this,
        debug: ctx.parse_or(&view, "debug", false, value::boolean),
        active_master_role,
        max_kill_retries: ctx.parse_or(&view, "max_kill_retries", 10, value::unsigned),
        catchup_timeout: ctx.parse_or(
            &view,
            "catchup_timeout",
            Duration::from_secs(30),
            value::positive_seconds,
        ),
        use_gtid: ctx.parse_or(&view, "use_gtid", true, value::boolean),
        failsafe_mode: ctx.parse_or(&view, "failsafe_mode", true, value::boolean),
        this_monitor: view.get("this_monitor").map(|entry| entry.value.clone()),
    }
}

/// A key whose value must be one of `allowed` (a section name).
fn reference(
    ctx: &mut Ctx,
    view: &View<'_>,
    key: &str,
    required: &[Program],
    allowed: &[&str],
) -> Option<String> {
    let entry = ctx.text(view, key, required)?;
    if !allowed.contains(&entry.value.as_str()) {
        ctx.not_allowed(entry, key, &entry.value, allowed);
        return None;
    }
    Some(entry.value.clone())
}
