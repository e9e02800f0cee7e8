//! The writer lease's timer inside the server: an `EVENT` in schema `mmm` that sets
//! `read_only=1` (`super_read_only=1` on MySQL ≥ 5.7) at the lease deadline. The agent moves
//! it forward on every renewal, so a stopped or killed agent still fences its server when the
//! lease runs out.
//!
//! The deadline is on the server's own wall clock: the agent sends only "this many
//! milliseconds from now" and the server adds them to its `NOW()` in the same statement, so no
//! clock agreement between hosts is needed. The schedule is rounded down to the whole second
//! (the event scheduler's resolution), so it fires no later than the agent's own deadline
//! plus the statement's round trip; never earlier than the next second boundary, so an arm
//! for a short remainder still fires. Nothing is written to the binary log (`sql_log_bin=0`),
//! so the timer never replicates to the peer.

use std::time::Duration;

use crate::conn::Mysql;
use crate::error::{MysqlError, Operation};

/// Schema of mmm's own objects in the server (shared with the fencing table).
pub const SCHEMA: &str = "mmm";
/// The lease timer event, qualified.
pub const EVENT: &str = "`mmm`.`lease_timer`";

/// `@@GLOBAL.event_scheduler`, which decides whether the timer can fire at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Events run.
    On,
    /// Events do not run until someone sets `event_scheduler=ON`.
    Off,
    /// Disabled at server start; cannot be turned on without a restart.
    Disabled,
}

impl Scheduler {
    /// The variable's value as the server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheduler::On => "ON",
            Scheduler::Off => "OFF",
            Scheduler::Disabled => "DISABLED",
        }
    }
}

/// Builds the statement that schedules the timer `remaining` from the server's now.
pub fn schedule_sql(remaining: Duration) -> String {
    let secs = remaining.as_millis() as f64 / 1000.0;
    format!(
        "ALTER EVENT {EVENT} ON SCHEDULE AT FROM_UNIXTIME(GREATEST(\
         FLOOR(UNIX_TIMESTAMP(NOW(3)) + {secs:.3}), FLOOR(UNIX_TIMESTAMP(NOW(3))) + 1)) \
         ON COMPLETION PRESERVE ENABLE"
    )
}

impl Mysql {
    /// Reads `@@GLOBAL.event_scheduler`.
    pub async fn event_scheduler(&mut self) -> Result<Scheduler, MysqlError> {
        let v = self
            .first_value("SELECT @@GLOBAL.event_scheduler", Operation::Query)
            .await?;
        match v.as_deref().map(str::to_ascii_uppercase).as_deref() {
            Some("ON" | "1") => Ok(Scheduler::On),
            Some("OFF" | "0") => Ok(Scheduler::Off),
            Some("DISABLED") => Ok(Scheduler::Disabled),
            _ => Err(MysqlError::UnexpectedReply(format!(
                "@@event_scheduler = {v:?}"
            ))),
        }
    }

    /// Creates schema `mmm` and the timer event (disabled) unless they exist; nothing goes
    /// to the binary log. Run once at agent start: it proves the grants the timer needs.
    pub async fn create_lease_timer(&mut self) -> Result<(), MysqlError> {
        self.unlogged_utc().await?;
        self.execute(
            &format!("CREATE DATABASE IF NOT EXISTS `{SCHEMA}`"),
            Operation::LeaseTimer,
        )
        .await?;
        let body = if self.info().has_super_read_only() {
            "SET GLOBAL super_read_only = 1"
        } else {
            "SET GLOBAL read_only = 1"
        };
        let sql = format!(
            "CREATE EVENT IF NOT EXISTS {EVENT} ON SCHEDULE AT NOW() + INTERVAL 1 DAY \
             ON COMPLETION PRESERVE DISABLE \
             COMMENT 'mmm writer lease: fences this server when the lease runs out' DO {body}"
        );
        self.execute(&sql, Operation::LeaseTimer).await
    }

    /// Moves the timer to `remaining` from the server's now and enables it; returns the event
    /// scheduler's state read right after (the timer fires only while it is `ON`).
    pub async fn arm_lease_timer(&mut self, remaining: Duration) -> Result<Scheduler, MysqlError> {
        self.unlogged_utc().await?;
        self.execute(&schedule_sql(remaining), Operation::LeaseTimer)
            .await?;
        // The scheduler can be switched off at any time: a timer armed while it is off never
        // fires, so every arm says whether it still runs.
        self.event_scheduler().await
    }

    /// Disables the timer (the writer role was given up on the leader's word).
    pub async fn disarm_lease_timer(&mut self) -> Result<(), MysqlError> {
        self.unlogged_utc().await?;
        self.execute(
            &format!("ALTER EVENT {EVENT} DISABLE"),
            Operation::LeaseTimer,
        )
        .await
    }

    /// This session writes nothing to the binary log and reads times in UTC (no DST jumps
    /// between the schedule's computation and its storage).
    async fn unlogged_utc(&mut self) -> Result<(), MysqlError> {
        self.execute(
            "SET SESSION sql_log_bin = 0, time_zone = '+00:00'",
            Operation::LeaseTimer,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_rounds_down_but_never_before_the_next_second() {
        let sql = schedule_sql(Duration::from_millis(1750));
        assert!(
            sql.contains("FLOOR(UNIX_TIMESTAMP(NOW(3)) + 1.750)"),
            "{sql}"
        );
        assert!(sql.contains("FLOOR(UNIX_TIMESTAMP(NOW(3))) + 1"), "{sql}");
        assert!(sql.starts_with("ALTER EVENT `mmm`.`lease_timer`"), "{sql}");
        assert_eq!(Scheduler::Disabled.as_str(), "DISABLED");
    }
}
