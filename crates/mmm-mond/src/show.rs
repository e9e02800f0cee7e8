//! The `show` reply built from a replicated state, so mmmctl's `show` and the status page
//! print the same table from the same facts.

use mmm_core::config::{Config, RoleMode};
use mmm_core::state::{ClusterState, HostState};
use mmm_proto::{convert, pb};

/// `show` of `state` under `config`, as answered by the monitor named `answered_by`.
pub fn reply(state: &ClusterState, config: &Config, answered_by: String) -> pb::ShowReply {
    pb::ShowReply {
        mode: state.mode.as_str().to_string(),
        passive_cause: state.passive_cause.clone(),
        hosts: hosts(state, config),
        preferred: preferred(state, config),
        epoch: state.epoch,
        stale: false,
        stale_reason: String::new(),
        answered_by,
        failsafe: Vec::new(),
        writer_held: state
            .writer_release
            .as_ref()
            .map(|rel| mmm_core::render::writer_held(rel, config))
            .unwrap_or_default(),
    }
}

fn hosts(state: &ClusterState, config: &Config) -> Vec<pb::HostView> {
    config
        .hosts
        .iter()
        .map(|h| {
            let st = state.host(&h.name);
            pb::HostView {
                name: h.name.clone(),
                ip: h.ip.to_string(),
                mode: h.mode.as_str().to_string(),
                state: convert::state_to_wire(st.map_or(HostState::Unknown, |s| s.state)),
                roles: st
                    .map(|s| convert::roles_to_wire(&s.roles))
                    .unwrap_or_default(),
                agent_down: st.is_some_and(|s| s.agent_down),
            }
        })
        .collect()
}

fn preferred(state: &ClusterState, config: &Config) -> Vec<pb::PreferredRoleView> {
    config
        .roles
        .iter()
        .filter(|r| r.mode == RoleMode::Exclusive)
        .filter_map(|r| {
            let p = r.prefer.clone()?;
            let assigned = state
                .owner_of(&r.name, r.ips.first().copied())
                .unwrap_or_default()
                .to_string();
            Some(pb::PreferredRoleView {
                role: r.name.clone(),
                preferred_host: p,
                assigned_host: assigned,
            })
        })
        .collect()
}
