//! What one run records: a list of events on one clock (microseconds since the run started,
//! measured by the benchmark process's monotonic clock), from four sources — the benchmark's own
//! actions (faults, heals, commands), the client's writes, the sampler's probes, and the daemons'
//! log lines and replicated history (their wall-clock stamps converted to the run's clock).
//!
//! The measurements in [`crate::measure`] read only such a list, so they can be tested on
//! recorded or hand-built lists.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Microseconds since the run's start.
pub type Micros = i64;

/// One thing that happened, where, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When: for a probe or a write, when its answer came back; for a log line, its stamp.
    pub at: Micros,
    /// Where: a database host, a monitor, `client` or `bench`.
    pub host: String,
    /// What.
    pub what: What,
}

/// How a write through the writer VIP ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    /// The server acknowledged it.
    Ack,
    /// Surely not applied (no connection, or refused, e.g. read-only).
    Failed,
    /// Maybe applied: the connection broke or timed out after the statement was sent.
    Unknown,
}

/// The kinds of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// The benchmark applied a fault or an operator action (stamped just before it).
    Fault {
        /// e.g. `kill -9 mysqld`, `move_role writer db2`.
        name: String,
    },
    /// The benchmark undid a fault (stamped just before).
    Heal {
        /// e.g. `rejoin db1`.
        name: String,
    },
    /// An operator command returned (e.g. `mmmctl move_role`).
    Returned {
        /// The command.
        name: String,
        /// Whether it exited 0.
        ok: bool,
    },
    /// One write through the writer VIP on a new connection.
    Write {
        /// Just before connecting.
        start: Micros,
        /// The row's unique id.
        id: u64,
        /// `@@server_id` of the server that answered the connection.
        server_id: Option<u32>,
        /// How it ended.
        outcome: WriteOutcome,
    },
    /// The sampler read the server's variables.
    Server {
        /// Probe start (`at` is its end).
        start: Micros,
        /// `@@read_only`.
        read_only: bool,
        /// `@@server_id`.
        server_id: u32,
    },
    /// The sampler listed the VIPs on the host's interface.
    Vips {
        /// Probe start.
        start: Micros,
        /// Addresses besides the host's own.
        ips: Vec<Ipv4Addr>,
    },
    /// The host's agent answered `GetStatus`.
    Agent {
        /// Probe start.
        start: Micros,
        /// Highest accepted epoch.
        epoch: u64,
        /// Lease left, in milliseconds.
        lease_remaining_ms: u64,
    },
    /// A monitor answered with its Raft view.
    Monitor {
        /// Probe start.
        start: Micros,
        /// The leader it knows (empty: none).
        leader: String,
        /// Its term.
        term: u64,
    },
    /// A probe got no answer.
    Down {
        /// Probe start.
        start: Micros,
        /// `server`, `vips`, `agent` or `monitor`.
        probe: String,
    },
    /// A daemon's log line.
    Log {
        /// Its level (`INFO`, `ERROR`, …; FATAL lines are `ERROR` with mysql-mmm level FATAL).
        level: String,
        /// The message.
        text: String,
    },
    /// The leader's decision time of a replicated change (`mmmctl history`, millisecond
    /// precision on the leader's wall clock).
    Decided {
        /// The change's mysql-mmm log line.
        line: String,
    },
}

impl Event {
    /// When the probe behind a sample started (its `at` for events that are not probes).
    pub fn start(&self) -> Micros {
        match &self.what {
            What::Write { start, .. }
            | What::Server { start, .. }
            | What::Vips { start, .. }
            | What::Agent { start, .. }
            | What::Monitor { start, .. }
            | What::Down { start, .. } => *start,
            _ => self.at,
        }
    }

    /// The middle of the probe (the best guess of when the sampled state held).
    pub fn mid(&self) -> Micros {
        self.start() + (self.at - self.start()) / 2
    }

    /// The write's server id and outcome, for a write.
    pub fn write(&self) -> Option<(Option<u32>, WriteOutcome)> {
        match &self.what {
            What::Write {
                server_id, outcome, ..
            } => Some((*server_id, *outcome)),
            _ => None,
        }
    }

    /// The server id of an acknowledged write.
    pub fn ack(&self) -> Option<u32> {
        match self.write() {
            Some((id, WriteOutcome::Ack)) => id,
            _ => None,
        }
    }

    /// The log message, for a log line.
    pub fn log_text(&self) -> Option<&str> {
        match &self.what {
            What::Log { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// Sorts events by time (stable, so same-time events keep their recording order).
pub fn sort(events: &mut [Event]) {
    events.sort_by_key(|e| e.at);
}

/// Milliseconds as a float, for reports.
pub fn ms(us: Micros) -> f64 {
    us as f64 / 1000.0
}
