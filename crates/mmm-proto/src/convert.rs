//! Conversions between the wire types of [`crate::pb`] and mmm-core's types, in one place.
//!
//! Building a wire value from a core value cannot fail ([`From`]); reading one that came over
//! the network can ([`TryFrom`]), and every way it can is a [`WireError`] with words an
//! operator can act on: nothing here panics on what a peer sent.

use std::net::IpAddr;

use mmm_core::agent::Mono;
use mmm_core::agent::lease::LeaseBasis;
use mmm_core::render::{HostView, PreferredView, ShowView};
use mmm_core::state::{HostState, RoleIp};

use crate::pb;

/// A value received over gRPC that does not mean anything mmm knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The sender left the host state unset (`HOST_STATE_UNSPECIFIED`).
    #[error("the host state is missing")]
    MissingState,
    /// A host state number this version does not define.
    #[error("unknown host state number {0}")]
    UnknownState(i32),
    /// A role IP that does not parse as an IP address.
    #[error("IP '{ip}' of role '{role}' is not an IP address")]
    BadIp {
        /// Role name as sent.
        role: String,
        /// IP text as sent.
        ip: String,
    },
    /// A lease basis without the agent process it belongs to.
    #[error("the lease basis names no agent process (incarnation 0)")]
    BasisWithoutIncarnation,
}

impl From<HostState> for pb::HostState {
    fn from(s: HostState) -> pb::HostState {
        match s {
            HostState::Online => pb::HostState::Online,
            HostState::AdminOffline => pb::HostState::AdminOffline,
            HostState::HardOffline => pb::HostState::HardOffline,
            HostState::AwaitingRecovery => pb::HostState::AwaitingRecovery,
            HostState::ReplicationDelay => pb::HostState::ReplicationDelay,
            HostState::ReplicationFail => pb::HostState::ReplicationFail,
            HostState::Unknown => pb::HostState::Unknown,
        }
    }
}

impl TryFrom<pb::HostState> for HostState {
    type Error = WireError;
    fn try_from(s: pb::HostState) -> Result<HostState, WireError> {
        Ok(match s {
            pb::HostState::Unspecified => return Err(WireError::MissingState),
            pb::HostState::Online => HostState::Online,
            pb::HostState::AdminOffline => HostState::AdminOffline,
            pb::HostState::HardOffline => HostState::HardOffline,
            pb::HostState::AwaitingRecovery => HostState::AwaitingRecovery,
            pb::HostState::ReplicationDelay => HostState::ReplicationDelay,
            pb::HostState::ReplicationFail => HostState::ReplicationFail,
            pb::HostState::Unknown => HostState::Unknown,
        })
    }
}

/// The number a core host state travels as (prost keeps enum fields as `i32`).
pub fn state_to_wire(s: HostState) -> i32 {
    pb::HostState::from(s).into()
}

/// The host state an enum field received as `wire` stands for.
pub fn state_from_wire(wire: i32) -> Result<HostState, WireError> {
    let s = pb::HostState::try_from(wire).map_err(|_| WireError::UnknownState(wire))?;
    HostState::try_from(s)
}

impl From<&RoleIp> for pb::RoleIp {
    fn from(r: &RoleIp) -> pb::RoleIp {
        pb::RoleIp {
            role: r.role.clone(),
            ip: r.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        }
    }
}

impl TryFrom<&pb::RoleIp> for RoleIp {
    type Error = WireError;
    fn try_from(r: &pb::RoleIp) -> Result<RoleIp, WireError> {
        if r.ip.is_empty() {
            return Ok(RoleIp::bare(r.role.clone()));
        }
        let ip: IpAddr = r.ip.trim().parse().map_err(|_| WireError::BadIp {
            role: r.role.clone(),
            ip: r.ip.clone(),
        })?;
        Ok(RoleIp::new(r.role.clone(), ip))
    }
}

impl From<LeaseBasis> for pb::LeaseBasis {
    fn from(b: LeaseBasis) -> pb::LeaseBasis {
        pb::LeaseBasis {
            incarnation: b.incarnation,
            basis_ms: b.at.as_millis(),
        }
    }
}

impl TryFrom<&pb::LeaseBasis> for LeaseBasis {
    type Error = WireError;
    fn try_from(b: &pb::LeaseBasis) -> Result<LeaseBasis, WireError> {
        if b.incarnation == 0 {
            return Err(WireError::BasisWithoutIncarnation);
        }
        Ok(LeaseBasis {
            incarnation: b.incarnation,
            at: Mono::from_millis(b.basis_ms),
        })
    }
}

/// The basis a leader echoes after receiving `report` (none before the agent reported one).
pub fn basis_of(report: &pb::AgentReport) -> Option<pb::LeaseBasis> {
    (report.incarnation != 0).then_some(pb::LeaseBasis {
        incarnation: report.incarnation,
        basis_ms: report.lease_basis_ms,
    })
}

/// Role instances as they travel.
pub fn roles_to_wire(roles: &[RoleIp]) -> Vec<pb::RoleIp> {
    roles.iter().map(pb::RoleIp::from).collect()
}

/// Role instances received; the first one that does not parse is the error.
pub fn roles_from_wire(roles: &[pb::RoleIp]) -> Result<Vec<RoleIp>, WireError> {
    roles.iter().map(RoleIp::try_from).collect()
}

/// A host state received as its name (`ONLINE`), or `?(why)` when it means nothing: what
/// renderings print, so one odd value never hides the rest of a reply.
pub fn state_name(wire: i32) -> String {
    match state_from_wire(wire) {
        Ok(s) => s.as_str().to_string(),
        Err(e) => format!("?({e})"),
    }
}

/// A `show` reply as the renderer's view, so every place that prints one prints
/// mmm_control's text from the same fields.
pub fn show_view(reply: &pb::ShowReply) -> ShowView {
    ShowView {
        mode: reply.mode.clone(),
        passive_cause: reply.passive_cause.clone(),
        hosts: reply
            .hosts
            .iter()
            .map(|h| HostView {
                name: h.name.clone(),
                ip: h.ip.clone(),
                mode: h.mode.clone(),
                state: state_name(h.state),
                roles: h
                    .roles
                    .iter()
                    .map(|r| (r.role.clone(), r.ip.clone()))
                    .collect(),
                agent_down: h.agent_down,
            })
            .collect(),
        preferred: reply
            .preferred
            .iter()
            .map(|p| PreferredView {
                role: p.role.clone(),
                preferred_host: p.preferred_host.clone(),
                assigned_host: (!p.assigned_host.is_empty()).then(|| p.assigned_host.clone()),
            })
            .collect(),
        writer_held: reply.writer_held.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_survives_the_round_trip() {
        for s in HostState::ALL {
            assert_eq!(state_from_wire(state_to_wire(s)), Ok(s), "{s}");
        }
    }

    #[test]
    fn bad_states_are_refused() {
        assert_eq!(state_from_wire(0), Err(WireError::MissingState));
        assert_eq!(state_from_wire(42), Err(WireError::UnknownState(42)));
        assert_eq!(state_from_wire(-1), Err(WireError::UnknownState(-1)));
        assert_eq!(
            WireError::UnknownState(42).to_string(),
            "unknown host state number 42"
        );
    }

    #[test]
    fn lease_basis_round_trip_and_incarnation_zero_is_refused() {
        let b = LeaseBasis {
            incarnation: 9,
            at: Mono::from_millis(1234),
        };
        let wire = pb::LeaseBasis::from(b);
        assert_eq!(LeaseBasis::try_from(&wire), Ok(b));
        let report = pb::AgentReport {
            incarnation: 9,
            lease_basis_ms: 1234,
            ..Default::default()
        };
        assert_eq!(basis_of(&report), Some(wire));
        assert_eq!(basis_of(&pb::AgentReport::default()), None);
        let zero = pb::LeaseBasis {
            incarnation: 0,
            basis_ms: 5,
        };
        assert_eq!(
            LeaseBasis::try_from(&zero),
            Err(WireError::BasisWithoutIncarnation)
        );
    }

    #[test]
    fn role_ips_convert_and_bad_ips_are_refused() {
        let r = RoleIp::new("writer", "10.213.7.100".parse().expect("ip"));
        let wire = roles_to_wire(std::slice::from_ref(&r));
        assert_eq!(wire[0].ip, "10.213.7.100");
        assert_eq!(roles_from_wire(&wire), Ok(vec![r]));
        let bare = RoleIp::bare("writer");
        let wire = roles_to_wire(std::slice::from_ref(&bare));
        assert_eq!(wire[0].ip, "", "a VIP-less role travels without an IP");
        assert_eq!(roles_from_wire(&wire), Ok(vec![bare]));
        let bad = pb::RoleIp {
            role: "writer".into(),
            ip: "1.1.1.1'; --".into(),
        };
        assert_eq!(
            RoleIp::try_from(&bad),
            Err(WireError::BadIp {
                role: "writer".into(),
                ip: "1.1.1.1'; --".into()
            })
        );
    }
}
