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
        if let Some(s) = &slave {
            self.catch_up_with_old_master(&mut c, s).await?;
        }
        let (repl_user, repl_password) = (
            new.replication_user.clone().ok_or_else(|| {
                DbError::Config(format!("host '{}' has no replication_user", new.name))
            })?,
            new.replication_password.clone().unwrap_or_default(),
        );
        let mut new_conn = mmm_mysql::connect(&self.opts(&new))
            .await
            .map_err(|e| DbError::State(format!("new master '{}' not reachable: {e}", new.name)))?;
        let gtid = self.use_gtid
            && new_conn.gtid_enabled().await?
            && c.gtid_enabled().await?
            && new_conn.info().flavour == c.info().flavour;
        self.await_new_master(&mut c, &mut new_conn, &new.name, gtid)
            .await?;
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
        Ok(match position {
            ChangeMasterPosition::Gtid => format!("OK: now replicating from '{new_name}' (GTID)"),
            ChangeMasterPosition::Binlog { file, position } => {
                format!("OK: now replicating from '{new_name}' at {file}:{position}")
            }
        })
    }

    /// Waits (bounded) for what this slave already received, or what the old master wrote
    /// when it still answers, to be applied.
    async fn catch_up_with_old_master(
        &self,
        c: &mut Mysql,
        s: &SlaveStatus,
    ) -> Result<(), DbError> {
        let old = self.host_by_ip(&s.master_host).cloned();
        let target = match &old {
            Some(o) => self.remote_master_status(o).await.map(|(m, _)| m),
            None => None,
        };
        let (file, pos) = match &target {
            Some(m) => (m.file.clone(), m.position),
            None => (s.master_log_file.clone(), s.read_master_log_pos),
        };
        if file.is_empty() {
            return Ok(());
        }
        match c
            .wait_for_position(&file, pos, self.catchup_timeout)
            .await?
        {
            WaitOutcome::Reached => {}
            other => tracing::warn!(
                "Catch-up to {file}:{pos} before changing master ended with {other:?}"
            ),
        }
        Ok(())
    }

    /// Waits, bounded by `catchup_timeout`, until the new master has what this slave has:
    /// with MariaDB GTIDs its position covers this slave's `gtid_slave_pos`; with binlog
    /// coordinates it has applied its own relay log (its binlog position then follows what
    /// it received). MySQL's auto-positioning needs no wait: it sends what the slave lacks.
    async fn await_new_master(
        &self,
        local: &mut Mysql,
        new: &mut Mysql,
        name: &str,
        gtid: bool,
    ) -> Result<(), DbError> {
        if gtid && local.info().flavour == Flavour::Mysql {
            return Ok(());
        }
        let own = if gtid {
            local
                .first_value("SELECT @@GLOBAL.gtid_slave_pos", Operation::Query)
                .await?
                .unwrap_or_default()
        } else {
            String::new()
        };
        let deadline = tokio::time::Instant::now() + self.catchup_timeout;
        let mut logged = false;
        loop {
            let Some(lacking) = new_master_lacks(new, gtid, &own).await? else {
                if logged {
                    tracing::info!("New master '{name}' has caught up with this slave");
                }
                return Ok(());
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(DbError::CatchUp(format!(
                    "new master '{name}' has not applied {lacking} within {:?}; not following it yet",
                    self.catchup_timeout
                )));
            }
            if !logged {
                tracing::info!("Waiting for new master '{name}' to apply {lacking}");
                logged = true;
            }
            tokio::time::sleep(NEW_MASTER_POLL).await;
        }
    }
}

/// What the new master still lacks, in words, or `None` once it has everything needed.
async fn new_master_lacks(
    new: &mut Mysql,
    gtid: bool,
    own_slave_pos: &str,
) -> Result<Option<String>, DbError> {
    if gtid {
        let have = new
            .first_value("SELECT @@GLOBAL.gtid_current_pos", Operation::Query)
            .await?
            .unwrap_or_default();
        let missing = mmm_mysql::gtid_not_covered(&have, own_slave_pos);
        return Ok((!missing.is_empty()).then(|| {
            format!(
                "GTID {} that this slave has (its position: {})",
                missing.join(","),
                if have.is_empty() { "empty" } else { &have }
            )
        }));
    }
    Ok(new.slave_status().await?.and_then(|s| {
        let applied = s.relay_master_log_file == s.master_log_file
            && s.exec_master_log_pos >= s.read_master_log_pos;
        (!applied).then(|| {
            format!(
                "its relay log (executed {}:{}, received {}:{})",
                s.relay_master_log_file,
                s.exec_master_log_pos,
                s.master_log_file,
                s.read_master_log_pos
            )
        })
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
