//! The agent's MySQL actions: deny/allow writes, catch up before taking writes, follow a new
//! master (`repoint`), and read the server's status. Every call is bounded by the connection
//! timeouts.

use std::net::IpAddr;
use std::time::Duration;

use mmm_core::config::{Config, HostConfig};
use mmm_mysql::{
    ConnectOpts, Flavour, KnownVersions, MasterStatus, Mysql, MysqlError, ServerInfo, SlaveStatus,
    WaitOutcome, gtid_without_server, timer::Scheduler,
};

use mmm_mysql::kill::select_kills;

mod repoint;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// How long the agent's catch-ups and kill rounds took, for `/metrics`: every attempt,
/// failed or not, in seconds. Clones share the same histograms.
#[derive(Debug, Clone)]
pub struct Timings {
    /// `sync_with_master`: waiting until the local server applied what it must have before
    /// taking writes.
    pub catch_up: Histogram,
    /// `deny_write`: read_only=1 and the rounds of session kills after it.
    pub kill_round: Histogram,
}

impl Default for Timings {
    fn default() -> Self {
        // 1 ms to about 32 s, doubling: a catch-up is bounded by catchup_timeout.
        let buckets = || Histogram::new(exponential_buckets(0.001, 2.0, 16));
        Timings {
            catch_up: buckets(),
            kill_round: buckets(),
        }
    }
}

async fn timed<T>(into: &Histogram, step: impl std::future::Future<Output = T>) -> T {
    let t0 = std::time::Instant::now();
    let out = step.await;
    into.observe(t0.elapsed().as_secs_f64());
    out
}

/// Why an agent MySQL action failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server refused or did not answer.
    #[error(transparent)]
    Mysql(#[from] MysqlError),
    /// The configuration lacks what the action needs.
    #[error("{0}")]
    Config(String),
    /// Replication did not reach its target in time.
    #[error("{0}")]
    CatchUp(String),
    /// The server is not in the state the action expects.
    #[error("{0}")]
    State(String),
    /// The server's stored fencing epoch refused writes, or the fence lock was not free.
    #[error(transparent)]
    Fence(#[from] mmm_mysql::fence::FenceError),
}

/// What GET_SYSTEM_STATUS reports about MySQL.
#[derive(Debug, Clone, Default)]
pub struct MysqlState {
    /// Server version and flavour.
    pub info: Option<ServerInfo>,
    /// read_only = 0.
    pub writable: bool,
    /// Replication, when this server is a slave.
    pub slave: Option<SlaveStatus>,
    /// Binlog and GTID position.
    pub master: MasterStatus,
}

/// MySQL access of the agent for its own host and, read-only, its peer.
#[derive(Debug, Clone)]
pub struct Db {
    hosts: Vec<HostConfig>,
    me: HostConfig,
    user: String,
    password: String,
    timeout: Duration,
    catchup_timeout: Duration,
    max_kill_retries: u32,
    use_gtid: bool,
    kill_pause: Duration,
    timings: Timings,
    /// The servers' `VERSION()` answers, shared by the clones: a connection to a server
    /// already asked runs no statement before the caller's.
    known: KnownVersions,
}

impl Db {
    /// Builds the backend for host `me` of `cfg` with per-call `timeout`.
    pub fn new(cfg: &Config, me: &HostConfig, timeout: Duration) -> Result<Db, DbError> {
        let user = me
            .agent_user
            .clone()
            .ok_or_else(|| DbError::Config(format!("host '{}' has no agent_user", me.name)))?;
        Ok(Db {
            hosts: cfg.hosts.clone(),
            me: me.clone(),
            user,
            password: me.agent_password.clone().unwrap_or_default(),
            timeout,
            catchup_timeout: cfg.catchup_timeout,
            max_kill_retries: cfg.max_kill_retries,
            use_gtid: cfg.use_gtid,
            kill_pause: Duration::from_secs(1),
            timings: Timings::default(),
            known: KnownVersions::default(),
        })
    }

    fn opts(&self, host: &HostConfig) -> ConnectOpts {
        ConnectOpts::tcp(
            host.ip.to_string(),
            host.mysql_port,
            self.user.clone(),
            self.password.clone(),
            self.timeout,
        )
    }

    /// The durations this backend (and its clones) recorded.
    pub fn timings(&self) -> Timings {
        self.timings.clone()
    }

    async fn local(&self) -> Result<Mysql, DbError> {
        self.connect(&self.me).await
    }

    /// A new connection to `host` as the agent user.
    async fn connect(&self, host: &HostConfig) -> Result<Mysql, DbError> {
        Ok(mmm_mysql::connect_known(&self.opts(host), &self.known).await?)
    }

    fn host_by_ip(&self, ip: &str) -> Option<&HostConfig> {
        let parsed: Option<IpAddr> = ip.parse().ok();
        self.hosts
            .iter()
            .find(|h| Some(h.ip) == parsed || h.name == ip)
    }

    fn host(&self, name: &str) -> Result<&HostConfig, DbError> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| DbError::Config(format!("unknown host '{name}'")))
    }

    /// `read_only` of the local server.
    pub async fn read_only(&self) -> Result<bool, DbError> {
        let mut c = self.local().await?;
        let ro = c.read_only().await?;
        c.close().await;
        Ok(ro)
    }

    /// The local server's replication status (`None`: not a slave).
    pub async fn slave_status(&self) -> Result<Option<SlaveStatus>, DbError> {
        let mut c = self.local().await?;
        let slave = c.slave_status().await?;
        c.close().await;
        Ok(slave)
    }

    /// Everything GET_SYSTEM_STATUS needs from MySQL.
    pub async fn state(&self) -> Result<MysqlState, DbError> {
        let mut c = self.local().await?;
        let state = MysqlState {
            info: Some(c.info().clone()),
            writable: !c.read_only().await?,
            slave: c.slave_status().await?,
            master: c.master_status().await?,
        };
        c.close().await;
        Ok(state)
    }

    /// mysql-mmm's `mysql_deny_write`: read_only=1 (super_read_only on MySQL ≥5.7), then kill
    /// client sessions in rounds, sparing writing statements while rounds remain, then verify.
    /// Setting read_only waits for running writes; when that takes longer than the statement
    /// timeout, every client session is killed from a second connection first (new writes
    /// already queue behind the pending read_only), then read_only is set again.
    /// Returns the number of sessions killed.
    pub async fn deny_write(&self) -> Result<usize, DbError> {
        timed(&self.timings.kill_round, self.deny_write_untimed()).await
    }

    async fn deny_write_untimed(&self) -> Result<usize, DbError> {
        let mut c = self.local().await?;
        let first = c.connection_id().await?;
        let mut killed = 0;
        let mut c = match c.set_read_only(true).await {
            Ok(()) => c,
            Err(MysqlError::Timeout { .. }) => {
                tracing::warn!(
                    "Setting read_only=1 is blocked by running writes; killing client sessions first"
                );
                let mut k = self.local().await?;
                let own = k.connection_id().await?;
                let rows = k.processlist().await?;
                let rows: Vec<_> = rows.into_iter().filter(|r| r.id != first).collect();
                for id in select_kills(&rows, own, true).kill {
                    k.kill(id).await?;
                    killed += 1;
                }
                k.set_read_only(true).await?;
                k
            }
            Err(e) => return Err(e.into()),
        };
        let own = c.connection_id().await?;
        for round in 0..=self.max_kill_retries {
            let last = round == self.max_kill_retries;
            let rows = c.processlist().await?;
            let rows: Vec<_> = rows.into_iter().filter(|r| r.id != first).collect();
            let sel = select_kills(&rows, own, last);
            for id in &sel.kill {
                c.kill(*id).await?;
                killed += 1;
            }
            if sel.spared.is_empty() {
                break;
            }
            tracing::debug!(round, spared = ?sel.spared, "sparing writing statements");
            tokio::time::sleep(self.kill_pause).await;
        }
        if !c.read_only().await? {
            return Err(DbError::State(
                "read_only is still 0 after setting it".into(),
            ));
        }
        c.close().await;
        Ok(killed)
    }

    /// mysql-mmm's `mysql_allow_write`, guarded by the server's stored fencing epoch: under
    /// `GET_LOCK('mmm.fence')` read_only=0 only when `epoch` is above the epoch a leader fenced
    /// this server at (`mmm_mysql::fence::allow_writes_at`), then verify.
    pub async fn allow_write(&self, epoch: u64) -> Result<(), DbError> {
        let mut c = self.local().await?;
        mmm_mysql::fence::allow_writes_at(&mut c, epoch, self.timeout).await?;
        if c.read_only().await? {
            return Err(DbError::State(
                "read_only is still 1 after clearing it".into(),
            ));
        }
        c.close().await;
        Ok(())
    }

    /// Creates the lease timer event unless it exists and reads the event scheduler's state.
    pub async fn prepare_lease_timer(&self) -> Result<Scheduler, DbError> {
        let mut c = self.local().await?;
        c.create_lease_timer().await?;
        let s = c.event_scheduler().await?;
        c.close().await;
        Ok(s)
    }

    /// Moves the server's lease timer to `remaining` from the server's now; returns the event
    /// scheduler's state read right after.
    pub async fn arm_lease_timer(&self, remaining: Duration) -> Result<Scheduler, DbError> {
        let mut c = self.local().await?;
        let scheduler = c.arm_lease_timer(remaining).await?;
        c.close().await;
        Ok(scheduler)
    }

    /// Disables the server's lease timer.
    pub async fn disarm_lease_timer(&self) -> Result<(), DbError> {
        let mut c = self.local().await?;
        c.disarm_lease_timer().await?;
        c.close().await;
        Ok(())
    }

    /// START SLAVE (leaving ADMIN_OFFLINE).
    pub async fn start_slave(&self) -> Result<(), DbError> {
        let mut c = self.local().await?;
        if c.slave_status().await?.is_some() {
            c.start_slave().await?;
        }
        c.close().await;
        Ok(())
    }

    /// STOP SLAVE (entering ADMIN_OFFLINE).
    pub async fn stop_slave(&self) -> Result<(), DbError> {
        let mut c = self.local().await?;
        if c.slave_status().await?.is_some() {
            c.stop_slave().await?;
        }
        c.close().await;
        Ok(())
    }

    /// The master status of another host, or `None` when it cannot be reached.
    async fn remote_master_status(&self, host: &HostConfig) -> Option<(MasterStatus, bool)> {
        let mut c = match self.connect(host).await {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(host = %host.name, error = %e, "host not reachable for catch-up");
                return None;
            }
        };
        let status = c.master_status().await.ok()?;
        let gtid = c.gtid_enabled().await.unwrap_or(false);
        c.close().await;
        Some((status, gtid))
    }

    /// Waits, bounded by `catchup_timeout`, until the local server applied what it must have
    /// before taking writes (mysql-mmm's `sync_with_master`, with a timeout and GTID support).
    pub async fn sync_with_master(&self) -> Result<String, DbError> {
        timed(&self.timings.catch_up, self.sync_with_master_untimed()).await
    }

    async fn sync_with_master_untimed(&self) -> Result<String, DbError> {
        let mut c = self.local().await?;
        let Some(slave) = c.slave_status().await? else {
            c.close().await;
            return Ok("not a slave, nothing to catch up".into());
        };
        let peer = match &self.me.peer {
            Some(p) => Some(self.host(p)?.clone()),
            None => None,
        };
        let reachable = match &peer {
            Some(p) => self.remote_master_status(p).await.map(|s| (p.clone(), s)),
            None => None,
        };
        let outcome = match reachable {
            Some((p, (status, peer_gtid)))
                if self.host_by_ip(&slave.master_host).map(|h| &h.name) == Some(&p.name) =>
            {
                self.wait_for_master(&mut c, &slave, &status, peer_gtid)
                    .await?
            }
            _ => {
                let what = format!(
                    "own relay log {}:{}",
                    slave.master_log_file, slave.read_master_log_pos
                );
                let o = c
                    .wait_for_position(
                        &slave.master_log_file,
                        slave.read_master_log_pos,
                        self.catchup_timeout,
                    )
                    .await?;
                (o, what)
            }
        };
        c.close().await;
        match outcome {
            (WaitOutcome::Reached, what) => Ok(format!("caught up with {what}")),
            (WaitOutcome::NotReplicating, what) => {
                // The SQL thread is stopped: acceptable only when everything received is applied.
                if slave.relay_log_applied() {
                    tracing::warn!(
                        "Replication SQL thread is not running; relay log is fully applied, not waiting for {what}"
                    );
                    Ok(format!(
                        "SQL thread not running, relay log applied ({what} not awaited)"
                    ))
                } else {
                    Err(DbError::CatchUp(format!(
                        "replication SQL thread is not running and the relay log is not applied (executed {}:{}, received {}:{})",
                        slave.relay_master_log_file,
                        slave.exec_master_log_pos,
                        slave.master_log_file,
                        slave.read_master_log_pos
                    )))
                }
            }
            (WaitOutcome::TimedOut, what) => Err(DbError::CatchUp(format!(
                "did not reach {what} within {:?}",
                self.catchup_timeout
            ))),
        }
    }

    async fn wait_for_master(
        &self,
        c: &mut Mysql,
        slave: &SlaveStatus,
        master: &MasterStatus,
        master_gtid: bool,
    ) -> Result<(WaitOutcome, String), DbError> {
        let use_gtid = self.use_gtid && slave.using_gtid && master_gtid;
        if use_gtid {
            let target = match c.info().flavour {
                Flavour::Mariadb => {
                    let own = c.server_id().await?;
                    gtid_without_server(&master.gtid_binlog_pos, own)
                }
                Flavour::Mysql => master.gtid_executed.clone(),
            };
            let o = c.wait_for_gtid(&target, self.catchup_timeout).await?;
            return Ok((o, gtid_target_text(&target)));
        }
        let o = c
            .wait_for_position(&master.file, master.position, self.catchup_timeout)
            .await?;
        Ok((
            o,
            format!("master binlog {}:{}", master.file, master.position),
        ))
    }
}

/// How a GTID catch-up target reads in `caught up with …` lines. An empty target means the
/// master's binary log holds nothing from other servers, so there was nothing to wait for;
/// the line says so rather than ending in a blank.
fn gtid_target_text(target: &str) -> String {
    if target.is_empty() {
        "master GTID (none to wait for: the master's binary log holds no transactions from other servers)"
            .to_owned()
    } else {
        format!("master GTID {target}")
    }
}

#[cfg(test)]
mod tests {
    use super::gtid_target_text;

    #[test]
    fn gtid_target_text_never_ends_blank() {
        assert_eq!(gtid_target_text("0-1-42"), "master GTID 0-1-42");
        let empty = gtid_target_text("");
        assert!(
            empty.starts_with("master GTID (none to wait for"),
            "{empty}"
        );
    }
}
