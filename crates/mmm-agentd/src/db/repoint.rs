//! A slave follows a new active master (mysql-mmm's `set_active_master`): catch up with the
//! old master, wait until the new master has what this slave has applied, then point at it.

use std::time::Duration;

use mmm_core::config::HostConfig;
use mmm_mysql::{ChangeMasterPosition, Flavour, Mysql, Operation, SlaveStatus, WaitOutcome};

use super::{Db, DbError};

/// How often the new master's position is read while waiting for it.
const NEW_MASTER_POLL: Duration = Duration::from_millis(20);

impl Db {
    /// mysql-mmm's `set_active_master NEW` for a slave: catch up (bounded), wait (bounded)
    /// until NEW has what this slave has applied, stop, point at NEW (GTID auto-positioning
    /// when possible, else NEW's current binlog coordinates), start. Pointing at a master
    /// that lacks a transaction this slave applied breaks replication for good (MariaDB
    /// refuses the GTID, error 1236; binlog coordinates skip or repeat events), and a new
    /// writer is still applying its relay log when the failover that promoted it begins.
    pub async fn set_active_master(&self, new_name: &str) -> Result<String, DbError> {
        let new = self.host(new_name)?.clone();
        let mut c = self.local().await?;
        let slave = c.slave_status().await?;
        if let Some(s) = &slave
            && self.host_by_ip(&s.master_host).map(|h| h.name.as_str()) == Some(new_name)
        {
            c.close().await;
            return Ok("OK: We are already a slave of the new master".into());
        }
        let old_answers = match &slave {
            Some(s) => self.catch_up_with_old_master(&mut c, s).await?,
            None => false,
        };
        let (repl_user, repl_password) = (
            new.replication_user.clone().ok_or_else(|| {
                DbError::Config(format!("host '{}' has no replication_user", new.name))
            })?,
            new.replication_password.clone().unwrap_or_default(),
        );
        let mut new_conn = self
            .connect(&new)
            .await
            .map_err(|e| DbError::State(format!("new master '{}' not reachable: {e}", new.name)))?;
        let gtid = self.use_gtid
            && new_conn.gtid_enabled().await?
            && c.gtid_enabled().await?
            && new_conn.info().flavour == c.info().flavour;
        let how = NewMaster {
            name: &new.name,
            gtid,
            old_answers,
        };
        let lost = self.await_new_master(&mut c, &mut new_conn, &how).await?;
        if slave.is_some() {
            c.stop_slave().await?;
        }
        let position = position_on(&mut new_conn, &new, gtid).await?;
        new_conn.close().await;
        c.change_master(
            &new.ip.to_string(),
            new.mysql_port,
            &repl_user,
            &repl_password,
            &position,
        )
        .await?;
        c.start_slave().await?;
        c.close().await;
        let ok = match position {
            ChangeMasterPosition::Gtid => format!("OK: now replicating from '{new_name}' (GTID)"),
            ChangeMasterPosition::Binlog { file, position } => {
                format!("OK: now replicating from '{new_name}' at {file}:{position}")
            }
        };
        Ok(match lost {
            None => ok,
            Some(what) => format!("{ok}, although it lacks {what}"),
        })
    }

    /// Waits (bounded) for what this slave already received, or what the old master wrote
    /// when it still answers, to be applied. Returns whether the old master answered.
    async fn catch_up_with_old_master(
        &self,
        c: &mut Mysql,
        s: &SlaveStatus,
    ) -> Result<bool, DbError> {
        let old = self.host_by_ip(&s.master_host).cloned();
        let target = match &old {
            Some(o) => self.remote_master_status(o).await.map(|(m, _)| m),
            None => None,
        };
        let (file, pos) = match &target {
            Some(m) => (m.file.clone(), m.position),
            None => (s.master_log_file.clone(), s.read_master_log_pos),
        };
        if !file.is_empty() {
            match c
                .wait_for_position(&file, pos, self.catchup_timeout)
                .await?
            {
                WaitOutcome::Reached => {}
                other => tracing::warn!(
                    "Catch-up to {file}:{pos} before changing master ended with {other:?}"
                ),
            }
        }
        Ok(target.is_some())
    }

    /// Waits, bounded by `catchup_timeout`, until the new master has what this slave has:
    /// with MariaDB GTIDs its position covers this slave's `gtid_slave_pos`; with binlog
    /// coordinates it has applied its own relay log (its binlog position then follows what
    /// it received). MySQL's auto-positioning needs no wait: it sends what the slave lacks.
    /// A new master that lacks GTIDs of this slave, has applied all it received and cannot
    /// receive more (the old master is down) never gets them: the transactions reached only
    /// this slave. Waiting would not help, and staying on the dead master would leave this
    /// slave serving reads that never change again while its checks pass (`Connecting` counts
    /// as running), so it follows at once and says what the new master lacks. Where the new
    /// master has later transactions of the same domain MariaDB refuses the position (error
    /// 1236), the host goes REPLICATION_FAIL and loses its reader roles; otherwise the slave
    /// replicates on and keeps its extra transactions. Returns what the new master lacks then.
    async fn await_new_master(
        &self,
        local: &mut Mysql,
        new: &mut Mysql,
        how: &NewMaster<'_>,
    ) -> Result<Option<String>, DbError> {
        if how.gtid && local.info().flavour == Flavour::Mysql {
            return Ok(None);
        }
        let own = if how.gtid {
            local
                .first_value("SELECT @@GLOBAL.gtid_slave_pos", Operation::Query)
                .await?
                .unwrap_or_default()
        } else {
            String::new()
        };
        let name = how.name;
        let deadline = tokio::time::Instant::now() + self.catchup_timeout;
        let mut logged = false;
        loop {
            let Some(lacking) = new_master_lacks(new, how.gtid, &own).await? else {
                if logged {
                    tracing::info!("New master '{name}' has caught up with this slave");
                }
                return Ok(None);
            };
            if how.gtid && !how.old_answers && applied_all(new).await? {
                mmm_daemon::fatal!(
                    "New master '{name}' lacks {} and has nothing left to apply while the old \
                     master is down: those transactions reached only this slave, which keeps \
                     them; following '{name}' all the same (MariaDB stops with error 1236 \
                     when '{name}' has later transactions of the same domain; an operator \
                     repairs it)",
                    lacking.detail
                );
                return Ok(Some(lacking.what));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DbError::CatchUp(format!(
                    "new master '{name}' has not applied {} within {:?}; not following it yet",
                    lacking.what, self.catchup_timeout
                )));
            }
            if !logged {
                tracing::info!(
                    "Waiting for new master '{name}' to apply {}",
                    lacking.detail
                );
                logged = true;
            }
            tokio::time::sleep(NEW_MASTER_POLL).await;
        }
    }
}

/// The new master a slave is about to follow.
struct NewMaster<'a> {
    name: &'a str,
    /// GTID auto-positioning will be used.
    gtid: bool,
    /// The old master answered during the catch-up, so the new master may still receive.
    old_answers: bool,
}

/// What the new master lacks: `what` stays the same while it lacks the same transactions
/// (the leader logs each distinct error once), `detail` adds its current position.
struct Lacking {
    what: String,
    detail: String,
}

/// The new master has applied everything it received (or is not a slave at all).
async fn applied_all(new: &mut Mysql) -> Result<bool, DbError> {
    Ok(new
        .slave_status()
        .await?
        .is_none_or(|s| s.relay_log_applied()))
}

/// What the new master still lacks, or `None` once it has everything needed.
async fn new_master_lacks(
    new: &mut Mysql,
    gtid: bool,
    own_slave_pos: &str,
) -> Result<Option<Lacking>, DbError> {
    if gtid {
        let have = new
            .first_value("SELECT @@GLOBAL.gtid_current_pos", Operation::Query)
            .await?
            .unwrap_or_default();
        let missing = mmm_mysql::gtid_not_covered(&have, own_slave_pos);
        return Ok((!missing.is_empty()).then(|| {
            let what = format!("GTID {}", missing.join(","));
            let at = if have.is_empty() { "empty" } else { &have };
            Lacking {
                detail: format!("{what} that this slave has (its position: {at})"),
                what,
            }
        }));
    }
    Ok(new
        .slave_status()
        .await?
        .filter(|s| !s.relay_log_applied())
        .map(|s| {
            let what = format!(
                "its relay log (executed {}:{}, received {}:{})",
                s.relay_master_log_file,
                s.exec_master_log_pos,
                s.master_log_file,
                s.read_master_log_pos
            );
            Lacking {
                detail: what.clone(),
                what,
            }
        }))
}

/// Where to start replicating from the new master: GTID auto-positioning, or its current
/// binlog coordinates (with a warning: events can be skipped or applied twice).
async fn position_on(
    new_conn: &mut Mysql,
    new: &HostConfig,
    gtid: bool,
) -> Result<ChangeMasterPosition, DbError> {
    if gtid {
        return Ok(ChangeMasterPosition::Gtid);
    }
    let m = new_conn.master_status().await?;
    if m.file.is_empty() {
        return Err(DbError::State(format!(
            "new master '{}' has binary logging off",
            new.name
        )));
    }
    tracing::warn!(
        "Changing master to '{}' with binlog coordinates {}:{}: without GTID, events the new master lacks or wrote at other positions can be skipped or applied twice",
        new.name,
        m.file,
        m.position
    );
    Ok(ChangeMasterPosition::Binlog {
        file: m.file,
        position: m.position,
    })
}
