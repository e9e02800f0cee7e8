//! The daemons' log lines as events: each daemon runs with `--log-json` (tracing's JSON lines,
//! RFC 3339 timestamps with microseconds), and the lines mysql-mmm operators grep for
//! (reference §10, kept word for word by mmm) are recognised by [`classify`].

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One JSON log line as tracing-subscriber writes it.
#[derive(Debug, Deserialize)]
struct JsonLine {
    timestamp: String,
    level: String,
    #[serde(default)]
    fields: Fields,
}

#[derive(Debug, Default, Deserialize)]
struct Fields {
    #[serde(default)]
    message: String,
    #[serde(default)]
    mmm_level: Option<String>,
}

/// A parsed log line: wall-clock time (µs since the Unix epoch), level and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Microseconds since 1970 (UTC), as the daemon stamped it.
    pub unix_us: i64,
    /// `FATAL` when the line carries mysql-mmm's FATAL level, else tracing's level.
    pub level: String,
    /// The message.
    pub text: String,
}

/// Parses one JSON line; `None` for anything else (a panic message, a partial line).
pub fn parse_json_line(line: &str) -> Option<LogLine> {
    let j: JsonLine = serde_json::from_str(line.trim()).ok()?;
    let when = OffsetDateTime::parse(&j.timestamp, &Rfc3339).ok()?;
    let unix_us = i64::try_from(when.unix_timestamp_nanos() / 1000).ok()?;
    let level = match j.fields.mmm_level.as_deref() {
        Some("FATAL") => "FATAL".to_owned(),
        _ => j.level,
    };
    Some(LogLine {
        unix_us,
        level,
        text: j.fields.message,
    })
}

/// The log lines the measurements look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// A monitor's check reached its trap period: `Check 'C' on 'H' has failed for N seconds!`.
    CheckFailed {
        /// The check (`ping`, `mysql`, …).
        check: String,
        /// The host.
        host: String,
    },
    /// `State of host 'H' changed from A to B…` (logged by each monitor when it applies it).
    StateChanged {
        /// The host.
        host: String,
        /// Old state.
        from: String,
        /// New state.
        to: String,
    },
    /// `Orphaned role 'R(IP)' has been assigned to 'H'` or `Moving role 'R(IP)' from host 'A' to
    /// [preferred] host 'H'`.
    RoleTo {
        /// `writer(10.213.7.100)`.
        role: String,
        /// The new holder.
        host: String,
    },
    /// `Role 'R(IP)' is held back until …` (the writer waits for the old one's fence).
    RoleHeld {
        /// The role.
        role: String,
    },
    /// An agent's `Added:   R(IP), …` line (it received a status adding these roles).
    AgentAdded {
        /// The roles added.
        roles: Vec<String>,
    },
    /// An agent's `Deleted: R(IP), …` line.
    AgentDeleted {
        /// The roles removed.
        roles: Vec<String>,
    },
    /// An agent denied writes (`Denied writes for role …`, `… after lease expiry`, `… (retry)`).
    DeniedWrites,
    /// An agent finished its catch-up before allowing writes (`caught up with …`, `not a slave,
    /// nothing to catch up`, `SQL thread not running, relay log applied …`).
    CaughtUp,
    /// An agent's lease ran out (`Lease expired: dropping role …`).
    LeaseExpired,
}

/// Recognises a known line.
pub fn classify(text: &str) -> Option<Known> {
    if let Some(rest) = text.strip_prefix("Check '") {
        let (check, rest) = rest.split_once("' on '")?;
        let (host, rest) = rest.split_once('\'')?;
        return rest
            .starts_with(" has failed for ")
            .then(|| Known::CheckFailed {
                check: check.to_owned(),
                host: host.to_owned(),
            });
    }
    if let Some(rest) = text.strip_prefix("State of host '") {
        let (host, rest) = rest.split_once("' changed from ")?;
        let (from, rest) = rest.split_once(" to ")?;
        let to = rest.split([' ', '.']).next().unwrap_or_default();
        return Some(Known::StateChanged {
            host: host.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    if let Some(rest) = text.strip_prefix("Orphaned role '") {
        let (role, rest) = rest.split_once("' has been assigned to '")?;
        let host = rest.strip_suffix('\'')?;
        return Some(role_to(role, host));
    }
    if let Some(rest) = text.strip_prefix("Moving role '") {
        let (role, rest) = rest.split_once("' from host '")?;
        let (_, rest) = rest.split_once("' to ")?;
        let rest = rest.strip_prefix("preferred ").unwrap_or(rest);
        let host = rest.strip_prefix("host '")?.strip_suffix('\'')?;
        return Some(role_to(role, host));
    }
    if let Some(rest) = text.strip_prefix("Role '") {
        let (role, rest) = rest.split_once('\'')?;
        return rest.starts_with(" is held back").then(|| Known::RoleHeld {
            role: role.to_owned(),
        });
    }
    if let Some(rest) = text.strip_prefix("Added:") {
        return Some(Known::AgentAdded {
            roles: role_list(rest),
        });
    }
    if let Some(rest) = text.strip_prefix("Deleted:") {
        return Some(Known::AgentDeleted {
            roles: role_list(rest),
        });
    }
    if text.starts_with("Denied writes") {
        return Some(Known::DeniedWrites);
    }
    if text.starts_with("caught up with ")
        || text == "not a slave, nothing to catch up"
        || text.starts_with("SQL thread not running, relay log applied")
    {
        return Some(Known::CaughtUp);
    }
    if text.starts_with("Lease expired: dropping role") {
        return Some(Known::LeaseExpired);
    }
    None
}

fn role_to(role: &str, host: &str) -> Known {
    Known::RoleTo {
        role: role.to_owned(),
        host: host.to_owned(),
    }
}

fn role_list(s: &str) -> Vec<String> {
    s.split(", ")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_parsed_with_microseconds_and_the_fatal_level() {
        let line = r#"{"timestamp":"2025-03-01T10:00:01.250125Z","level":"ERROR","fields":{"message":"State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)","mmm_level":"FATAL"},"target":"mmm_mond::monitor"}"#;
        let l = parse_json_line(line).expect("parsed");
        assert_eq!(l.unix_us, 1_740_823_201_250_125);
        assert_eq!(l.level, "FATAL");
        assert!(l.text.starts_with("State of host 'db1'"));
        let info = r#"{"timestamp":"2025-03-01T10:00:01.000001+00:00","level":"INFO","fields":{"message":"caught up with db1","killed":0},"target":"x"}"#;
        let l = parse_json_line(info).expect("parsed");
        assert_eq!(l.unix_us, 1_740_823_201_000_001);
        assert_eq!(l.level, "INFO");
        assert_eq!(parse_json_line("thread 'main' panicked at …"), None);
        assert_eq!(
            parse_json_line(r#"{"timestamp":"yesterday","level":"INFO"}"#),
            None
        );
    }

    #[test]
    fn the_lines_of_a_failover_are_recognised() {
        assert_eq!(
            classify(
                "Check 'mysql' on 'db1' has failed for 0.8 seconds! Message: ERROR: Connect error"
            ),
            Some(Known::CheckFailed {
                check: "mysql".into(),
                host: "db1".into()
            })
        );
        assert_eq!(classify("Check 'mysql' on 'db1' is ok!"), None);
        assert_eq!(
            classify(
                "State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)"
            ),
            Some(Known::StateChanged {
                host: "db1".into(),
                from: "ONLINE".into(),
                to: "HARD_OFFLINE".into()
            })
        );
        assert_eq!(
            classify(
                "State of host 'db1' changed from AWAITING_RECOVERY to ONLINE because it was down for only 4 seconds"
            ),
            Some(Known::StateChanged {
                host: "db1".into(),
                from: "AWAITING_RECOVERY".into(),
                to: "ONLINE".into()
            })
        );
        let to_db2 = Some(Known::RoleTo {
            role: "writer(10.213.7.100)".into(),
            host: "db2".into(),
        });
        assert_eq!(
            classify("Orphaned role 'writer(10.213.7.100)' has been assigned to 'db2'"),
            to_db2
        );
        assert_eq!(
            classify("Moving role 'writer(10.213.7.100)' from host 'db1' to host 'db2'"),
            to_db2
        );
        assert_eq!(
            classify("Moving role 'writer(10.213.7.100)' from host 'db1' to preferred host 'db2'"),
            to_db2
        );
        assert_eq!(
            classify(
                "Role 'writer(10.213.7.100)' is held back until host 'db1' confirms it dropped the role or its lease runs out"
            ),
            Some(Known::RoleHeld {
                role: "writer(10.213.7.100)".into()
            })
        );
        assert_eq!(
            classify("Added:   writer(10.213.7.100), reader(10.213.7.102)"),
            Some(Known::AgentAdded {
                roles: vec!["writer(10.213.7.100)".into(), "reader(10.213.7.102)".into()]
            })
        );
        assert_eq!(
            classify("Deleted: "),
            Some(Known::AgentDeleted { roles: vec![] })
        );
        assert_eq!(
            classify("Denied writes for role 'writer(10.213.7.100)'"),
            Some(Known::DeniedWrites)
        );
        assert_eq!(
            classify("caught up with db1 at 0-1-42"),
            Some(Known::CaughtUp)
        );
        assert_eq!(
            classify("Lease expired: dropping role 'writer(10.213.7.100)'"),
            Some(Known::LeaseExpired)
        );
        assert_eq!(classify("Listening on 10.213.7.11:9989"), None);
    }
}
