//! Runs one check of a given kind against one host.

use mmm_core::checks::CheckKind;
use mmm_core::config::CheckConfig;

use super::mysql_check::check_mysql_known;
use super::ping::check_ping;
use super::replication::KeptConnection;
use super::target::CheckTarget;

/// The raw result line of check `kind` on `target` with that check's settings. Every
/// kind is bounded in time: 0.5 s for ping, `timeout` + 1 s for the MySQL checks. The
/// replication checks run on `kept`, the connection the caller's loop keeps for them; the
/// `mysql` check opens a new one each time, with the versions `kept` knows.
pub async fn run_check(
    kind: CheckKind,
    target: &CheckTarget,
    config: &CheckConfig,
    kept: &mut KeptConnection,
) -> String {
    match kind {
        CheckKind::Ping => check_ping(target.ip, target.agent_port).await,
        CheckKind::Mysql => check_mysql_known(target, config.timeout, kept.known()).await,
        CheckKind::RepThreads => kept.rep_threads(target, config.timeout).await,
        CheckKind::RepBacklog => {
            kept.rep_backlog(target, config.timeout, config.max_backlog)
                .await
        }
    }
}
