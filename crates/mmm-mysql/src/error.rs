//! Why a MySQL call failed, in words an operator can act on.

use std::time::Duration;

use crate::version::{Flavour, ServerInfo};

/// What the caller was doing; picks the grant named when the server says "access denied".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Connecting and identifying the server.
    Connect,
    /// Changing `read_only` / `super_read_only`.
    SetReadOnly,
    /// Listing or killing other users' sessions.
    KillSessions,
    /// SHOW SLAVE/REPLICA STATUS.
    SlaveStatus,
    /// SHOW MASTER STATUS / gtid positions.
    MasterStatus,
    /// START/STOP SLAVE, CHANGE MASTER.
    ReplicationControl,
    /// MASTER_POS_WAIT / MASTER_GTID_WAIT and friends.
    Wait,
    /// Creating and moving the writer lease's timer event in schema `mmm`.
    LeaseTimer,
    /// Reading and writing the fencing epoch in `mmm.fence`.
    FenceTable,
    /// `SET SESSION sql_log_bin=0`, so fencing writes never replicate.
    SkipBinlog,
    /// Anything else.
    Query,
}

impl Operation {
    /// The privilege the agent or monitor user needs for this operation on that server.
    pub fn required_grant(self, info: Option<&ServerInfo>) -> &'static str {
        let split = info.is_some_and(ServerInfo::split_super);
        let mysql8 = info.is_some_and(|i| i.flavour == Flavour::Mysql && i.at_least(8, 0, 0));
        match self {
            Operation::Connect | Operation::Query => "USAGE",
            Operation::LeaseTimer => "CREATE, EVENT ON `mmm`.* (and SUPER for sql_log_bin)",
            Operation::SetReadOnly if split => "READ_ONLY ADMIN",
            Operation::SetReadOnly if mysql8 => "SYSTEM_VARIABLES_ADMIN",
            Operation::KillSessions if split => "CONNECTION ADMIN",
            Operation::KillSessions if mysql8 => "CONNECTION_ADMIN",
            Operation::KillSessions => "SUPER",
            Operation::SlaveStatus if split => "SLAVE MONITOR",
            Operation::SlaveStatus if mysql8 => "REPLICATION CLIENT",
            Operation::SlaveStatus => "REPLICATION CLIENT",
            Operation::MasterStatus if split => "BINLOG MONITOR",
            Operation::MasterStatus => "REPLICATION CLIENT",
            Operation::ReplicationControl | Operation::Wait if split => "REPLICATION SLAVE ADMIN",
            Operation::ReplicationControl | Operation::Wait if mysql8 => "REPLICATION_SLAVE_ADMIN",
            Operation::FenceTable => "SELECT, INSERT, UPDATE, CREATE",
            Operation::SkipBinlog if split => "BINLOG ADMIN",
            Operation::SkipBinlog if mysql8 => "SYSTEM_VARIABLES_ADMIN",
            _ => "SUPER",
        }
    }

    /// Where [`Operation::required_grant`] must be granted: `mmm`.* for the fence table,
    /// `*.*` for everything else.
    pub fn grant_scope(self) -> &'static str {
        match self {
            Operation::FenceTable => "`mmm`.*",
            _ => "*.*",
        }
    }
}

/// Every way a MySQL call of mmm can fail.
#[derive(Debug, thiserror::Error)]
pub enum MysqlError {
    /// The server did not answer in time; the connection must be thrown away.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was attempted.
        what: String,
        /// The limit that ran out.
        after: Duration,
    },
    /// TCP/socket level failure (refused, reset, unreachable).
    #[error("Connect error ({addr}): {message}")]
    Connect {
        /// host:port or socket path.
        addr: String,
        /// The driver's message.
        message: String,
    },
    /// The TCP connect was refused (ECONNREFUSED): nothing listens on the port, so mysqld
    /// is not running there although its host answers.
    #[error("Connect error ({addr}): {message}")]
    Refused {
        /// host:port.
        addr: String,
        /// The operating system's text (`Connection refused (os error 111)`).
        message: String,
    },
    /// 1053: the server is shutting down and takes no more work.
    #[error("server shutdown in progress: {message}")]
    ServerShutdown {
        /// Server text.
        message: String,
    },
    /// 1045: wrong user or password.
    #[error("Access denied for the configured user: {message}")]
    AccessDenied {
        /// Server text.
        message: String,
    },
    /// 1040: too many connections.
    #[error("Too many connections: {message}")]
    TooManyConnections {
        /// Server text.
        message: String,
    },
    /// 1227/1142/1044/1095: the user lacks a privilege.
    #[error(
        "missing privilege {grant}: grant it with GRANT {grant} ON {scope} (server said: {message})"
    )]
    MissingPrivilege {
        /// The grant to add.
        grant: String,
        /// Where to grant it (`*.*`, or `` `mmm`.* `` for the fence table).
        scope: &'static str,
        /// Server text.
        message: String,
    },
    /// 1290: the server runs with --read-only (or super_read_only).
    #[error("server is read-only: {message}")]
    ReadOnly {
        /// Server text.
        message: String,
    },
    /// Any other server error.
    #[error("ERROR {code}: {message}")]
    Server {
        /// MySQL error number.
        code: u16,
        /// Server text.
        message: String,
    },
    /// Protocol/driver failure after connecting (connection lost and the like).
    #[error("MySQL driver error: {0}")]
    Driver(String),
    /// The server answered something mmm cannot interpret.
    #[error("unexpected reply from server: {0}")]
    UnexpectedReply(String),
}

impl MysqlError {
    /// Translates a driver error, naming the missing grant for `op` when access was denied.
    pub fn from_driver(
        err: mysql_async::Error,
        op: Operation,
        info: Option<&ServerInfo>,
        addr: &str,
    ) -> MysqlError {
        match err {
            mysql_async::Error::Server(se) => Self::from_server(se.code, se.message, op, info),
            mysql_async::Error::Io(mysql_async::IoError::Io(e))
                if e.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                MysqlError::Refused {
                    addr: addr.to_string(),
                    message: e.to_string(),
                }
            }
            mysql_async::Error::Io(e) => MysqlError::Connect {
                addr: addr.to_string(),
                message: e.to_string(),
            },
            other => MysqlError::Driver(other.to_string()),
        }
    }

    /// Classifies a server error number and message.
    pub fn from_server(
        code: u16,
        message: String,
        op: Operation,
        info: Option<&ServerInfo>,
    ) -> MysqlError {
        match code {
            1045 => MysqlError::AccessDenied { message },
            1040 => MysqlError::TooManyConnections { message },
            1290 => MysqlError::ReadOnly { message },
            1053 => MysqlError::ServerShutdown { message },
            1227 | 1142 | 1044 | 1095 | 1143 => {
                let grant = grant_in_message(&message)
                    .unwrap_or_else(|| op.required_grant(info).to_string());
                MysqlError::MissingPrivilege {
                    grant,
                    scope: op.grant_scope(),
                    message,
                }
            }
            _ => MysqlError::Server { code, message },
        }
    }

    /// True when the connection can no longer be trusted (timeouts, I/O, driver faults, a
    /// server that refused or is shutting down).
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            MysqlError::Timeout { .. }
                | MysqlError::Connect { .. }
                | MysqlError::Refused { .. }
                | MysqlError::ServerShutdown { .. }
                | MysqlError::Driver(_)
        )
    }

    /// True when the error is a certain sign that the server is down: the connect was
    /// refused, or the server said it is shutting down (1053). A timeout, an unreachable
    /// host or a lost connection is not: those may be a passing network fault.
    pub fn server_is_down(&self) -> bool {
        matches!(
            self,
            MysqlError::Refused { .. } | MysqlError::ServerShutdown { .. }
        )
    }
}

/// Extracts the privilege from "… you need (at least one of) the X privilege(s) …".
fn grant_in_message(message: &str) -> Option<String> {
    let start = message.find(" the ")? + " the ".len();
    let rest = &message[start..];
    let end = rest.find(" privilege")?;
    let grant = rest[..end].trim();
    if grant.is_empty() || grant.len() > 80 {
        return None;
    }
    Some(grant.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mariadb() -> ServerInfo {
        ServerInfo::parse("10.11.19-MariaDB").expect("version")
    }

    #[test]
    fn names_grant_from_mariadb_message() {
        let e = MysqlError::from_server(
            1227,
            "Access denied; you need (at least one of) the READ_ONLY ADMIN privilege(s) for this operation".into(),
            Operation::SetReadOnly,
            Some(&mariadb()),
        );
        match e {
            MysqlError::MissingPrivilege { grant, .. } => assert_eq!(grant, "READ_ONLY ADMIN"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn falls_back_to_operation_table() {
        let e = MysqlError::from_server(
            1227,
            "Access denied".into(),
            Operation::KillSessions,
            Some(&mariadb()),
        );
        assert!(e.to_string().contains("CONNECTION ADMIN"), "{e}");
        let mysql = ServerInfo::parse("8.0.36").expect("version");
        assert_eq!(
            Operation::ReplicationControl.required_grant(Some(&mysql)),
            "REPLICATION_SLAVE_ADMIN"
        );
        let old = ServerInfo::parse("5.7.40").expect("version");
        assert_eq!(Operation::SetReadOnly.required_grant(Some(&old)), "SUPER");
        assert_eq!(
            Operation::SlaveStatus.required_grant(Some(&mariadb())),
            "SLAVE MONITOR"
        );
    }

    #[test]
    fn classifies_common_codes() {
        let m = |c| MysqlError::from_server(c, "x".into(), Operation::Query, None);
        assert!(matches!(m(1045), MysqlError::AccessDenied { .. }));
        assert!(matches!(m(1040), MysqlError::TooManyConnections { .. }));
        assert!(matches!(m(1290), MysqlError::ReadOnly { .. }));
        assert!(matches!(m(1064), MysqlError::Server { code: 1064, .. }));
        assert!(matches!(m(1053), MysqlError::ServerShutdown { .. }));
        assert!(m(1053).server_is_down() && m(1053).is_connection_lost());
        assert!(!m(1064).server_is_down());
    }

    #[test]
    fn a_refused_connect_is_told_from_other_io_errors() {
        let io = |kind| {
            let e = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::from(kind)));
            MysqlError::from_driver(e, Operation::Connect, None, "10.0.0.1:3306")
        };
        let refused = io(std::io::ErrorKind::ConnectionRefused);
        assert!(
            matches!(&refused, MysqlError::Refused { addr, .. } if addr == "10.0.0.1:3306"),
            "{refused:?}"
        );
        assert!(refused.server_is_down() && refused.is_connection_lost());
        for kind in [
            std::io::ErrorKind::TimedOut,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::HostUnreachable,
        ] {
            let e = io(kind);
            assert!(matches!(e, MysqlError::Connect { .. }), "{e:?}");
            assert!(!e.server_is_down(), "{e:?}");
        }
        let timeout = MysqlError::Timeout {
            what: "connect".into(),
            after: Duration::from_secs(1),
        };
        assert!(!timeout.server_is_down());
    }
}
