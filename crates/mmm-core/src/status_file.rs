//! mysql-mmm's status file (`status_path`, `mmm_mond.status`), read once to take a running
//! mysql-mmm cluster over: one line per host, `HOST|STATE|role(ip),role(ip)` (roles may be
//! empty). The monitors keep their state in Raft and never write this file.
//!
//! [`parse`] turns the text into [`StoredHost`]s (bad lines are refused with their line
//! number and nothing is taken over); [`StatusFile::seed`] puts them into an unstarted
//! [`ClusterState`] as the "stored" states and roles mysql-mmm's startup vote weighs against
//! the agents and the real systems ([`crate::startup::vote`]), so the vote — and its conflict
//! rule — decides what is taken over, as when mysql-mmm itself restarts.

use std::net::IpAddr;

use crate::config::Config;
use crate::log::LogLine;
use crate::state::{ClusterState, HostState, RoleIp};

/// One host's line of the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHost {
    /// Host name.
    pub name: String,
    /// The state mysql-mmm had stored.
    pub state: HostState,
    /// The roles it had stored, sorted.
    pub roles: Vec<RoleIp>,
}

/// A parsed status file, hosts in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusFile {
    /// One entry per line.
    pub hosts: Vec<StoredHost>,
}

/// Why a status file is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusFileError {
    /// A line is not `HOST|STATE|roles`.
    #[error("line {line}: {why}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
}

/// Parses a status file's text; empty lines are skipped.
pub fn parse(text: &str) -> Result<StatusFile, StatusFileError> {
    let mut hosts: Vec<StoredHost> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: String| StatusFileError::BadLine { line: i + 1, why };
        let host = parse_line(line).map_err(bad)?;
        if hosts.iter().any(|h| h.name == host.name) {
            return Err(bad(format!("host '{}' is listed twice", host.name)));
        }
        hosts.push(host);
    }
    Ok(StatusFile { hosts })
}

fn parse_line(line: &str) -> Result<StoredHost, String> {
    let fields: Vec<&str> = line.split('|').collect();
    let [name, state, roles] = fields.as_slice() else {
        return Err(format!(
            "expected HOST|STATE|role(ip),... but found {} field(s) in '{line}'",
            fields.len()
        ));
    };
    if name.is_empty() {
        return Err(format!("no host name in '{line}'"));
    }
    let state: HostState = state.parse().map_err(|e| format!("{e} in '{line}'"))?;
    let mut parsed = Vec::new();
    for role in roles.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        parsed.push(parse_role(role)?);
    }
    parsed.sort();
    parsed.dedup();
    Ok(StoredHost {
        name: (*name).to_owned(),
        state,
        roles: parsed,
    })
}

fn parse_role(text: &str) -> Result<RoleIp, String> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Ok(RoleIp::bare(text));
    }
    let (role, rest) = text
        .split_once('(')
        .ok_or_else(|| format!("role '{text}' is not role(ip) or role"))?;
    let ip = rest
        .strip_suffix(')')
        .ok_or_else(|| format!("role '{text}' is not role(ip)"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("'{ip}' in role '{text}' is not an IP address"))?;
    if role.is_empty() {
        return Err(format!("role '{text}' has no name"));
    }
    Ok(RoleIp::new(role, ip))
}

impl StatusFile {
    /// `state` with the stored states and roles filled in, for the startup vote, and the lines
    /// to log. Hosts the config does not know are ignored, and roles or IPs it no longer
    /// defines (or no longer allows on that host) are dropped, each with a warning, as
    /// mysql-mmm does. Only an unstarted state is seeded: a started one is returned as is.
    pub fn seed(&self, state: &ClusterState, config: &Config) -> (ClusterState, Vec<LogLine>) {
        let mut seeded = state.clone();
        let mut lines = Vec::new();
        if state.started {
            return (seeded, lines);
        }
        for stored in &self.hosts {
            let Some(host) = seeded.host_mut(&stored.name) else {
                lines.push(LogLine::warn(format!(
                    "Ignoring unknown host '{}' from the status file",
                    stored.name
                )));
                continue;
            };
            host.state = stored.state;
            host.roles = stored
                .roles
                .iter()
                .filter(|r| {
                    let allowed = role_allowed(config, r, &stored.name);
                    if !allowed {
                        lines.push(LogLine::warn(format!(
                            "Detected change in role definitions: role '{r}' of host '{}' from \
                             the status file is not defined for it any more; dropped",
                            stored.name
                        )));
                    }
                    allowed
                })
                .cloned()
                .collect();
        }
        (seeded, lines)
    }
}

/// Whether the config defines `role` with that IP and lets `host` hold it.
fn role_allowed(config: &Config, role: &RoleIp, host: &str) -> bool {
    config
        .roles
        .iter()
        .any(|r| r.has_instance(role) && r.hosts.iter().any(|h| h == host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::{HostReport, vote};
    use crate::testing;
    use crate::time::Timestamp;

    const FILE: &str = "db1|ONLINE|reader(10.0.0.101),writer(10.0.0.100)\n\
                        db2|ONLINE|reader(10.0.0.102)\n\
                        db3|ADMIN_OFFLINE|\n";

    #[test]
    fn parses_mysql_mmm_lines() {
        let f = parse(FILE).expect("parse");
        assert_eq!(f.hosts.len(), 3);
        assert_eq!(f.hosts[0].name, "db1");
        assert_eq!(f.hosts[0].state, HostState::Online);
        assert_eq!(
            f.hosts[0].roles,
            vec![
                RoleIp::new("reader", "10.0.0.101".parse().expect("ip")),
                RoleIp::new("writer", "10.0.0.100".parse().expect("ip")),
            ]
        );
        assert_eq!(f.hosts[2].state, HostState::AdminOffline);
        assert!(f.hosts[2].roles.is_empty());
    }

    #[test]
    fn a_vip_less_role_is_its_bare_name() {
        let f = parse("db1|ONLINE|reader(10.0.0.101),writer\n").expect("parse");
        assert_eq!(
            f.hosts[0].roles,
            vec![
                RoleIp::new("reader", "10.0.0.101".parse().expect("ip")),
                RoleIp::bare("writer"),
            ]
        );
        assert_eq!(RoleIp::bare("writer").to_string(), "writer");
    }

    #[test]
    fn refuses_bad_lines_with_their_number() {
        for (text, line, want) in [
            (
                "db1|ONLINE|\ndb2|SLEEPING|\n",
                2,
                "unknown host state 'SLEEPING'",
            ),
            ("db1|ONLINE\n", 1, "found 2 field(s)"),
            ("db1|ONLINE|writer(10.0.0.1\n", 1, "is not role(ip)"),
            ("db1|ONLINE|writer(ten)\n", 1, "is not an IP address"),
            ("db1|ONLINE|wri ter\n", 1, "is not role(ip) or role"),
            ("db1|ONLINE|\n\ndb1|HARD_OFFLINE|\n", 3, "listed twice"),
        ] {
            let err = parse(text).expect_err(text);
            let StatusFileError::BadLine { line: l, why } = &err;
            assert_eq!(*l, line, "{text}: {err}");
            assert!(why.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn seeds_an_unstarted_state_and_drops_what_the_config_no_longer_has() {
        let config = testing::config(&[]);
        let state = ClusterState::new(&config, Timestamp::from_secs(0));
        let writer = config
            .roles
            .iter()
            .find(|r| r.name == "writer")
            .expect("writer role");
        let text = format!(
            "db1|ONLINE|writer({})\ndb2|HARD_OFFLINE|writer(10.99.99.99)\ngone|ONLINE|\n",
            writer.ips[0]
        );
        let (seeded, lines) = parse(&text).expect("parse").seed(&state, &config);
        assert_eq!(seeded.state_of("db1"), Some(HostState::Online));
        assert_eq!(
            seeded.roles_of("db1"),
            &[RoleIp::new("writer", writer.ips[0])]
        );
        assert_eq!(seeded.state_of("db2"), Some(HostState::HardOffline));
        assert!(seeded.roles_of("db2").is_empty());
        assert!(!seeded.started);
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert!(
            text.iter().any(|l| l
                .starts_with("Detected change in role definitions: role 'writer(10.99.99.99)'")),
            "{text:?}"
        );
        assert!(
            text.contains(&"Ignoring unknown host 'gone' from the status file"),
            "{text:?}"
        );
    }

    #[test]
    fn a_started_state_is_left_alone() {
        let config = testing::config(&[]);
        let mut state = ClusterState::new(&config, Timestamp::from_secs(0));
        state.started = true;
        let (seeded, lines) = parse(FILE).expect("parse").seed(&state, &config);
        assert_eq!(seeded, state);
        assert!(lines.is_empty());
    }

    /// The point of seeding: the vote gives the stored writer its role back where the agents and
    /// systems give no other evidence (a cutover with the VIPs still in place would add +2).
    #[test]
    fn the_startup_vote_takes_the_stored_writer_over() {
        let config = testing::config(&[]);
        let state = ClusterState::new(&config, Timestamp::from_secs(0));
        let text = "db1|ONLINE|reader(10.213.7.101)\n\
                    db2|ONLINE|reader(10.213.7.102),writer(10.213.7.100)\n\
                    db3|ONLINE|\n";
        let (seeded, _) = parse(text).expect("parse").seed(&state, &config);
        let reports: Vec<HostReport> = ["db1", "db2", "db3"]
            .into_iter()
            .map(|h| HostReport {
                host: h.to_owned(),
                ..HostReport::default()
            })
            .collect();
        let v = vote(&seeded, &reports, Timestamp::from_secs(5), &config);
        assert!(!v.conflict);
        // The monitors apply the vote to their replicated state, which never held the file.
        let mut after = state.clone();
        crate::command::apply(&mut after, &v.command, &config).expect("the vote applies");
        assert_eq!(
            after.owner_of("writer", "10.213.7.100".parse::<IpAddr>().expect("ip")),
            Some("db2")
        );
        assert_eq!(after.state_of("db2"), Some(HostState::Online));
        let unseeded = vote(&state, &reports, Timestamp::from_secs(5), &config);
        let mut fresh = state.clone();
        crate::command::apply(&mut fresh, &unseeded.command, &config).expect("applies");
        assert_eq!(
            fresh.owner_of("writer", "10.213.7.100".parse::<IpAddr>().expect("ip")),
            None
        );
    }
}
