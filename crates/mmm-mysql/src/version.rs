//! Server flavour and version, derived from `SELECT VERSION()`.

use std::fmt;

/// Which server family answered; statements and privilege names differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// MariaDB (10.x, 11.x).
    Mariadb,
    /// Oracle MySQL (5.7, 8.x).
    Mysql,
}

impl Flavour {
    /// The lower-case word used in status replies (`mariadb` / `mysql`).
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::Mariadb => "mariadb",
            Flavour::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server said about itself, so callers can pick the right statement for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The raw `VERSION()` string, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub version: String,
    /// MariaDB or MySQL.
    pub flavour: Flavour,
    /// Major version number.
    pub major: u32,
    /// Minor version number.
    pub minor: u32,
    /// Patch version number (0 when absent).
    pub patch: u32,
}

impl ServerInfo {
    /// Parses a `VERSION()` string; `None` when it does not start with `MAJOR.MINOR`.
    pub fn parse(version: &str) -> Option<ServerInfo> {
        let flavour = if version.to_ascii_lowercase().contains("mariadb") {
            Flavour::Mariadb
        } else {
            Flavour::Mysql
        };
        // Some MariaDB builds announce themselves as "5.5.5-10.x.y-MariaDB".
        let numbers = match flavour {
            Flavour::Mariadb => version.strip_prefix("5.5.5-").unwrap_or(version),
            Flavour::Mysql => version,
        };
        let head: String = numbers
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = head.split('.').filter(|p| !p.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some(ServerInfo {
            version: version.to_string(),
            flavour,
            major,
            minor,
            patch,
        })
    }

    /// True when the version is at least `major.minor.patch`.
    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }

    /// MySQL ≥ 5.7 has `super_read_only`; MariaDB never has it.
    pub fn has_super_read_only(&self) -> bool {
        self.flavour == Flavour::Mysql && self.at_least(5, 7, 0)
    }

    /// MySQL ≥ 8.0.22 names replication statements with REPLICA/SOURCE.
    pub fn uses_replica_words(&self) -> bool {
        self.flavour == Flavour::Mysql && self.at_least(8, 0, 22)
    }

    /// MariaDB ≥ 10.5 split SUPER into finer privileges.
    pub fn split_super(&self) -> bool {
        self.flavour == Flavour::Mariadb && self.at_least(10, 5, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mariadb_debian() {
        let i = ServerInfo::parse("10.11.19-MariaDB-0+deb12u1").expect("parse");
        assert_eq!(i.flavour, Flavour::Mariadb);
        assert_eq!((i.major, i.minor, i.patch), (10, 11, 19));
        assert!(i.split_super());
        assert!(!i.has_super_read_only());
    }

    #[test]
    fn parses_mariadb_with_compat_prefix() {
        let i = ServerInfo::parse("5.5.5-11.4.2-MariaDB-log").expect("parse");
        assert_eq!((i.flavour, i.major, i.minor), (Flavour::Mariadb, 11, 4));
    }

    #[test]
    fn parses_mysql() {
        let i = ServerInfo::parse("8.0.36").expect("parse");
        assert_eq!(i.flavour, Flavour::Mysql);
        assert!(i.has_super_read_only());
        assert!(i.uses_replica_words());
        let old = ServerInfo::parse("5.7.44-log").expect("parse");
        assert!(old.has_super_read_only());
        assert!(!old.uses_replica_words());
        assert!(
            !ServerInfo::parse("5.6.51")
                .expect("parse")
                .has_super_read_only()
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(ServerInfo::parse(""), None);
        assert_eq!(ServerInfo::parse("MariaDB"), None);
        assert_eq!(ServerInfo::parse("10"), None);
    }
}
