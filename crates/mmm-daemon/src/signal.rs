//! Waiting for the signals that stop a daemon.

use crate::fatal;

/// Returns when SIGTERM or SIGINT arrives, after logging mysql-mmm's
/// `Signal received: exiting...`. If the handlers can't be installed it logs FATAL and
/// never returns (the daemon keeps running rather than stopping at once).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        _ => {
            fatal!("Couldn't install signal handlers");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("Signal received: exiting...");
}
