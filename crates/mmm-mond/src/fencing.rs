//! The leader's own fencing I/O: fence a host's MySQL over SQL with the hosts' `agent_user`
//! credentials (`mmm_mysql::fence`), and run mysql-mmm's `kill_host_bin` hook. Both are bounded
//! by a timeout and answered as one event each ([`Event::MysqlFenced`], [`Event::HostKilled`]).
//!
//! [`Event::MysqlFenced`]: mmm_core::leader::Event::MysqlFenced
//! [`Event::HostKilled`]: mmm_core::leader::Event::HostKilled

use std::path::Path;
use std::time::Duration;

use mmm_core::config::Config;
use mmm_core::leader::{KillOutcome, SqlFenced};
use mmm_mysql::ConnectOpts;
use mmm_mysql::fence::fence_server;

/// Fences `host`'s MySQL at `epoch`; the whole call (connect included) takes at most `timeout`.
pub async fn fence_mysql(
    config: &Config,
    host: &str,
    epoch: u64,
    fenced_by: &str,
    timeout: Duration,
) -> Result<SqlFenced, String> {
    let hc = config
        .hosts
        .iter()
        .find(|h| h.name == host)
        .ok_or_else(|| format!("unknown host '{host}'"))?;
    let user = hc
        .agent_user
        .clone()
        .ok_or_else(|| format!("host '{host}' has no agent_user to fence it with"))?;
    let password = hc.agent_password.clone().unwrap_or_default();
    let opts = ConnectOpts::tcp(hc.ip.to_string(), hc.mysql_port, user, password, timeout);
    let started = tokio::time::Instant::now();
    let fenced = tokio::time::timeout(timeout, async {
        let mut conn = mmm_mysql::connect(&opts).await.map_err(|e| e.to_string())?;
        let left = timeout.saturating_sub(started.elapsed());
        let report = fence_server(&mut conn, epoch, fenced_by, left).await;
        if report.is_ok() {
            conn.close().await;
        }
        report.map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|_| Err(format!("fencing did not finish within {timeout:?}")))?;
    tracing::info!(
        host,
        epoch = fenced.epoch,
        killed = fenced.killed,
        "fenced over SQL"
    );
    Ok(SqlFenced {
        epoch: fenced.epoch,
        killed: fenced.killed,
    })
}

/// Runs `bin HOST PING` (PING 1 when the host answers ping), killed after `timeout`.
pub async fn kill_host(bin: &Path, host: &str, ping_ok: bool, timeout: Duration) -> KillOutcome {
    let ping = if ping_ok { "1" } else { "0" };
    crate::hooks::run_command(bin, &[host, ping], &[], timeout).await
}
