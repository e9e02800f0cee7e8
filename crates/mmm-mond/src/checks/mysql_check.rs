//! The `mysql` check: can the monitor user log in and run a trivial query?

use std::time::Duration;

use mmm_mysql::{KnownVersions, MysqlError, Operation};

use super::mysql_conn::{TIMEOUT_LINE, bounded, close, detail, open};
use super::target::CheckTarget;

/// The `mysql` check's raw result line for `target`.
///
/// Connecting may take `timeout`; the whole call is cut off at `timeout` + 1 s. Both
/// overruns read `ERROR: Timeout` (a stopped mysqld accepts TCP but never greets). A refused
/// connect or error 1053 keeps mysql-mmm's wording with a detail that
/// `mmm_core::checks::CheckResult::parse` classifies as `Outcome::Refused` (no trap period);
/// every other failure is a plain `ERROR`.
pub async fn check_mysql(target: &CheckTarget, timeout: Duration) -> String {
    check_mysql_known(target, timeout, &KnownVersions::default()).await
}

/// [`check_mysql`] on a new connection that asks nothing but `SELECT NOW()` when `known`
/// already holds the server's version (the check's loop keeps one for all its calls).
pub(crate) async fn check_mysql_known(
    target: &CheckTarget,
    timeout: Duration,
    known: &KnownVersions,
) -> String {
    bounded(timeout, mysql_line(target, timeout, known)).await
}

async fn mysql_line(target: &CheckTarget, timeout: Duration, known: &KnownVersions) -> String {
    let mut conn = match open(target, timeout, known).await {
        Ok(conn) => conn,
        Err(MysqlError::Timeout { .. }) => return TIMEOUT_LINE.to_string(),
        Err(e @ MysqlError::TooManyConnections { .. }) => {
            return format!("UNKNOWN: Too many connections! {}", detail(&e));
        }
        Err(e) => return connect_error("ERROR", target, &e),
    };
    let result = conn.execute("SELECT NOW()", Operation::Query).await;
    close(conn);
    match result {
        Ok(()) => "OK".to_string(),
        Err(MysqlError::Timeout { .. }) => TIMEOUT_LINE.to_string(),
        Err(e) => format!("ERROR: SQL Query Error: {}", detail(&e)),
    }
}

/// mysql-mmm's connect failure wording, with the given severity prefix.
pub(crate) fn connect_error(severity: &str, target: &CheckTarget, err: &MysqlError) -> String {
    format!(
        "{severity}: Connect error (host = {}:{}, user = {})! {}",
        target.ip,
        target.mysql_port,
        target.user,
        detail(err)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmm_core::checks::{CheckResult, Outcome};
    use std::net::{IpAddr, Ipv4Addr};

    fn target(ip: Ipv4Addr, mysql_port: u16) -> CheckTarget {
        CheckTarget {
            host: "db1".into(),
            ip: IpAddr::V4(ip),
            mysql_port,
            agent_port: 9989,
            user: "mmm_monitor".into(),
            password: "secret".into(),
        }
    }

    #[test]
    fn connect_error_wording_matches_mysql_mmm() {
        let target = target(Ipv4Addr::new(10, 213, 7, 11), 3306);
        let err = MysqlError::Driver("boom".into());
        assert_eq!(
            connect_error("ERROR", &target, &err),
            "ERROR: Connect error (host = 10.213.7.11:3306, user = mmm_monitor)! boom"
        );
        let outcome =
            |e: &MysqlError| CheckResult::parse(&connect_error("ERROR", &target, e)).outcome;
        let shutdown = MysqlError::ServerShutdown {
            message: "Server shutdown in progress".into(),
        };
        assert_eq!(outcome(&shutdown), Outcome::Refused);
        let unreachable = MysqlError::Connect {
            addr: "10.213.7.11:3306".into(),
            message: "Input/output error: No route to host (os error 113)".into(),
        };
        assert_eq!(outcome(&unreachable), Outcome::Error);
        assert_eq!(CheckResult::parse(TIMEOUT_LINE).outcome, Outcome::Error);
    }

    /// A port nobody listens on (loopback): the check's line keeps mysql-mmm's wording and
    /// is classified as refused, so the tracker fails it without the trap.
    #[tokio::test]
    async fn a_closed_port_is_a_refused_connection() {
        let port = {
            let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
            l.local_addr().expect("addr").port()
        };
        let line = check_mysql(&target(Ipv4Addr::LOCALHOST, port), Duration::from_secs(1)).await;
        let prefix =
            format!("ERROR: Connect error (host = 127.0.0.1:{port}, user = mmm_monitor)! ");
        assert!(line.starts_with(&prefix), "{line}");
        assert_eq!(
            CheckResult::parse(&line).outcome,
            Outcome::Refused,
            "{line}"
        );
    }
}
