//! A single MySQL connection where every call has a deadline.

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};

use crate::error::{MysqlError, Operation};
use crate::known::KnownVersions;
use crate::status::{MasterStatus, RowMap, SlaveStatus};
use crate::version::{Flavour, ServerInfo};

/// Where and as whom to connect, with the limits every call obeys.
#[derive(Debug, Clone)]
pub struct ConnectOpts {
    /// Host name or IP for TCP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Unix socket; when set it is used instead of TCP.
    pub socket: Option<PathBuf>,
    /// MySQL user.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Limit on establishing the connection (handshake included).
    pub connect_timeout: Duration,
    /// Limit on each statement.
    pub query_timeout: Duration,
}

impl ConnectOpts {
    /// TCP options with the given limits.
    pub fn tcp(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        password: impl Into<String>,
        timeout: Duration,
    ) -> ConnectOpts {
        ConnectOpts {
            host: host.into(),
            port,
            socket: None,
            user: user.into(),
            password: password.into(),
            connect_timeout: timeout,
            query_timeout: timeout,
        }
    }

    /// "host:port" or the socket path, for messages.
    pub fn addr(&self) -> String {
        match &self.socket {
            Some(p) => p.display().to_string(),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// An open connection plus what the server said about itself.
#[derive(Debug)]
pub struct Mysql {
    conn: Conn,
    info: ServerInfo,
    addr: String,
    query_timeout: Duration,
}

/// Opens a connection (TCP with `prefer_socket(false)`, or the given socket) and reads `VERSION()`.
pub async fn connect(opts: &ConnectOpts) -> Result<Mysql, MysqlError> {
    open(opts, None).await
}

/// [`connect`], reusing `known`'s `VERSION()` answer for this address while the server's
/// handshake announces the same version numbers (and remembering it otherwise): then opening
/// a connection runs no statement at all.
pub async fn connect_known(opts: &ConnectOpts, known: &KnownVersions) -> Result<Mysql, MysqlError> {
    open(opts, Some(known)).await
}

/// The client's packet limit: the protocol's own ceiling, so no reply a server may send is
/// refused (set here, so that the driver does not ask the server for it on every connect).
const MAX_ALLOWED_PACKET: usize = 1 << 30;

/// The server default of `wait_timeout`; the driver uses it only for pooled connections,
/// which mmm has none of, and would otherwise ask for it on every connect.
const WAIT_TIMEOUT_SECS: usize = 28_800;

async fn open(opts: &ConnectOpts, known: Option<&KnownVersions>) -> Result<Mysql, MysqlError> {
    let addr = opts.addr();
    let mut builder = OptsBuilder::default()
        .user(Some(opts.user.clone()))
        .pass(Some(opts.password.clone()))
        .stmt_cache_size(0)
        .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
        .wait_timeout(Some(WAIT_TIMEOUT_SECS));
    builder = match &opts.socket {
        Some(path) => builder
            .socket(Some(path.display().to_string()))
            .prefer_socket(true),
        None => builder
            .ip_or_hostname(opts.host.clone())
            .tcp_port(opts.port)
            .prefer_socket(false),
    };
    let conn = match tokio::time::timeout(opts.connect_timeout, Conn::new(builder)).await {
        Err(_) => {
            return Err(MysqlError::Timeout {
                what: format!("connect to {addr}"),
                after: opts.connect_timeout,
            });
        }
        Ok(Err(e)) => return Err(MysqlError::from_driver(e, Operation::Connect, None, &addr)),
        Ok(Ok(c)) => c,
    };
    let announced = conn.server_version();
    let remembered = known.and_then(|k| k.matching(&addr, announced));
    let mut m = Mysql {
        conn,
        info: remembered.clone().unwrap_or(ServerInfo {
            version: String::new(),
            flavour: Flavour::Mysql,
            major: 0,
            minor: 0,
            patch: 0,
        }),
        addr,
        query_timeout: opts.query_timeout,
    };
    if remembered.is_none() {
        m.info = m.read_version().await?;
        if let Some(known) = known {
            known.remember(&m.addr, &m.info);
        }
    }
    Ok(m)
}

/// Renders a column value as text (`None` for NULL).
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Turns a driver row into column name → text.
fn row_map(row: &Row) -> RowMap {
    let cols = row.columns_ref();
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            let v = row.as_ref(i).and_then(value_text);
            (c.name_str().into_owned(), v)
        })
        .collect()
}

/// Quotes a string literal for SQL (the values mmm sends are names, files and GTIDs).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// How a slave should find its position on a new master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeMasterPosition {
    /// Binlog coordinates on the new master.
    Binlog {
        /// Binlog file.
        file: String,
        /// Position in it.
        position: u64,
    },
    /// GTID auto-positioning (MariaDB `MASTER_USE_GTID=slave_pos`, MySQL `MASTER_AUTO_POSITION=1`).
    Gtid,
}

/// The outcome of a bounded wait for replication to reach a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The target was reached.
    Reached,
    /// The timeout ran out first.
    TimedOut,
    /// The SQL thread is not running or the target is unknown to the server (NULL).
    NotReplicating,
}

/// One row of the process list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    /// Connection id.
    pub id: u64,
    /// User name.
    pub user: String,
    /// Client host.
    pub host: String,
    /// Command (Query, Sleep, Binlog Dump, …).
    pub command: String,
    /// Statement text, when running one.
    pub info: Option<String>,
}

impl Mysql {
    /// What `VERSION()` said.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// Where this connection goes.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The limit each statement of this connection obeys.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// Runs a statement that returns nothing.
    pub async fn execute(&mut self, sql: &str, op: Operation) -> Result<(), MysqlError> {
        let limit = self.query_timeout;
        let addr = self.addr.clone();
        let info = self.info.clone();
        match tokio::time::timeout(limit, self.conn.query_drop(sql)).await {
            Err(_) => Err(MysqlError::Timeout {
                what: format!("{sql} on {addr}"),
                after: limit,
            }),
            Ok(Err(e)) => Err(MysqlError::from_driver(e, op, Some(&info), &addr)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Runs a query and returns its rows as column maps.
    pub async fn rows(&mut self, sql: &str, op: Operation) -> Result<Vec<RowMap>, MysqlError> {
        let limit = self.query_timeout;
        self.rows_within(sql, op, limit).await
    }

    /// Like [`Mysql::rows`] with another limit (for statements that wait on purpose).
    pub(crate) async fn rows_within(
        &mut self,
        sql: &str,
        op: Operation,
        limit: Duration,
    ) -> Result<Vec<RowMap>, MysqlError> {
        let addr = self.addr.clone();
        let info = self.info.clone();
        let res = tokio::time::timeout(limit, self.conn.query::<Row, _>(sql)).await;
        match res {
            Err(_) => Err(MysqlError::Timeout {
                what: format!("{sql} on {addr}"),
                after: limit,
            }),
            Ok(Err(e)) => Err(MysqlError::from_driver(e, op, Some(&info), &addr)),
            Ok(Ok(rows)) => Ok(rows.iter().map(row_map).collect()),
        }
    }

    /// `SELECT VERSION()`, parsed.
    async fn read_version(&mut self) -> Result<ServerInfo, MysqlError> {
        let version: Option<String> = self
            .first_value("SELECT VERSION()", Operation::Connect)
            .await?;
        let version =
            version.ok_or_else(|| MysqlError::UnexpectedReply("empty VERSION()".into()))?;
        ServerInfo::parse(&version)
            .ok_or_else(|| MysqlError::UnexpectedReply(format!("VERSION() = {version:?}")))
    }

    /// First column of the first row as text (`None` for no row or NULL).
    pub async fn first_value(
        &mut self,
        sql: &str,
        op: Operation,
    ) -> Result<Option<String>, MysqlError> {
        let rows = self.rows(sql, op).await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(|(_, v)| v))
    }

    /// This session's connection id (spared by the kill rounds).
    pub async fn connection_id(&mut self) -> Result<u64, MysqlError> {
        let v = self
            .first_value("SELECT CONNECTION_ID()", Operation::Query)
            .await?;
        parse_u64(v.as_deref(), "CONNECTION_ID()")
    }

    /// `@@server_id`.
    pub async fn server_id(&mut self) -> Result<u64, MysqlError> {
        let v = self
            .first_value("SELECT @@server_id", Operation::Query)
            .await?;
        parse_u64(v.as_deref(), "@@server_id")
    }

    /// `@@read_only` (true when writes are refused to ordinary users).
    pub async fn read_only(&mut self) -> Result<bool, MysqlError> {
        let v = self
            .first_value("SELECT @@GLOBAL.read_only", Operation::Query)
            .await?;
        Ok(parse_u64(v.as_deref(), "@@read_only")? != 0)
    }

    /// Sets `read_only` (and on MySQL ≥5.7 `super_read_only`, which must be cleared first
    /// when allowing writes and set last when denying them).
    pub async fn set_read_only(&mut self, on: bool) -> Result<(), MysqlError> {
        let super_ro = self.info.has_super_read_only();
        if on {
            self.execute("SET GLOBAL read_only = 1", Operation::SetReadOnly)
                .await?;
            if super_ro {
                self.execute("SET GLOBAL super_read_only = 1", Operation::SetReadOnly)
                    .await?;
            }
        } else {
            if super_ro {
                self.execute("SET GLOBAL super_read_only = 0", Operation::SetReadOnly)
                    .await?;
            }
            self.execute("SET GLOBAL read_only = 0", Operation::SetReadOnly)
                .await?;
        }
        Ok(())
    }

    /// SHOW SLAVE STATUS (or SHOW REPLICA STATUS on MySQL ≥8.0.22); `None` when not a slave.
    pub async fn slave_status(&mut self) -> Result<Option<SlaveStatus>, MysqlError> {
        let sql = if self.info.uses_replica_words() {
            "SHOW REPLICA STATUS"
        } else {
            "SHOW SLAVE STATUS"
        };
        let rows = self.rows(sql, Operation::SlaveStatus).await?;
        match rows.first() {
            None => Ok(None),
            Some(r) => {
                let s = SlaveStatus::from_row(r).map_err(MysqlError::UnexpectedReply)?;
                Ok(s.is_configured().then_some(s))
            }
        }
    }

    /// SHOW MASTER STATUS plus the GTID state (gtid_current_pos/gtid_binlog_pos or gtid_executed).
    pub async fn master_status(&mut self) -> Result<MasterStatus, MysqlError> {
        let sql = if self.info.flavour == Flavour::Mysql && self.info.at_least(8, 2, 0) {
            "SHOW BINARY LOG STATUS"
        } else {
            "SHOW MASTER STATUS"
        };
        let rows = self.rows(sql, Operation::MasterStatus).await?;
        let mut status = match rows.first() {
            None => MasterStatus::default(),
            Some(r) => MasterStatus::from_row(r).map_err(MysqlError::UnexpectedReply)?,
        };
        match self.info.flavour {
            Flavour::Mariadb => {
                let rows = self
                    .rows(
                        "SELECT @@GLOBAL.gtid_current_pos, @@GLOBAL.gtid_binlog_pos",
                        Operation::MasterStatus,
                    )
                    .await?;
                let mut vals = rows.into_iter().next().unwrap_or_default().into_iter();
                status.gtid_executed = vals.next().and_then(|(_, v)| v).unwrap_or_default();
                status.gtid_binlog_pos = vals.next().and_then(|(_, v)| v).unwrap_or_default();
            }
            Flavour::Mysql => {
                let v = self
                    .first_value("SELECT @@GLOBAL.gtid_executed", Operation::MasterStatus)
                    .await?
                    .unwrap_or_default();
                let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
                status.gtid_executed = v.clone();
                status.gtid_binlog_pos = v;
            }
        }
        Ok(status)
    }

    /// True when this server can take part in GTID auto-positioning
    /// (MariaDB always; MySQL when `gtid_mode=ON`).
    pub async fn gtid_enabled(&mut self) -> Result<bool, MysqlError> {
        match self.info.flavour {
            Flavour::Mariadb => Ok(true),
            Flavour::Mysql => {
                let v = self
                    .first_value("SELECT @@GLOBAL.gtid_mode", Operation::Query)
                    .await?;
                Ok(v.is_some_and(|v| v.eq_ignore_ascii_case("ON")))
            }
        }
    }

    /// The process list (information_schema, which works on every supported version).
    pub async fn processlist(&mut self) -> Result<Vec<ProcessRow>, MysqlError> {
        let rows = self
            .rows(
                "SELECT ID, USER, HOST, COMMAND, INFO FROM information_schema.PROCESSLIST",
                Operation::KillSessions,
            )
            .await?;
        rows.iter()
            .map(|r| {
                let get = |i: usize| r.get(i).and_then(|(_, v)| v.clone());
                Ok(ProcessRow {
                    id: parse_u64(get(0).as_deref(), "PROCESSLIST.ID")?,
                    user: get(1).unwrap_or_default(),
                    host: get(2).unwrap_or_default(),
                    command: get(3).unwrap_or_default(),
                    info: get(4),
                })
            })
            .collect()
    }

    /// KILL CONNECTION id; a session that already ended is not an error.
    pub async fn kill(&mut self, id: u64) -> Result<(), MysqlError> {
        match self
            .execute(&format!("KILL CONNECTION {id}"), Operation::KillSessions)
            .await
        {
            Err(MysqlError::Server { code: 1094, .. }) => Ok(()),
            other => other,
        }
    }

    /// STOP SLAVE / STOP REPLICA.
    pub async fn stop_slave(&mut self) -> Result<(), MysqlError> {
        let sql = if self.info.uses_replica_words() {
            "STOP REPLICA"
        } else {
            "STOP SLAVE"
        };
        self.execute(sql, Operation::ReplicationControl).await
    }

    /// START SLAVE / START REPLICA.
    pub async fn start_slave(&mut self) -> Result<(), MysqlError> {
        let sql = if self.info.uses_replica_words() {
            "START REPLICA"
        } else {
            "START SLAVE"
        };
        self.execute(sql, Operation::ReplicationControl).await
    }

    /// CHANGE MASTER TO (or CHANGE REPLICATION SOURCE TO) the given master and position.
    pub async fn change_master(
        &mut self,
        host: &str,
        port: u16,
        user: &str,
        password: &str,
        position: &ChangeMasterPosition,
    ) -> Result<(), MysqlError> {
        let sql = change_master_sql(&self.info, host, port, user, password, position);
        self.execute(&sql, Operation::ReplicationControl).await
    }

    /// Waits (bounded by `timeout`) until the SQL thread has executed up to `file:pos` of its master.
    pub async fn wait_for_position(
        &mut self,
        file: &str,
        pos: u64,
        timeout: Duration,
    ) -> Result<WaitOutcome, MysqlError> {
        let func = if self.info.flavour == Flavour::Mysql && self.info.at_least(8, 0, 26) {
            "SOURCE_POS_WAIT"
        } else {
            "MASTER_POS_WAIT"
        };
        let secs = timeout.as_secs().max(1);
        let sql = format!("SELECT {func}({}, {pos}, {secs})", quote(file));
        let rows = self
            .rows_within(&sql, Operation::Wait, timeout + self.query_timeout)
            .await?;
        let v = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(|(_, v)| v);
        Ok(match v.as_deref().map(str::trim) {
            None => WaitOutcome::NotReplicating,
            Some("-1") => WaitOutcome::TimedOut,
            Some(_) => WaitOutcome::Reached,
        })
    }

    /// Waits (bounded by `timeout`) until the GTID set/list has been applied locally
    /// (MASTER_GTID_WAIT on MariaDB, WAIT_FOR_EXECUTED_GTID_SET on MySQL).
    pub async fn wait_for_gtid(
        &mut self,
        gtid: &str,
        timeout: Duration,
    ) -> Result<WaitOutcome, MysqlError> {
        if gtid.trim().is_empty() {
            return Ok(WaitOutcome::Reached);
        }
        let secs = timeout.as_secs_f64().max(0.1);
        let (sql, timed_out) = match self.info.flavour {
            Flavour::Mariadb => (
                format!("SELECT MASTER_GTID_WAIT({}, {secs:.3})", quote(gtid)),
                "-1",
            ),
            Flavour::Mysql => (
                format!(
                    "SELECT WAIT_FOR_EXECUTED_GTID_SET({}, {})",
                    quote(gtid),
                    timeout.as_secs().max(1)
                ),
                "1",
            ),
        };
        let rows = self
            .rows_within(&sql, Operation::Wait, timeout + self.query_timeout)
            .await?;
        let v = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(|(_, v)| v);
        Ok(match v.as_deref().map(str::trim) {
            None => WaitOutcome::NotReplicating,
            Some(t) if t == timed_out => WaitOutcome::TimedOut,
            Some(_) => WaitOutcome::Reached,
        })
    }

    /// Closes the connection politely, bounded by the query timeout.
    pub async fn close(self) {
        let limit = self.query_timeout;
        let _ = tokio::time::timeout(limit, self.conn.disconnect()).await;
    }
}

/// Builds the CHANGE MASTER statement for a flavour and version.
pub fn change_master_sql(
    info: &ServerInfo,
    host: &str,
    port: u16,
    user: &str,
    password: &str,
    position: &ChangeMasterPosition,
) -> String {
    let new_words = info.flavour == Flavour::Mysql && info.at_least(8, 0, 23);
    let (stmt, k) = if new_words {
        ("CHANGE REPLICATION SOURCE TO", "SOURCE")
    } else {
        ("CHANGE MASTER TO", "MASTER")
    };
    let mut sql = format!(
        "{stmt} {k}_HOST={}, {k}_PORT={port}, {k}_USER={}, {k}_PASSWORD={}",
        quote(host),
        quote(user),
        quote(password)
    );
    match position {
        ChangeMasterPosition::Binlog { file, position } => {
            sql.push_str(&format!(
                ", {k}_LOG_FILE={}, {k}_LOG_POS={position}",
                quote(file)
            ));
            match info.flavour {
                Flavour::Mariadb => sql.push_str(", MASTER_USE_GTID=no"),
                Flavour::Mysql => sql.push_str(&format!(", {k}_AUTO_POSITION=0")),
            }
        }
        ChangeMasterPosition::Gtid => match info.flavour {
            Flavour::Mariadb => sql.push_str(", MASTER_USE_GTID=slave_pos"),
            Flavour::Mysql => sql.push_str(&format!(", {k}_AUTO_POSITION=1")),
        },
    }
    sql
}

fn parse_u64(v: Option<&str>, what: &str) -> Result<u64, MysqlError> {
    v.and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| MysqlError::UnexpectedReply(format!("{what} = {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_text() {
        assert_eq!(quote("a'b\\c"), "'a''b\\\\c'");
    }

    #[test]
    fn change_master_statements() {
        let maria = ServerInfo::parse("10.11.19-MariaDB").expect("v");
        let sql = change_master_sql(
            &maria,
            "10.213.7.12",
            3306,
            "repl",
            "pw",
            &ChangeMasterPosition::Gtid,
        );
        assert_eq!(
            sql,
            "CHANGE MASTER TO MASTER_HOST='10.213.7.12', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_USE_GTID=slave_pos"
        );
        let mysql = ServerInfo::parse("8.0.36").expect("v");
        let sql = change_master_sql(
            &mysql,
            "h",
            3306,
            "u",
            "p",
            &ChangeMasterPosition::Binlog {
                file: "binlog.000002".into(),
                position: 4,
            },
        );
        assert!(
            sql.starts_with("CHANGE REPLICATION SOURCE TO SOURCE_HOST='h'"),
            "{sql}"
        );
        assert!(
            sql.ends_with(
                "SOURCE_LOG_FILE='binlog.000002', SOURCE_LOG_POS=4, SOURCE_AUTO_POSITION=0"
            ),
            "{sql}"
        );
    }
}
