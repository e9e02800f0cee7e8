//! Which commands may apply to the current state: every check `apply` makes before it
//! changes anything, with the reason a command is rejected.

use std::net::IpAddr;

use crate::config::{Config, RoleMode};
use crate::state::{ClusterState, HostState, HostStatus, RoleIp, WriterRelease};

use super::{Change, Command, PostChangeStep, Rejected};

fn host_state(state: &ClusterState, host: &str) -> Result<HostState, Rejected> {
    state
        .state_of(host)
        .ok_or_else(|| Rejected::UnknownHost(host.to_string()))
}

fn expect_state(state: &ClusterState, host: &str, expected: HostState) -> Result<(), Rejected> {
    let actual = host_state(state, host)?;
    if actual != expected {
        return Err(Rejected::StateMismatch {
            host: host.to_string(),
            expected,
            actual,
        });
    }
    Ok(())
}

pub(super) fn validate(
    state: &ClusterState,
    cmd: &Command,
    config: &Config,
) -> Result<(), Rejected> {
    match &cmd.change {
        Change::SetState { host, from, to, .. } => {
            expect_state(state, host, *from)?;
            if from == to {
                return Err(Rejected::NoChange);
            }
        }
        Change::ClearRoles { host, state: st } => {
            expect_state(state, host, *st)?;
            if state.roles_of(host).is_empty() {
                return Err(Rejected::NoChange);
            }
        }
        Change::AssignRole { role, ip, from, to } => {
            validate_assign(state, config, role, *ip, from.as_deref(), to)?;
        }
        Change::ReleaseWriter { host, ip, target } => {
            validate_release(state, config, host, *ip, target.as_deref())?;
        }
        Change::ProveFenced { host, epoch, .. } => validate_proof(state, host, *epoch)?,
        Change::PostChange(step) => validate_post_change(state, step)?,
        Change::RecordHookVerdict { epoch, .. } => {
            let rel = pending_release(state)?;
            if rel.epoch != *epoch || !rel.failover {
                return Err(Rejected::NoReleasePending);
            }
            if rel.hook.is_some() {
                return Err(Rejected::NoChange);
            }
        }
        Change::RetargetWriter { to } => {
            host_state(state, to)?;
            let rel = pending_release(state)?;
            if rel.target.as_ref() == Some(to) {
                return Err(Rejected::NoChange);
            }
        }
        Change::RemoveRole { host, role } => {
            host_state(state, host)?;
            let rc = config
                .roles
                .iter()
                .find(|r| &r.name == role && r.mode == RoleMode::Balanced)
                .ok_or_else(|| Rejected::UnknownRole(role.clone()))?;
            if !state.roles_of(host).iter().any(|r| r.role == rc.name) {
                return Err(Rejected::NoChange);
            }
        }
        Change::SetMode { from, to, .. } => {
            if state.mode != *from {
                return Err(Rejected::ModeMismatch {
                    expected: *from,
                    actual: state.mode,
                });
            }
            if from == to {
                return Err(Rejected::NoChange);
            }
        }
        Change::SetAgentDown { host, down } => {
            validate_flag(state, host, |h| h.agent_down == *down)?;
        }
        Change::SetServerTimer { host, on } => {
            validate_flag(state, host, |h| h.server_timer == *on)?;
        }
        Change::Startup { hosts, .. } => validate_startup(state, config, hosts)?,
    }
    Ok(())
}

/// The writer release in progress, or `NoReleasePending`.
fn pending_release(state: &ClusterState) -> Result<&WriterRelease, Rejected> {
    state
        .writer_release
        .as_ref()
        .ok_or(Rejected::NoReleasePending)
}

/// `ProveFenced` fits only the pending release of `host` at `epoch`, and only once.
fn validate_proof(state: &ClusterState, host: &str, epoch: u64) -> Result<(), Rejected> {
    let rel = pending_release(state)?;
    if rel.host != host || rel.epoch != epoch {
        return Err(Rejected::NoReleasePending);
    }
    if rel.proof.is_some() {
        return Err(Rejected::NoChange);
    }
    Ok(())
}

/// A post-change step must follow the cursor: skip only an unset one, begin the next epoch
/// (no later than the current one) when none runs, finish the one that runs.
fn validate_post_change(state: &ClusterState, step: &PostChangeStep) -> Result<(), Rejected> {
    let cursor = state.post_change;
    let ok = match (step, cursor) {
        (PostChangeStep::Reset, Some(_)) => true,
        (PostChangeStep::Skip { to }, None) => *to <= state.epoch,
        (PostChangeStep::Begin { epoch, .. }, Some(c)) => {
            c.started.is_none() && *epoch == c.finished + 1 && *epoch <= state.epoch
        }
        (PostChangeStep::Finish { epoch, .. }, Some(c)) => {
            c.started.is_some_and(|(e, _)| e == *epoch)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Rejected::BadPostChange(format!(
            "{step:?} after {cursor:?}"
        )))
    }
}

/// A host flag change needs a known host whose flag differs (`unchanged` says it does not).
fn validate_flag(
    state: &ClusterState,
    host: &str,
    unchanged: impl FnOnce(&HostStatus) -> bool,
) -> Result<(), Rejected> {
    let h = state
        .host(host)
        .ok_or_else(|| Rejected::UnknownHost(host.to_string()))?;
    if unchanged(h) {
        return Err(Rejected::NoChange);
    }
    Ok(())
}

fn validate_assign(
    state: &ClusterState,
    config: &Config,
    role: &str,
    ip: Option<IpAddr>,
    from: Option<&str>,
    to: &str,
) -> Result<(), Rejected> {
    let instance = RoleIp {
        role: role.to_string(),
        ip,
    };
    let rc = config
        .roles
        .iter()
        .find(|r| r.has_instance(&instance))
        .ok_or_else(|| Rejected::UnknownRole(instance.to_string()))?;
    let to_state = host_state(state, to)?;
    if !rc.hosts.iter().any(|h| h == to) {
        return Err(Rejected::CannotHold {
            host: to.to_string(),
            role: role.to_string(),
        });
    }
    if to_state != HostState::Online {
        return Err(Rejected::NotOnline {
            host: to.to_string(),
            state: to_state,
        });
    }
    let actual = state.owner_of(role, ip);
    if actual != from {
        return Err(Rejected::OwnerMismatch {
            role: instance.to_string(),
            expected: from.map(str::to_string),
            actual: actual.map(str::to_string),
        });
    }
    if from == Some(to) {
        return Err(Rejected::NoChange);
    }
    if Some(role) == config.active_master_role.as_deref() && from.is_some() {
        return Err(Rejected::WriterNotReleased);
    }
    Ok(())
}

fn validate_release(
    state: &ClusterState,
    config: &Config,
    host: &str,
    ip: Option<IpAddr>,
    target: Option<&str>,
) -> Result<(), Rejected> {
    host_state(state, host)?;
    let role = config
        .active_master_role
        .as_deref()
        .ok_or_else(|| Rejected::UnknownRole("active master".into()))?;
    if state.owner_of(role, ip) != Some(host) {
        return Err(Rejected::OwnerMismatch {
            role: RoleIp {
                role: role.to_string(),
                ip,
            }
            .to_string(),
            expected: Some(host.to_string()),
            actual: state.owner_of(role, ip).map(str::to_string),
        });
    }
    if let Some(t) = target {
        host_state(state, t)?;
    }
    Ok(())
}

fn validate_startup(
    state: &ClusterState,
    config: &Config,
    hosts: &[(String, HostState, Vec<RoleIp>)],
) -> Result<(), Rejected> {
    if state.started {
        return Err(Rejected::BadStartup("already started".into()));
    }
    let names: Vec<&str> = hosts.iter().map(|(h, _, _)| h.as_str()).collect();
    let want: Vec<&str> = state.hosts.iter().map(|h| h.name.as_str()).collect();
    if names != want {
        return Err(Rejected::BadStartup(
            "host list differs from the config".into(),
        ));
    }
    let mut seen: Vec<&RoleIp> = Vec::new();
    for (h, _, roles) in hosts {
        for r in roles {
            let ok = config
                .roles
                .iter()
                .any(|rc| rc.has_instance(r) && rc.hosts.contains(h));
            if !ok {
                return Err(Rejected::BadStartup(format!("{h} can't hold {r}")));
            }
            if seen.contains(&r) {
                return Err(Rejected::BadStartup(format!("{r} given to two hosts")));
            }
            seen.push(r);
        }
    }
    Ok(())
}
