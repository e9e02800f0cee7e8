//! The `mysql` check: can the monitor user log in and run a trivial query?

use std::time::Duration;

use mmm_mysql::{MysqlError, Operation};

use super::mysql_conn::{TIMEOUT_LINE, bounded, close, detail, open};
use super::target::CheckTarget;

/// The `mysql` check's raw result line for `target`.
///
/// Connecting may take `timeout`; the whole call is cut off at `timeout` + 1 s. Both
/// overruns read `ERROR: Timeout` (a stopped mysqld accepts TCP but never greets).
pub async fn check_mysql(target: &CheckTarget, timeout: Duration) -> String {
    bounded(timeout, mysql_line(target, timeout)).await
}

async fn mysql_line(target: &CheckTarget, timeout: Duration) -> String {
    let mut conn = match open(target, timeout).await {
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
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn connect_error_wording_matches_mysql_mmm() {
        let target = CheckTarget {
            host: "db1".into(),
            ip: IpAddr::V4(Ipv4Addr::new(10, 213, 7, 11)),
            mysql_port: 3306,
            agent_port: 9989,
            user: "mmm_monitor".into(),
            password: "secret".into(),
        };
        let err = MysqlError::Driver("boom".into());
        assert_eq!(
            connect_error("ERROR", &target, &err),
            "ERROR: Connect error (host = 10.213.7.11:3306, user = mmm_monitor)! boom"
        );
    }
}
