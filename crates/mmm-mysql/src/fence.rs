//! The fencing epoch stored inside each MySQL server, and the two operations that use it.
//!
//! A server remembers the highest epoch at which it was fenced in `mmm.fence` (one row, id 1,
//! written with `sql_log_bin=0` so it never replicates). [`fence_server`] raises that epoch,
//! sets `read_only=1` and ends client sessions; [`allow_writes_at`] sets `read_only=0` only for
//! an epoch above the stored one. Both run under the server-side lock `GET_LOCK('mmm.fence')`, so
//! a late or replayed command with a lower epoch can never turn writes back on after a fence,
//! whatever process sends it. Every call is bounded by the caller's timeout.

use std::time::{Duration, Instant};

use crate::conn::Mysql;
use crate::error::{MysqlError, Operation};
use crate::kill::select_kills;

/// The server-side lock both operations hold.
pub const LOCK_NAME: &str = "mmm.fence";

/// The table's definition (database `mmm`, one row with id 1).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS mmm.fence (\
     id TINYINT UNSIGNED PRIMARY KEY, \
     epoch BIGINT UNSIGNED NOT NULL, \
     fenced_by VARCHAR(255) NOT NULL, \
     at TIMESTAMP(6) NOT NULL) ENGINE=InnoDB";

/// What a fence did, for the caller's log and for the proof it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceReport {
    /// The epoch the server stores after the fence (≥ the requested one).
    pub epoch: u64,
    /// Client sessions killed.
    pub killed: usize,
}

/// Why fencing or allowing writes failed; the server may be in any state.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// A statement failed; `source` names a missing grant when that was the cause.
    #[error("{step}: {source}")]
    Mysql {
        /// What was being done.
        step: &'static str,
        /// The server's or driver's error.
        #[source]
        source: MysqlError,
    },
    /// Another session held the lock for the whole wait.
    #[error("lock '{LOCK_NAME}' was not free within {after:?} (held by connection {holder})")]
    Locked {
        /// How long we waited.
        after: Duration,
        /// The holder's connection id, or "unknown".
        holder: String,
    },
    /// The server was fenced at an epoch at least the one asking for writes.
    #[error("fenced at epoch {stored}: writes at epoch {epoch} are refused")]
    Fenced {
        /// The stored fencing epoch.
        stored: u64,
        /// The epoch that asked.
        epoch: u64,
    },
    /// `read_only` did not read back as set.
    #[error("read_only reads back as {found} after setting it to {wanted}")]
    ReadBack {
        /// The value set.
        wanted: u8,
        /// The value read.
        found: u8,
    },
    /// The whole operation ran out of time; the connection must be dropped (which frees the lock).
    #[error("{what} did not finish within {after:?}")]
    Timeout {
        /// Which operation.
        what: &'static str,
        /// The limit.
        after: Duration,
    },
}

fn step(step: &'static str) -> impl FnOnce(MysqlError) -> FenceError {
    move |source| FenceError::Mysql { step, source }
}

/// Fences the server: under the lock, stores `max(stored, epoch)` with `fenced_by`, sets
/// `read_only=1` (and `super_read_only=1` where it exists), kills client sessions (not ours, not
/// replication or server threads), and reads `read_only` back.
pub async fn fence_server(
    conn: &mut Mysql,
    epoch: u64,
    fenced_by: &str,
    timeout: Duration,
) -> Result<FenceReport, FenceError> {
    let what = "fencing";
    let started = Instant::now();
    bounded(what, timeout, async {
        acquire(conn, timeout / 2, true).await?;
        let result = fence_locked(conn, epoch, fenced_by).await;
        release(conn).await;
        tracing::debug!(epoch, elapsed = ?started.elapsed(), ok = result.is_ok(), "fence done");
        result
    })
    .await
}

/// Allows writes at `epoch`: under the lock, reads the stored fencing epoch F (0 when the table or
/// row does not exist), refuses with [`FenceError::Fenced`] when `epoch <= F`, else sets
/// `read_only=0` and reads it back. Returns F.
pub async fn allow_writes_at(
    conn: &mut Mysql,
    epoch: u64,
    timeout: Duration,
) -> Result<u64, FenceError> {
    bounded("allowing writes", timeout, async {
        acquire(conn, timeout / 2, false).await?;
        let result = allow_locked(conn, epoch).await;
        release(conn).await;
        result
    })
    .await
}

/// The stored fencing epoch (0 when the table or row does not exist); no lock taken.
pub async fn stored_epoch(conn: &mut Mysql) -> Result<u64, FenceError> {
    let sql = "SELECT epoch FROM mmm.fence WHERE id = 1";
    match conn.first_value(sql, Operation::FenceTable).await {
        Ok(None) => Ok(0),
        Ok(Some(v)) => v.trim().parse().map_err(|_| FenceError::Mysql {
            step: "reading the fencing epoch",
            source: MysqlError::UnexpectedReply(format!("mmm.fence.epoch = {v:?}")),
        }),
        Err(MysqlError::Server {
            code: 1146 | 1049, ..
        }) => Ok(0),
        Err(e) => Err(step("reading the fencing epoch")(e)),
    }
}

async fn bounded<T>(
    what: &'static str,
    after: Duration,
    fut: impl Future<Output = Result<T, FenceError>>,
) -> Result<T, FenceError> {
    tokio::time::timeout(after, fut)
        .await
        .unwrap_or(Err(FenceError::Timeout { what, after }))
}

async fn fence_locked(
    conn: &mut Mysql,
    epoch: u64,
    fenced_by: &str,
) -> Result<FenceReport, FenceError> {
    store_epoch(conn, epoch, fenced_by).await?;
    let own = conn
        .connection_id()
        .await
        .map_err(step("reading our connection id"))?;
    let mut killed = kill_clients(conn, own).await?;
    conn.set_read_only(true)
        .await
        .map_err(step("setting read_only=1"))?;
    killed += kill_clients(conn, own).await?;
    expect_read_only(conn, true).await?;
    let epoch = stored_epoch(conn).await?;
    Ok(FenceReport { epoch, killed })
}

async fn allow_locked(conn: &mut Mysql, epoch: u64) -> Result<u64, FenceError> {
    let stored = stored_epoch(conn).await?;
    if epoch <= stored {
        return Err(FenceError::Fenced { stored, epoch });
    }
    conn.set_read_only(false)
        .await
        .map_err(step("setting read_only=0"))?;
    expect_read_only(conn, false).await?;
    Ok(stored)
}

async fn expect_read_only(conn: &mut Mysql, wanted: bool) -> Result<(), FenceError> {
    let found = conn
        .read_only()
        .await
        .map_err(step("reading read_only back"))?;
    if found != wanted {
        return Err(FenceError::ReadBack {
            wanted: wanted.into(),
            found: found.into(),
        });
    }
    Ok(())
}

/// Creates the table when needed and raises the stored epoch, outside the binary log. Where
/// `super_read_only` is on (MySQL), it is lifted for the write only; `read_only` stays on.
async fn store_epoch(conn: &mut Mysql, epoch: u64, fenced_by: &str) -> Result<(), FenceError> {
    conn.execute("SET SESSION sql_log_bin = 0", Operation::SkipBinlog)
        .await
        .map_err(step("turning the binary log off for this session"))?;
    let lift = conn.info().has_super_read_only() && super_read_only(conn).await?;
    if lift {
        let sql = "SET GLOBAL super_read_only = 0";
        conn.execute(sql, Operation::SetReadOnly)
            .await
            .map_err(step("lifting super_read_only for the fence write"))?;
    }
    let written = write_epoch(conn, epoch, fenced_by).await;
    if lift {
        let sql = "SET GLOBAL super_read_only = 1";
        conn.execute(sql, Operation::SetReadOnly)
            .await
            .map_err(step("restoring super_read_only"))?;
    }
    written
}

async fn super_read_only(conn: &mut Mysql) -> Result<bool, FenceError> {
    let v = conn
        .first_value("SELECT @@GLOBAL.super_read_only", Operation::Query)
        .await
        .map_err(step("reading super_read_only"))?;
    Ok(v.is_some_and(|v| v.trim() != "0"))
}

async fn write_epoch(conn: &mut Mysql, epoch: u64, fenced_by: &str) -> Result<(), FenceError> {
    let by = crate::conn::quote(fenced_by);
    let statements = [
        "CREATE DATABASE IF NOT EXISTS mmm".to_string(),
        CREATE_TABLE.to_string(),
        format!(
            "INSERT INTO mmm.fence (id, epoch, fenced_by, at) VALUES (1, {epoch}, {by}, NOW(6)) \
             ON DUPLICATE KEY UPDATE \
             fenced_by = IF(VALUES(epoch) >= epoch, VALUES(fenced_by), fenced_by), \
             at = IF(VALUES(epoch) >= epoch, VALUES(at), at), \
             epoch = GREATEST(epoch, VALUES(epoch))"
        ),
    ];
    for sql in &statements {
        conn.execute(sql, Operation::FenceTable)
            .await
            .map_err(step("storing the fencing epoch in mmm.fence"))?;
    }
    Ok(())
}

/// Ends every client session (mysql-mmm's last kill round: writing statements too).
async fn kill_clients(conn: &mut Mysql, own: u64) -> Result<usize, FenceError> {
    let rows = conn
        .processlist()
        .await
        .map_err(step("listing client sessions"))?;
    let round = select_kills(&rows, own, true);
    for id in &round.kill {
        conn.kill(*id)
            .await
            .map_err(step("killing client sessions"))?;
    }
    Ok(round.kill.len())
}

/// Takes the lock within `wait`. When `steal`, a holder still there after half the wait has
/// its connection killed (a frozen agent between reading the epoch and allowing writes must not
/// block a fence; killing it means its pending statement never runs).
async fn acquire(conn: &mut Mysql, wait: Duration, steal: bool) -> Result<(), FenceError> {
    let first = if steal { wait / 2 } else { wait };
    if get_lock(conn, first).await? {
        return Ok(());
    }
    let holder = lock_holder(conn).await?;
    if steal && let Some(id) = holder {
        tracing::warn!(
            holder = id,
            "killing the session that holds lock '{LOCK_NAME}'"
        );
        conn.kill(id)
            .await
            .map_err(step("killing the holder of the fence lock"))?;
        if get_lock(conn, wait - first).await? {
            return Ok(());
        }
    }
    Err(FenceError::Locked {
        after: wait,
        holder: holder.map_or_else(|| "unknown".into(), |id| id.to_string()),
    })
}

async fn get_lock(conn: &mut Mysql, wait: Duration) -> Result<bool, FenceError> {
    let sql = format!("SELECT GET_LOCK('{LOCK_NAME}', {:.3})", wait.as_secs_f64());
    let limit = wait + conn.query_timeout();
    let rows = conn
        .rows_within(&sql, Operation::Query, limit)
        .await
        .map_err(step("taking lock 'mmm.fence'"))?;
    let v = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(|(_, v)| v);
    Ok(v.as_deref().map(str::trim) == Some("1"))
}

async fn lock_holder(conn: &mut Mysql) -> Result<Option<u64>, FenceError> {
    let sql = format!("SELECT IS_USED_LOCK('{LOCK_NAME}')");
    let v = conn
        .first_value(&sql, Operation::Query)
        .await
        .map_err(step("asking who holds lock 'mmm.fence'"))?;
    Ok(v.and_then(|v| v.trim().parse().ok()))
}

/// Frees the lock; a failure only costs the lock until the connection closes.
async fn release(conn: &mut Mysql) {
    let sql = format!("SELECT RELEASE_LOCK('{LOCK_NAME}')");
    if let Err(e) = conn.rows(&sql, Operation::Query).await {
        tracing::warn!(error = %e, "releasing lock '{LOCK_NAME}' failed; it ends with the connection");
    }
}
