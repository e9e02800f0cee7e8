//! MySQL connections for the checks (a new one per `mysql` check call, as mysql-mmm's checker
//! opens them; the replication checks keep theirs, see `replication::KeptConnection`), and the
//! wording of MySQL failures inside check messages.

use std::time::Duration;

use mmm_core::checks::{REFUSED_DETAIL, SHUTDOWN_DETAIL};
use mmm_mysql::{ConnectOpts, KnownVersions, Mysql, MysqlError};

use super::target::CheckTarget;

/// The line every MySQL check returns when it overran.
pub const TIMEOUT_LINE: &str = "ERROR: Timeout";

/// mysql-mmm's hard bound on a MySQL check: the connect timeout plus one second.
pub fn hard_bound(timeout: Duration) -> Duration {
    timeout + Duration::from_secs(1)
}

/// Runs a MySQL check, cut off with `ERROR: Timeout` at its hard bound.
pub(crate) async fn bounded(timeout: Duration, check: impl Future<Output = String>) -> String {
    bounded_or(timeout, check, || TIMEOUT_LINE.to_string()).await
}

/// Runs MySQL checks, cut off at their hard bound with what `overran` says.
pub(crate) async fn bounded_or<T>(
    timeout: Duration,
    check: impl Future<Output = T>,
    overran: impl FnOnce() -> T,
) -> T {
    tokio::time::timeout(hard_bound(timeout), check)
        .await
        .unwrap_or_else(|_elapsed| overran())
}

/// Opens a TCP connection to `target` as the monitor user: connecting may take `timeout`,
/// each statement afterwards up to the check's hard bound. `known` spares the `VERSION()`
/// question for a server already asked.
pub(crate) async fn open(
    target: &CheckTarget,
    timeout: Duration,
    known: &KnownVersions,
) -> Result<Mysql, MysqlError> {
    let mut opts = ConnectOpts::tcp(
        target.ip.to_string(),
        target.mysql_port,
        target.user.clone(),
        target.password.clone(),
        timeout,
    );
    opts.query_timeout = hard_bound(timeout);
    mmm_mysql::connect_known(&opts, known).await
}

/// Says goodbye to the server in the background (bounded inside), so the check's result
/// is not held up by a server that stopped answering.
pub(crate) fn close(conn: Mysql) {
    tokio::spawn(conn.close());
}

/// A MySQL failure in the words an operator reads after `Connect error (…)! ` and the like:
/// the server's own text, with its error number where it has one. A server that is surely
/// down (a refused connect, error 1053) gets the detail `mmm_core::checks::is_refusal`
/// recognises, so its `mysql` check fails without the trap period.
pub(crate) fn detail(err: &MysqlError) -> String {
    match err {
        MysqlError::Refused { message, .. } if message.starts_with(REFUSED_DETAIL) => {
            message.clone()
        }
        MysqlError::Refused { message, .. } => format!("{REFUSED_DETAIL}: {message}"),
        MysqlError::ServerShutdown { message } => format!("{SHUTDOWN_DETAIL}{message}"),
        MysqlError::Connect { message, .. } | MysqlError::Driver(message) => message.clone(),
        MysqlError::AccessDenied { message } => format!("ERROR 1045: {message}"),
        MysqlError::TooManyConnections { message } => format!("ERROR 1040: {message}"),
        MysqlError::ReadOnly { message } => format!("ERROR 1290: {message}"),
        MysqlError::MissingPrivilege { message, .. } => message.clone(),
        MysqlError::Server { code, message } => format!("ERROR {code}: {message}"),
        MysqlError::Timeout { .. } | MysqlError::UnexpectedReply(_) => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_keep_server_text_and_number() {
        let denied = MysqlError::AccessDenied {
            message: "Access denied for user 'x'@'127.0.0.1' (using password: YES)".into(),
        };
        assert_eq!(
            detail(&denied),
            "ERROR 1045: Access denied for user 'x'@'127.0.0.1' (using password: YES)"
        );
        let reset = MysqlError::Connect {
            addr: "127.0.0.1:1".into(),
            message: "Input/output error: Connection reset by peer (os error 104)".into(),
        };
        assert_eq!(
            detail(&reset),
            "Input/output error: Connection reset by peer (os error 104)"
        );
        let refused = |message: &str| MysqlError::Refused {
            addr: "127.0.0.1:1".into(),
            message: message.into(),
        };
        assert_eq!(
            detail(&refused("Connection refused (os error 111)")),
            "Connection refused (os error 111)"
        );
        assert_eq!(
            detail(&refused("Verbindungsaufbau abgelehnt")),
            "Connection refused: Verbindungsaufbau abgelehnt"
        );
        let shutdown = MysqlError::ServerShutdown {
            message: "Server shutdown in progress".into(),
        };
        assert_eq!(detail(&shutdown), "ERROR 1053: Server shutdown in progress");
        assert_eq!(hard_bound(Duration::from_secs(2)), Duration::from_secs(3));
    }
}
