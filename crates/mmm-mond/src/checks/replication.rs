//! The `rep_threads` and `rep_backlog` checks: is this host's replication running, and how
//! far behind is it? Both read SHOW SLAVE STATUS (SHOW REPLICA STATUS on MySQL ≥ 8.0.22), one
//! read for both when they run at the same pace ([`KeptConnection::rep_both`]).
//!
//! Connection trouble is `UNKNOWN` here on purpose (as in mysql-mmm): reachability is the
//! business of `ping` and `mysql`, and an UNKNOWN never fails a host.

use std::time::Duration;

use mmm_mysql::{KnownVersions, Mysql, MysqlError, Operation, ServerInfo};

use super::mysql_check::connect_error;
use super::mysql_conn::{TIMEOUT_LINE, bounded, bounded_or, close, detail, open};
use super::target::CheckTarget;

/// The replication columns the two checks read, NULL kept as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationRow {
    /// Slave_IO_Running / Replica_IO_Running (`Yes`, `No`, `Connecting`, ...).
    pub io_running: Option<String>,
    /// Slave_SQL_Running / Replica_SQL_Running.
    pub sql_running: Option<String>,
    /// Seconds_Behind_Master / Seconds_Behind_Source, verbatim.
    pub seconds_behind: Option<String>,
    /// Master_Host / Source_Host; MySQL keeps a row with an empty host after RESET SLAVE.
    pub master_host: Option<String>,
}

impl ReplicationRow {
    /// Reads the columns from a status row, accepting the old and the new spellings.
    pub fn from_columns<N: AsRef<str>>(
        columns: impl IntoIterator<Item = (N, Option<String>)>,
    ) -> Self {
        let mut row = ReplicationRow::default();
        for (name, value) in columns {
            let slot = match name.as_ref().to_ascii_lowercase().as_str() {
                "slave_io_running" | "replica_io_running" => &mut row.io_running,
                "slave_sql_running" | "replica_sql_running" => &mut row.sql_running,
                "seconds_behind_master" | "seconds_behind_source" => &mut row.seconds_behind,
                "master_host" | "source_host" => &mut row.master_host,
                _ => continue,
            };
            *slot = value;
        }
        row
    }

    /// False for the leftover row MySQL shows after RESET SLAVE (no master configured).
    pub fn is_set_up(&self) -> bool {
        self.master_host
            .as_deref()
            .is_none_or(|host| !host.trim().is_empty())
    }
}

/// `rep_threads` verdict on a status row (`None`: the server returned no row).
/// Only an explicit `No` counts as stopped; `Connecting` is running.
pub fn threads_line(row: Option<&ReplicationRow>) -> String {
    let Some(row) = row.filter(|r| r.is_set_up()) else {
        return "ERROR: Replication is not set up".to_string();
    };
    let stopped = |v: &Option<String>| v.as_deref().is_some_and(|v| v.trim() == "No");
    if stopped(&row.io_running) || stopped(&row.sql_running) {
        return "ERROR: Replication is broken".to_string();
    }
    "OK".to_string()
}

/// `rep_backlog` verdict on a status row: NULL or 0 seconds is `OK: Backlog is null`,
/// more than `max_backlog` is too big.
pub fn backlog_line(row: Option<&ReplicationRow>, max_backlog: u64) -> String {
    let Some(row) = row.filter(|r| r.is_set_up()) else {
        return "ERROR: Replication is not set up".to_string();
    };
    let Some(raw) = row.seconds_behind.as_deref().map(str::trim) else {
        return "OK: Backlog is null".to_string();
    };
    match raw.parse::<u64>() {
        Ok(0) => "OK: Backlog is null".to_string(),
        Ok(behind) if behind > max_backlog => "ERROR: Backlog is too big".to_string(),
        Ok(_) => "OK".to_string(),
        Err(_) => format!("UNKNOWN: Unknown state. Seconds_Behind_Master is '{raw}'"),
    }
}

/// The `rep_threads` check's raw result line for `target`, on a connection of its own.
pub async fn check_rep_threads(target: &CheckTarget, timeout: Duration) -> String {
    KeptConnection::default().rep_threads(target, timeout).await
}

/// The `rep_backlog` check's raw result line for `target`, on a connection of its own.
pub async fn check_rep_backlog(
    target: &CheckTarget,
    timeout: Duration,
    max_backlog: u64,
) -> String {
    KeptConnection::default()
        .rep_backlog(target, timeout, max_backlog)
        .await
}

/// The connection a replication check's loop keeps from one call to the next, so a check
/// every `check_period` costs one statement instead of a connect, a login and a goodbye.
/// Kept only by the replication checks: their connection trouble is `UNKNOWN` anyway, while
/// the `mysql` check still opens a new connection every time (it tests exactly that).
#[derive(Default)]
pub struct KeptConnection {
    conn: Option<Mysql>,
    known: KnownVersions,
}

impl KeptConnection {
    /// No connection yet; connections it opens use (and add to) `known`.
    pub fn sharing(known: KnownVersions) -> KeptConnection {
        KeptConnection { conn: None, known }
    }

    /// The server versions this loop's connections know, for the `mysql` check's new
    /// connection every call.
    pub fn known(&self) -> &KnownVersions {
        &self.known
    }

    /// `rep_threads` on the kept connection (opened or reopened as needed).
    pub async fn rep_threads(&mut self, target: &CheckTarget, timeout: Duration) -> String {
        bounded(timeout, async {
            match self.replication_row(target, timeout).await {
                Ok(row) => threads_line(row.as_ref()),
                Err(line) => line,
            }
        })
        .await
    }

    /// `rep_backlog` on the kept connection (opened or reopened as needed).
    pub async fn rep_backlog(
        &mut self,
        target: &CheckTarget,
        timeout: Duration,
        max_backlog: u64,
    ) -> String {
        bounded(timeout, async {
            match self.replication_row(target, timeout).await {
                Ok(row) => backlog_line(row.as_ref(), max_backlog),
                Err(line) => line,
            }
        })
        .await
    }

    /// Both replication checks from one status read: `(rep_threads, rep_backlog)`, each
    /// line what its own check would have said of that row.
    pub async fn rep_both(
        &mut self,
        target: &CheckTarget,
        timeout: Duration,
        max_backlog: u64,
    ) -> (String, String) {
        let both = async {
            match self.replication_row(target, timeout).await {
                Ok(row) => (
                    threads_line(row.as_ref()),
                    backlog_line(row.as_ref(), max_backlog),
                ),
                Err(line) => (line.clone(), line),
            }
        };
        bounded_or(timeout, both, || {
            (TIMEOUT_LINE.to_string(), TIMEOUT_LINE.to_string())
        })
        .await
    }

    /// The first status row, or the result line that ends the check early. A kept
    /// connection that fails (the server restarted, killed it, or it timed out) is dropped
    /// and the statement runs once more on a new one, so a stale connection never decides
    /// a result. The connection is out of `self` while in use: a call cut off by its bound
    /// leaves nothing half-used behind.
    async fn replication_row(
        &mut self,
        target: &CheckTarget,
        timeout: Duration,
    ) -> Result<Option<ReplicationRow>, String> {
        if let Some(mut conn) = self.conn.take() {
            match status_row(&mut conn, target).await {
                Ok(row) => {
                    self.conn = Some(conn);
                    return Ok(row);
                }
                Err(_) => close(conn),
            }
        }
        let mut conn = match open(target, timeout, &self.known).await {
            Ok(conn) => conn,
            Err(e) => return Err(connect_error("UNKNOWN", target, &e)),
        };
        let row = status_row(&mut conn, target).await;
        if row.is_ok() {
            self.conn = Some(conn);
        } else {
            close(conn);
        }
        row
    }
}

/// SHOW SLAVE STATUS on `conn`: its first row, or the check's result line for the failure.
async fn status_row(
    conn: &mut Mysql,
    target: &CheckTarget,
) -> Result<Option<ReplicationRow>, String> {
    let info = conn.info().clone();
    let rows = conn
        .rows(status_statement(&info), Operation::SlaveStatus)
        .await;
    match rows {
        Ok(rows) => Ok(rows.first().map(|row| {
            ReplicationRow::from_columns(row.iter().map(|(name, v)| (name, v.clone())))
        })),
        Err(MysqlError::Timeout { .. }) => Err(TIMEOUT_LINE.to_string()),
        Err(e @ MysqlError::MissingPrivilege { .. }) => {
            Err(privilege_line(&target.user, &detail(&e), &info))
        }
        Err(e) => Err(format!(
            "UNKNOWN: Unknown state. Execute error: {}",
            detail(&e)
        )),
    }
}

/// SHOW SLAVE STATUS, except on MySQL 8.0.22 and later (8.4 dropped the old words).
fn status_statement(info: &ServerInfo) -> &'static str {
    if info.uses_replica_words() {
        "SHOW REPLICA STATUS"
    } else {
        "SHOW SLAVE STATUS"
    }
}

/// mysql-mmm's missing-privilege message, naming MariaDB's replacement grant where it applies.
fn privilege_line(user: &str, err: &str, info: &ServerInfo) -> String {
    let mut line = format!(
        "ERROR: The monitor user '{user}' doesn't have the required REPLICATION CLIENT privilege! {err}"
    );
    if info.split_super() {
        line.push_str(&format!(
            " (MariaDB 10.5 and later need SLAVE MONITOR instead: GRANT SLAVE MONITOR ON *.* TO '{user}')"
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(io: &str, sql: &str, behind: Option<&str>) -> ReplicationRow {
        ReplicationRow::from_columns([
            ("Slave_IO_Running", Some(io.to_string())),
            ("Slave_SQL_Running", Some(sql.to_string())),
            ("Seconds_Behind_Master", behind.map(str::to_string)),
            ("Master_Host", Some("10.213.7.11".to_string())),
        ])
    }

    #[test]
    fn threads_follow_mysql_mmm_rules() {
        assert_eq!(threads_line(None), "ERROR: Replication is not set up");
        assert_eq!(threads_line(Some(&row("Yes", "Yes", Some("0")))), "OK");
        assert_eq!(threads_line(Some(&row("Connecting", "Yes", None))), "OK");
        assert_eq!(threads_line(Some(&row("Preparing", "Yes", None))), "OK");
        let mut reset = row("No", "No", None);
        reset.master_host = Some(String::new());
        assert_eq!(
            threads_line(Some(&reset)),
            "ERROR: Replication is not set up"
        );
        assert_eq!(
            backlog_line(Some(&reset), 60),
            "ERROR: Replication is not set up"
        );
        assert_eq!(
            threads_line(Some(&row("Yes", "No", None))),
            "ERROR: Replication is broken"
        );
        assert_eq!(
            threads_line(Some(&row("No", "Yes", None))),
            "ERROR: Replication is broken"
        );
    }

    #[test]
    fn backlog_follows_mysql_mmm_rules() {
        assert_eq!(backlog_line(None, 60), "ERROR: Replication is not set up");
        let null = row("Yes", "No", None);
        assert_eq!(backlog_line(Some(&null), 60), "OK: Backlog is null");
        let zero = row("Yes", "Yes", Some("0"));
        assert_eq!(backlog_line(Some(&zero), 60), "OK: Backlog is null");
        let some = row("Yes", "Yes", Some("60"));
        assert_eq!(backlog_line(Some(&some), 60), "OK");
        let big = row("Yes", "Yes", Some("61"));
        assert_eq!(backlog_line(Some(&big), 60), "ERROR: Backlog is too big");
        let odd = row("Yes", "Yes", Some("soon"));
        assert!(backlog_line(Some(&odd), 60).starts_with("UNKNOWN: "));
    }

    #[test]
    fn reads_replica_spellings() {
        let row = ReplicationRow::from_columns([
            ("Replica_IO_Running", Some("Yes".to_string())),
            ("Replica_SQL_Running", Some("No".to_string())),
            ("Seconds_Behind_Source", Some("7".to_string())),
        ]);
        assert_eq!(row.sql_running.as_deref(), Some("No"));
        assert_eq!(row.seconds_behind.as_deref(), Some("7"));
        assert_eq!(threads_line(Some(&row)), "ERROR: Replication is broken");
    }

    fn version(v: &str) -> ServerInfo {
        ServerInfo::parse(v).expect("version")
    }

    #[test]
    fn picks_statement_and_privilege_hint_by_version() {
        assert_eq!(
            status_statement(&version("10.11.6-MariaDB")),
            "SHOW SLAVE STATUS"
        );
        assert_eq!(status_statement(&version("8.0.21")), "SHOW SLAVE STATUS");
        assert_eq!(status_statement(&version("8.4.0")), "SHOW REPLICA STATUS");
        assert_eq!(
            status_statement(&version("5.7.44-log")),
            "SHOW SLAVE STATUS"
        );
        let mysql = privilege_line("mon", "denied", &version("8.0.36"));
        assert_eq!(
            mysql,
            "ERROR: The monitor user 'mon' doesn't have the required REPLICATION CLIENT privilege! denied"
        );
        let mariadb = privilege_line("mon", "denied", &version("10.11.6-MariaDB"));
        assert!(
            mariadb.starts_with(&mysql) && mariadb.contains("SLAVE MONITOR"),
            "{mariadb}"
        );
    }
}
