//! The server's replication as the agent publishes it (`/metrics`, `/health`, the lag that
//! `?max_lag=` judges by), read by a task of its own once a second on every host, the writer
//! included: in a master-master pair the writer replicates from its peer, and an operator
//! watches that stream too. The driver never waits for these reads, so a hung server cannot
//! hold up a status or a lease; it only takes the latest reading, and one older than
//! [`STALE_AFTER`] is published as unknown, never as a guess.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::db::Db;

/// How often the observer reads the replication status.
const READ_EVERY: Duration = Duration::from_secs(1);

/// A reading older than this is not published: the observer's reads hang or fail.
pub(super) const STALE_AFTER: Duration = Duration::from_secs(3);

/// This server's replication as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// The master it replicates from, `host:port` as the server names it.
    pub source: String,
    /// The IO thread runs (or connects).
    pub io_running: bool,
    /// The SQL thread runs.
    pub sql_running: bool,
}

/// One reading: when it was taken, and what it found (both `None` when the server is no
/// slave or the read failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Reading {
    /// When the read ended; `None` before the first one.
    pub at: Option<Instant>,
    /// Seconds_Behind_Master (`None`: NULL, no replication, or not read).
    pub lag: Option<u64>,
    /// Source and threads (`None`: no replication, or not read).
    pub replication: Option<Replication>,
}

impl Reading {
    /// The reading as it may be published at `now`: empty once it is stale.
    pub fn fresh_at(&self, now: Instant) -> Reading {
        match self.at {
            Some(at) if now.saturating_duration_since(at) <= STALE_AFTER => self.clone(),
            _ => Reading::default(),
        }
    }
}

/// Starts the observer on its own task and returns its readings. The task ends when the
/// returned receiver (and every clone of it) is gone, even in the middle of a read.
pub(super) fn spawn(db: Db) -> watch::Receiver<Reading> {
    let (tx, rx) = watch::channel(Reading::default());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(READ_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let reading = tokio::select! {
                _ = tx.closed() => return,
                reading = async {
                    tick.tick().await;
                    read(&db).await
                } => reading,
            };
            if tx.send(reading).is_err() {
                return;
            }
        }
    });
    rx
}

/// One read, bounded by [`STALE_AFTER`] on top of the connection's own timeouts.
async fn read(db: &Db) -> Reading {
    let slave = match tokio::time::timeout(STALE_AFTER, db.slave_status()).await {
        Ok(Ok(slave)) => slave,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "could not read the replication status");
            None
        }
        Err(_) => {
            tracing::debug!("reading the replication status timed out");
            None
        }
    };
    Reading {
        at: Some(Instant::now()),
        lag: slave.as_ref().and_then(|s| s.seconds_behind_master),
        replication: slave.map(|s| Replication {
            source: format!("{}:{}", s.master_host, s.master_port),
            io_running: s.io_running,
            sql_running: s.sql_running,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_goes_unknown_once_stale() {
        let t0 = Instant::now();
        let r = Reading {
            at: Some(t0),
            lag: Some(4),
            replication: Some(Replication {
                source: "10.213.7.12:3306".into(),
                io_running: true,
                sql_running: true,
            }),
        };
        assert_eq!(r.fresh_at(t0 + STALE_AFTER), r);
        assert_eq!(
            r.fresh_at(t0 + STALE_AFTER + Duration::from_millis(1)),
            Reading::default()
        );
        assert_eq!(Reading::default().fresh_at(t0), Reading::default());
    }
}
