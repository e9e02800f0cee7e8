//! Role distribution of mysql-mmm's main loop: orphaned roles to eligible hosts (least
//! loaded first), `prefer` obeyed, balanced roles evened out.

use crate::command::Change;
use crate::config::RoleMode;
use crate::log::LogLine;
use crate::state::{HostState, Mode};

use super::{Decider, hook_allows, writer_may_move};

impl Decider<'_> {
    /// Clears the roles of every non-ONLINE host that still holds some.
    pub(super) fn offline_notifications(&mut self) {
        for (host, state) in self.work.role_holders_not_online() {
            self.emit(Change::ClearRoles { host, state }, Vec::new());
        }
    }

    fn eligible(&self, hosts: &[String]) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| {
                self.work
                    .host(h)
                    .is_some_and(|s| s.state == HostState::Online && !s.agent_down)
            })
            .cloned()
            .collect()
    }

    /// §4.2 steps 2–4.
    pub(super) fn distribute(&mut self) {
        let active = self.work.mode == Mode::Active;
        let am = self.config.active_master_role.clone();
        for mode in [RoleMode::Exclusive, RoleMode::Balanced] {
            for role in self.config.roles.iter().filter(|r| r.mode == mode) {
                for instance in role.instances() {
                    if self.work.owner_of(&role.name, instance.ip).is_some() {
                        continue;
                    }
                    let eligible = self.eligible(&role.hosts);
                    if eligible.is_empty() {
                        break;
                    }
                    let preferred = role.prefer.as_ref().filter(|p| {
                        active && role.mode == RoleMode::Exclusive && eligible.contains(p)
                    });
                    let mut choice = match preferred {
                        Some(p) => p.clone(),
                        None => self.least_loaded(&eligible),
                    };
                    if am.as_deref() == Some(role.name.as_str())
                        && let Some(rel) = self.work.writer_release.clone()
                    {
                        if let Some(t) = rel.target.as_ref().filter(|t| eligible.contains(t)) {
                            choice = t.clone();
                        }
                        if !writer_may_move(&rel, &choice)
                            || (choice != rel.host && !hook_allows(&rel, self.config))
                        {
                            break;
                        }
                    }
                    let line = LogLine::info(format!(
                        "Orphaned role '{instance}' has been assigned to '{choice}'"
                    ));
                    self.emit(
                        Change::AssignRole {
                            role: role.name.clone(),
                            ip: instance.ip,
                            from: None,
                            to: choice,
                        },
                        vec![line],
                    );
                }
            }
        }
        if active {
            self.obey_preferences();
        }
        self.balance();
    }

    fn least_loaded(&self, eligible: &[String]) -> String {
        let mut best: Option<(u32, &String)> = None;
        for h in eligible {
            let c = self.work.role_count_x2(h, self.config);
            if best.is_none_or(|(bc, _)| c < bc) {
                best = Some((c, h));
            }
        }
        best.map(|(_, h)| h.clone()).unwrap_or_default()
    }

    /// §4.2 step 3 (ACTIVE only).
    fn obey_preferences(&mut self) {
        let am = self.config.active_master_role.clone();
        for role in self
            .config
            .roles
            .iter()
            .filter(|r| r.mode == RoleMode::Exclusive)
        {
            let Some(p) = role.prefer.clone() else {
                continue;
            };
            if self.eligible(std::slice::from_ref(&p)).is_empty() || !role.hosts.contains(&p) {
                continue;
            }
            for instance in role.instances() {
                let Some(owner) = self
                    .work
                    .owner_of(&role.name, instance.ip)
                    .map(str::to_string)
                else {
                    continue;
                };
                if owner == p {
                    continue;
                }
                let line = LogLine::info(format!(
                    "Moving role '{instance}' from host '{owner}' to preferred host '{p}'"
                ));
                let change = if am.as_deref() == Some(role.name.as_str()) {
                    Change::ReleaseWriter {
                        host: owner,
                        ip: instance.ip,
                        target: Some(p.clone()),
                    }
                } else {
                    Change::AssignRole {
                        role: role.name.clone(),
                        ip: instance.ip,
                        from: Some(owner),
                        to: p.clone(),
                    }
                };
                self.emit(change, vec![line]);
            }
        }
    }

    /// §4.2 step 4.
    fn balance(&mut self) {
        for role in self
            .config
            .roles
            .iter()
            .filter(|r| r.mode == RoleMode::Balanced)
        {
            let eligible = self.eligible(&role.hosts);
            if eligible.len() < 2 {
                continue;
            }
            let mut counts: Vec<(String, u32)> = eligible
                .iter()
                .map(|h| (h.clone(), self.work.role_count_x2(h, self.config)))
                .collect();
            for _ in 0..1000 {
                let (mut max_i, mut min_i) = (0, 0);
                for (i, (_, c)) in counts.iter().enumerate() {
                    if *c > counts[max_i].1 {
                        max_i = i;
                    }
                    if *c < counts[min_i].1 {
                        min_i = i;
                    }
                }
                if counts[max_i].1 <= counts[min_i].1 + 2 {
                    break;
                }
                let from = counts[max_i].0.clone();
                let to = counts[min_i].0.clone();
                let ip = role
                    .ips
                    .iter()
                    .rev()
                    .find(|ip| self.work.owner_of(&role.name, **ip) == Some(from.as_str()))
                    .copied();
                if let Some(ip) = ip {
                    let line = LogLine::info(format!(
                        "Moving role '{}({ip})' from host '{from}' to host '{to}'",
                        role.name
                    ));
                    self.emit(
                        Change::AssignRole {
                            role: role.name.clone(),
                            ip: Some(ip),
                            from: Some(from),
                            to,
                        },
                        vec![line],
                    );
                }
                counts[max_i].1 -= 2;
                counts[min_i].1 += 2;
            }
        }
    }
}
