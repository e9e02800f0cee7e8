//! Pure planning of what a status change or a periodic re-assertion must do, in mysql-mmm's order.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::state::RoleIp;

/// One step on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove a role: for the writer first deny writes, then delete the IP.
    RemoveRole {
        /// The role.
        role: RoleIp,
        /// It is the active-master role.
        writer: bool,
    },
    /// Add a role: for the writer first catch up and allow writes, then add the IP and ARP.
    AddRole {
        /// The role.
        role: RoleIp,
        /// It is the active-master role.
        writer: bool,
    },
}

/// Removals first (sorted), then additions (sorted), as mysql-mmm's agent does.
pub fn role_changes(old: &[RoleIp], new: &[RoleIp], writer_role: Option<&str>) -> Vec<Step> {
    let old_set: BTreeSet<&RoleIp> = old.iter().collect();
    let new_set: BTreeSet<&RoleIp> = new.iter().collect();
    let is_writer = |r: &RoleIp| Some(r.role.as_str()) == writer_role;
    let mut steps: Vec<Step> = old_set
        .difference(&new_set)
        .map(|r| Step::RemoveRole {
            role: (*r).clone(),
            writer: is_writer(r),
        })
        .collect();
    steps.extend(new_set.difference(&old_set).map(|r| Step::AddRole {
        role: (*r).clone(),
        writer: is_writer(r),
    }));
    steps
}

/// What a periodic re-assertion finds missing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reassert {
    /// Held role IPs absent from the interface.
    pub add_ips: Vec<RoleIp>,
    /// Writes must be allowed again (writer held, caught up, server read-only).
    pub allow_write: bool,
    /// The writer role still needs its catch-up (an earlier attempt failed).
    pub sync_writer: bool,
}

/// Compares held roles with the observed system.
pub fn reassert(
    held: &[RoleIp],
    present: &[IpAddr],
    writable: Option<bool>,
    writer_role: Option<&str>,
    writer_synced: bool,
) -> Reassert {
    let writer = held.iter().find(|r| Some(r.role.as_str()) == writer_role);
    let mut out = Reassert::default();
    if writer.is_some() {
        if writer_synced {
            out.allow_write = writable == Some(false);
        } else {
            out.sync_writer = true;
        }
    }
    for r in held {
        let is_writer = Some(r) == writer;
        if is_writer && !writer_synced {
            continue;
        }
        if r.ip.is_some_and(|ip| !present.contains(&ip)) {
            out.add_ips.push(r.clone());
        }
    }
    out
}

/// Configured role IPs present on the interface that no held role explains (CLEAR_BAD_ROLES).
pub fn bad_roles(configured: &[RoleIp], held: &[RoleIp], present: &[IpAddr]) -> Vec<RoleIp> {
    configured
        .iter()
        .filter(|r| {
            r.ip.is_some_and(|ip| present.contains(&ip)) && !held.iter().any(|h| h.ip == r.ip)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, ip: &str) -> RoleIp {
        RoleIp::new(name, ip.parse().expect("ip"))
    }

    #[test]
    fn removals_come_before_additions() {
        let old = vec![
            role("reader", "10.213.7.101"),
            role("writer", "10.213.7.100"),
        ];
        let new = vec![
            role("reader", "10.213.7.101"),
            role("reader", "10.213.7.102"),
        ];
        let steps = role_changes(&old, &new, Some("writer"));
        assert_eq!(
            steps,
            vec![
                Step::RemoveRole {
                    role: role("writer", "10.213.7.100"),
                    writer: true
                },
                Step::AddRole {
                    role: role("reader", "10.213.7.102"),
                    writer: false
                },
            ]
        );
        assert!(role_changes(&new, &new, Some("writer")).is_empty());
    }

    #[test]
    fn reassert_restores_missing_pieces() {
        let held = vec![
            role("reader", "10.213.7.101"),
            role("writer", "10.213.7.100"),
        ];
        let present: Vec<IpAddr> = vec!["10.213.7.101".parse().expect("ip")];
        let r = reassert(&held, &present, Some(false), Some("writer"), true);
        assert!(r.allow_write);
        assert_eq!(r.add_ips, vec![role("writer", "10.213.7.100")]);
        // Not caught up yet: neither writes nor the writer IP, but a new sync attempt.
        let r = reassert(&held, &present, Some(false), Some("writer"), false);
        assert!(!r.allow_write && r.sync_writer && r.add_ips.is_empty());
        // Unknown writability (MySQL down) does not trigger allow_write.
        let r = reassert(&held, &present, None, Some("writer"), true);
        assert!(!r.allow_write);
        // Nothing missing.
        let all: Vec<IpAddr> = held.iter().filter_map(|r| r.ip).collect();
        assert_eq!(
            reassert(&held, &all, Some(true), Some("writer"), true),
            Reassert::default()
        );
    }

    #[test]
    fn bad_roles_are_present_but_not_held() {
        let configured = vec![
            role("writer", "10.213.7.100"),
            role("reader", "10.213.7.101"),
            role("reader", "10.213.7.102"),
        ];
        let held = vec![role("reader", "10.213.7.101")];
        let present: Vec<IpAddr> = vec![
            "10.213.7.100".parse().expect("ip"),
            "10.213.7.101".parse().expect("ip"),
        ];
        assert_eq!(
            bad_roles(&configured, &held, &present),
            vec![role("writer", "10.213.7.100")]
        );
    }
}
