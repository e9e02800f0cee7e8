//! The accounts every lab MariaDB gets, with known passwords, created outside the binlog.

use mysql_async::prelude::Queryable;

/// Database the application user may write to.
pub const TEST_DB: &str = "mmm_test";
/// Application account: DML + CREATE on [`TEST_DB`] only, so `read_only=1` blocks it.
pub const APP_USER: &str = "mmm_app";
/// Password of [`APP_USER`].
pub const APP_PASSWORD: &str = "app-pass";
/// Account the monitor's checks use (`REPLICATION CLIENT, SLAVE MONITOR`).
pub const MONITOR_USER: &str = "mmm_monitor";
/// Password of [`MONITOR_USER`].
pub const MONITOR_PASSWORD: &str = "monitor-pass";
/// Account the agent uses to flip read_only, kill sessions and repoint replication.
pub const AGENT_USER: &str = "mmm_agent";
/// Password of [`AGENT_USER`].
pub const AGENT_PASSWORD: &str = "agent-pass";
/// Account slaves use to replicate (`REPLICATION SLAVE`).
pub const REPLICATION_USER: &str = "mmm_repl";
/// Password of [`REPLICATION_USER`].
pub const REPLICATION_PASSWORD: &str = "repl-pass";

/// The provisioning statements, in order; the first turns binary logging off for the session so
/// the accounts never replicate (creating them on both masters would otherwise break replication).
pub fn provisioning_statements() -> Vec<String> {
    let user = |name: &str, password: &str| {
        format!("CREATE USER IF NOT EXISTS '{name}'@'%' IDENTIFIED BY '{password}'")
    };
    vec![
        "SET sql_log_bin = 0".to_owned(),
        format!("CREATE DATABASE IF NOT EXISTS `{TEST_DB}`"),
        user(APP_USER, APP_PASSWORD),
        format!(
            "GRANT INSERT, SELECT, UPDATE, DELETE, CREATE ON `{TEST_DB}`.* TO '{APP_USER}'@'%'"
        ),
        user(MONITOR_USER, MONITOR_PASSWORD),
        format!("GRANT REPLICATION CLIENT, SLAVE MONITOR ON *.* TO '{MONITOR_USER}'@'%'"),
        user(AGENT_USER, AGENT_PASSWORD),
        format!(
            "GRANT PROCESS, SUPER, BINLOG MONITOR, CONNECTION ADMIN, READ_ONLY ADMIN, \
             REPLICATION SLAVE ADMIN, SLAVE MONITOR, REPLICATION CLIENT, RELOAD ON *.* \
             TO '{AGENT_USER}'@'%'"
        ),
        format!("GRANT SELECT, INSERT, UPDATE, CREATE ON `mmm`.* TO '{AGENT_USER}'@'%'"),
        user(REPLICATION_USER, REPLICATION_PASSWORD),
        format!("GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'%'"),
        "SET sql_log_bin = 1".to_owned(),
    ]
}

/// Runs [`provisioning_statements`] on a root connection.
pub(crate) async fn provision(conn: &mut mysql_async::Conn) -> Result<(), mysql_async::Error> {
    for statement in provisioning_statements() {
        conn.query_drop(statement).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioning_stays_out_of_the_binlog_and_grants_no_all() {
        let s = provisioning_statements();
        assert_eq!(s.first().map(String::as_str), Some("SET sql_log_bin = 0"));
        assert!(s.iter().all(|q| !q.contains("ALL PRIVILEGES")));
        let app_grant = s
            .iter()
            .find(|q| q.contains(&format!("TO '{APP_USER}'")))
            .cloned()
            .unwrap_or_default();
        assert!(!app_grant.contains("SUPER") && !app_grant.contains("READ_ONLY ADMIN"));
    }
}
