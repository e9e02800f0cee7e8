//! Conversions between the wire types of [`crate::pb`] and mmm-core's types, in one place.
//!
//! Building a wire value from a core value cannot fail ([`From`]); reading one that came over
//! the network can ([`TryFrom`]), and every way it can is a [`WireError`] with words an
//! operator can act on: nothing here panics on what a peer sent.

use std::net::IpAddr;

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
            ip: r.ip.to_string(),
        }
    }
}

impl TryFrom<&pb::RoleIp> for RoleIp {
    type Error = WireError;
    fn try_from(r: &pb::RoleIp) -> Result<RoleIp, WireError> {
        let ip: IpAddr = r.ip.trim().parse().map_err(|_| WireError::BadIp {
            role: r.role.clone(),
            ip: r.ip.clone(),
        })?;
        Ok(RoleIp::new(r.role.clone(), ip))
    }
}

/// Role instances as they travel.
pub fn roles_to_wire(roles: &[RoleIp]) -> Vec<pb::RoleIp> {
    roles.iter().map(pb::RoleIp::from).collect()
}

/// Role instances received; the first one that does not parse is the error.
pub fn roles_from_wire(roles: &[pb::RoleIp]) -> Result<Vec<RoleIp>, WireError> {
    roles.iter().map(RoleIp::try_from).collect()
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
    fn role_ips_convert_and_bad_ips_are_refused() {
        let r = RoleIp::new("writer", "10.213.7.100".parse().expect("ip"));
        let wire = roles_to_wire(std::slice::from_ref(&r));
        assert_eq!(wire[0].ip, "10.213.7.100");
        assert_eq!(roles_from_wire(&wire), Ok(vec![r]));
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
