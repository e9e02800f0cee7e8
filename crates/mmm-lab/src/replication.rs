//! Replication between lab servers: CHANGE MASTER (GTID or binlog coordinates), start/stop, status
//! and waiting until a slave has caught up.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::error::{LabError, Result};
use crate::mariadb::MariaDb;
use crate::users::{REPLICATION_PASSWORD, REPLICATION_USER};

/// How a slave finds its place in the master's binlog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReplicationMode {
    /// `MASTER_USE_GTID=slave_pos` (MariaDB GTID auto-positioning).
    #[default]
    Gtid,
    /// Classic binlog file + position, taken from the master's current `SHOW MASTER STATUS`.
    BinlogCoordinates,
}

/// Where replication starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    /// GTID auto-positioning from the slave's `gtid_slave_pos`.
    Gtid,
    /// An explicit binlog position on the master.
    Binlog(BinlogCoordinates),
}

/// A position in a master's binary log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogCoordinates {
    /// Binlog file name (`mysql-bin.000001`).
    pub file: String,
    /// Byte offset in it.
    pub position: u64,
}

/// The fields of `SHOW SLAVE STATUS`, by column name, as text (NULL is empty).
#[derive(Debug, Clone, Default)]
pub struct SlaveStatus {
    /// Column name → value.
    pub fields: BTreeMap<String, String>,
}

impl SlaveStatus {
    /// The value of column `name` (empty when absent).
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    /// Both replication threads report `Yes`.
    pub fn running(&self) -> bool {
        self.get("Slave_IO_Running") == "Yes" && self.get("Slave_SQL_Running") == "Yes"
    }

    /// `Master_Host` this slave replicates from.
    pub fn master_host(&self) -> &str {
        self.get("Master_Host")
    }
}

/// The master's current binlog position (`SHOW MASTER STATUS`).
pub async fn master_status(master: &MariaDb) -> Result<BinlogCoordinates> {
    let mut conn = master.root_conn().await?;
    let row: Option<mysql_async::Row> = deadline(
        master,
        "SHOW MASTER STATUS",
        conn.query_first("SHOW MASTER STATUS"),
    )
    .await?;
    crate::mariadb::close(conn).await;
    let row = row.ok_or_else(|| {
        LabError::Unsupported(format!("{} has binary logging off", master.label()))
    })?;
    let file = row.as_ref(0).and_then(value_text).unwrap_or_default();
    let position = row
        .as_ref(1)
        .and_then(value_text)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| {
            LabError::Unsupported(format!("odd SHOW MASTER STATUS on {}", master.label()))
        })?;
    Ok(BinlogCoordinates { file, position })
}

/// Address a slave uses to reach `master`; both must be on loopback or both in the lab.
fn master_address(slave: &MariaDb, master: &MariaDb) -> Result<IpAddr> {
    match (slave.host(), master.host()) {
        (Some(_), Some(_)) | (None, None) => Ok(master.ip()),
        _ => Err(LabError::Unsupported(format!(
            "{} and {} are not both in the lab (or both on loopback)",
            slave.label(),
            master.label()
        ))),
    }
}

/// `CHANGE MASTER TO` on `slave` pointing at `master` with the lab's replication account; the
/// slave threads must be stopped (see [`stop_slave`]).
pub async fn change_master_to(
    slave: &MariaDb,
    master: &MariaDb,
    start: &StartPosition,
) -> Result<()> {
    let host = master_address(slave, master)?;
    let position = match start {
        StartPosition::Gtid => "MASTER_USE_GTID=slave_pos".to_owned(),
        StartPosition::Binlog(c) => format!(
            "MASTER_USE_GTID=no, MASTER_LOG_FILE='{}', MASTER_LOG_POS={}",
            c.file.replace('\'', ""),
            c.position
        ),
    };
    let sql = format!(
        "CHANGE MASTER TO MASTER_HOST='{host}', MASTER_PORT={}, MASTER_USER='{REPLICATION_USER}', \
         MASTER_PASSWORD='{REPLICATION_PASSWORD}', MASTER_CONNECT_RETRY=1, {position}",
        master.port()
    );
    slave.exec(&sql).await
}

/// `START SLAVE`.
pub async fn start_slave(slave: &MariaDb) -> Result<()> {
    slave.exec("START SLAVE").await
}

/// `STOP SLAVE`.
pub async fn stop_slave(slave: &MariaDb) -> Result<()> {
    slave.exec("STOP SLAVE").await
}

/// Points `slave` at `master` (stop, change master, start) using `mode`; with binlog coordinates
/// the master's current position is used.
pub async fn replicate_from(
    slave: &MariaDb,
    master: &MariaDb,
    mode: &ReplicationMode,
) -> Result<()> {
    let start = match mode {
        ReplicationMode::Gtid => StartPosition::Gtid,
        ReplicationMode::BinlogCoordinates => StartPosition::Binlog(master_status(master).await?),
    };
    stop_slave(slave).await?;
    change_master_to(slave, master, &start).await?;
    start_slave(slave).await
}

/// `SHOW SLAVE STATUS`, or `None` when no replication is configured.
pub async fn slave_status(db: &MariaDb) -> Result<Option<SlaveStatus>> {
    let mut conn = db.root_conn().await?;
    let row: Option<mysql_async::Row> = deadline(
        db,
        "SHOW SLAVE STATUS",
        conn.query_first("SHOW SLAVE STATUS"),
    )
    .await?;
    crate::mariadb::close(conn).await;
    Ok(row.map(|row| {
        let fields = row
            .columns_ref()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let v = row.as_ref(i).and_then(value_text).unwrap_or_default();
                (c.name_str().into_owned(), v)
            })
            .collect();
        SlaveStatus { fields }
    }))
}

/// `@@gtid_binlog_pos` of a server (what it has written to its binlog).
pub async fn gtid_binlog_pos(db: &MariaDb) -> Result<String> {
    Ok(db
        .query_value("SELECT @@gtid_binlog_pos")
        .await?
        .unwrap_or_default())
}

/// Waits until `slave` has applied everything in `master`'s binlog (compared per GTID domain,
/// which works for both replication modes), failing early when its SQL thread stops with an error.
pub async fn wait_caught_up(slave: &MariaDb, master: &MariaDb, timeout: Duration) -> Result<()> {
    let target = parse_gtid_list(&gtid_binlog_pos(master).await?);
    let deadline_at = Instant::now() + timeout;
    loop {
        let current = parse_gtid_list(
            &slave
                .query_value("SELECT @@gtid_current_pos")
                .await?
                .unwrap_or_default(),
        );
        if covers(&current, &target) {
            return Ok(());
        }
        let status = slave_status(slave).await?;
        if let Some(s) = status.as_ref()
            && s.get("Slave_SQL_Running") == "No"
            && !matches!(s.get("Last_SQL_Errno"), "" | "0")
        {
            return Err(LabError::ReplicationBroken {
                server: slave.label().to_owned(),
                detail: format!(
                    "SQL error {}: {}",
                    s.get("Last_SQL_Errno"),
                    s.get("Last_SQL_Error")
                ),
            });
        }
        if Instant::now() >= deadline_at {
            let io = status
                .as_ref()
                .map(|s| {
                    format!(
                        "IO: {} {}",
                        s.get("Slave_IO_Running"),
                        s.get("Last_IO_Error")
                    )
                })
                .unwrap_or_else(|| "no replication configured".to_owned());
            return Err(LabError::Timeout {
                what: format!(
                    "{} to catch up with {} (target {target:?}, at {current:?}; {io})",
                    slave.label(),
                    master.label()
                ),
                timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until both replication threads of `slave` report `Yes` (the IO thread has connected to
/// its master), failing early on an SQL thread error.
pub async fn wait_slave_running(slave: &MariaDb, timeout: Duration) -> Result<()> {
    let deadline_at = Instant::now() + timeout;
    loop {
        let status = slave_status(slave).await?;
        match status.as_ref() {
            Some(s) if s.running() => return Ok(()),
            Some(s) if !matches!(s.get("Last_SQL_Errno"), "" | "0") => {
                return Err(LabError::ReplicationBroken {
                    server: slave.label().to_owned(),
                    detail: format!(
                        "SQL error {}: {}",
                        s.get("Last_SQL_Errno"),
                        s.get("Last_SQL_Error")
                    ),
                });
            }
            _ => {}
        }
        if Instant::now() >= deadline_at {
            let detail = status.map_or_else(
                || "no replication configured".to_owned(),
                |s| {
                    format!(
                        "IO {} ({} {}), SQL {}",
                        s.get("Slave_IO_Running"),
                        s.get("Last_IO_Errno"),
                        s.get("Last_IO_Error"),
                        s.get("Slave_SQL_Running")
                    )
                },
            );
            return Err(LabError::Timeout {
                what: format!("replication threads of {} to run: {detail}", slave.label()),
                timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long a semi-synchronous master waits for its acker before it would fall back to
/// asynchronous replication: longer than any lab run, so an acknowledged commit is always on the
/// acker's relay log.
pub const SEMI_SYNC_TIMEOUT: Duration = Duration::from_secs(3600);

/// `[mysqld]` lines for a master that replicates semi-synchronously with its peer: both
/// directions enabled (either master can be the active one), the ack awaited after the binlog is
/// synced and before the engine commit (`AFTER_SYNC`, so a client never sees a commit its acker
/// lacks), no fallback to asynchronous within [`SEMI_SYNC_TIMEOUT`].
pub fn semi_sync_config() -> Vec<String> {
    vec![
        "rpl_semi_sync_master_enabled=ON".to_owned(),
        "rpl_semi_sync_slave_enabled=ON".to_owned(),
        "rpl_semi_sync_master_wait_point=AFTER_SYNC".to_owned(),
        "rpl_semi_sync_master_wait_no_slave=ON".to_owned(),
        format!(
            "rpl_semi_sync_master_timeout={}",
            SEMI_SYNC_TIMEOUT.as_millis()
        ),
    ]
}

/// Waits until `master` runs semi-synchronous replication with at least one connected acker.
pub async fn wait_semi_sync_on(master: &MariaDb, timeout: Duration) -> Result<()> {
    wait_until(
        master,
        "SELECT VARIABLE_VALUE = 'ON' FROM information_schema.GLOBAL_STATUS \
         WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'",
        timeout,
    )
    .await?;
    wait_until(
        master,
        "SELECT VARIABLE_VALUE > 0 FROM information_schema.GLOBAL_STATUS \
         WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS'",
        timeout,
    )
    .await
}

/// Polls `sql` on `db` as root until its first value is truthy (not NULL, not 0, not empty).
pub async fn wait_until(db: &MariaDb, sql: &str, timeout: Duration) -> Result<()> {
    let deadline_at = Instant::now() + timeout;
    loop {
        let value = db.query_value(sql).await;
        if let Ok(Some(v)) = &value
            && !v.is_empty()
            && v != "0"
        {
            return Ok(());
        }
        if Instant::now() >= deadline_at {
            return Err(LabError::Timeout {
                what: format!("`{sql}` on {} to become true (last: {value:?})", db.label()),
                timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Parses a MariaDB GTID list (`1-1-5,2-2-7`) into domain → sequence number; odd items are skipped.
pub fn parse_gtid_list(list: &str) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split('-');
        let (Some(d), Some(_server), Some(n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let (Ok(d), Ok(n)) = (d.parse(), n.parse()) {
            out.insert(d, n);
        }
    }
    out
}

/// Whether `have` contains every domain of `want` at an equal or later sequence number.
pub fn covers(have: &BTreeMap<u32, u64>, want: &BTreeMap<u32, u64>) -> bool {
    want.iter()
        .all(|(d, n)| have.get(d).is_some_and(|h| h >= n))
}

/// Text of a driver value (NULL → `None`).
pub fn value_text(v: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true)),
    }
}

async fn deadline<T>(
    db: &MariaDb,
    what: &str,
    fut: impl std::future::Future<Output = std::result::Result<T, mysql_async::Error>>,
) -> Result<T> {
    match tokio::time::timeout(crate::mariadb::QUERY_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(db.sql_error(what, e)),
        Err(_) => Err(LabError::Timeout {
            what: format!("`{what}` on {}", db.label()),
            timeout: crate::mariadb::QUERY_TIMEOUT,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_lists_parse_and_compare() {
        let a = parse_gtid_list("1-1-5, 2-2-7");
        assert_eq!(a.get(&1), Some(&5));
        assert_eq!(a.get(&2), Some(&7));
        assert!(parse_gtid_list("").is_empty());
        assert!(parse_gtid_list("x-y-z,1-1").is_empty());
        let b = parse_gtid_list("1-1-6,2-2-7,3-3-1");
        assert!(covers(&b, &a));
        assert!(!covers(&a, &b));
        assert!(covers(&a, &BTreeMap::new()));
    }
}
