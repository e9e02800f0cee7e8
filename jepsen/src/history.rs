//! The run's history: every client operation, every sample and every fault, with times in
//! microseconds since the run started, written as JSON lines. The checkers read only this.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Microseconds since the start of the run (one monotonic clock for every thread).
pub type Micros = u64;

/// What a run was: the facts the checkers need besides the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The schedule's seed.
    pub seed: u64,
    /// Semi-synchronous replication between the masters.
    pub semi_sync: bool,
    /// Database hosts in config order, with address and `server_id`.
    pub hosts: Vec<HostMeta>,
    /// Monitor names in config order (`mon1`, …).
    pub monitors: Vec<String>,
    /// The writer role's VIP.
    pub writer_vip: String,
    /// The reader role's VIPs.
    pub reader_vips: Vec<String>,
    /// `trap_period` in ms.
    pub trap_ms: u64,
    /// `agent_lease` in ms.
    pub lease_ms: u64,
    /// The sampler's period in ms.
    pub sample_ms: u64,
    /// mysql-mmm's flap detection on (`flap_count` 3); off (`flap_count 0`) unless asked for.
    #[serde(default)]
    pub flap_detection: bool,
}

impl Meta {
    /// The host whose server has `server_id`.
    pub fn host_of(&self, server_id: u32) -> Option<&str> {
        self.hosts
            .iter()
            .find(|h| h.server_id == server_id)
            .map(|h| h.name.as_str())
    }

    /// The host with address `ip`.
    pub fn host_by_ip(&self, ip: &str) -> Option<&str> {
        self.hosts
            .iter()
            .find(|h| h.ip == ip)
            .map(|h| h.name.as_str())
    }

    /// Every VIP of the configuration (writer first).
    pub fn vips(&self) -> Vec<String> {
        std::iter::once(self.writer_vip.clone())
            .chain(self.reader_vips.iter().cloned())
            .collect()
    }
}

/// One database host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMeta {
    /// `db1`, …
    pub name: String,
    /// Its own address.
    pub ip: String,
    /// Its server's `server_id`.
    pub server_id: u32,
    /// `master` or `slave`.
    pub mode: String,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The run's facts (first line).
    Meta(Meta),
    /// A client operation.
    Op(Op),
    /// A sampler observation.
    Sample(Sample),
    /// A fault began or was healed.
    Fault(Fault),
    /// The rows a server holds after the final heal.
    Rows(Rows),
}

/// Which workload issued an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// (a) unique-id inserts through the writer VIP.
    Insert,
    /// (b) the register through the writer VIP.
    Register,
    /// (c) reads through the reader VIPs.
    Read,
    /// (d) write probes on each host's own address.
    Probe,
}

/// What an operation asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum OpKind {
    /// Insert row `id`.
    Insert {
        /// The unique id.
        id: u64,
    },
    /// Read register `key`.
    Read {
        /// Register row.
        key: u64,
    },
    /// Write `value` into register `key`.
    Write {
        /// Register row.
        key: u64,
        /// New value.
        value: u64,
    },
    /// Set register `key` to `to` if it holds `from`.
    Cas {
        /// Register row.
        key: u64,
        /// Expected value.
        from: u64,
        /// New value.
        to: u64,
    },
    /// A read through a reader VIP.
    ReaderRead,
    /// A probe insert of `seq` straight to `host`.
    Probe {
        /// Target host.
        host: String,
        /// Probe sequence number.
        seq: u64,
    },
}

impl OpKind {
    /// Whether the operation writes (so an acknowledgement proves the server took a write).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Self::Insert { .. } | Self::Write { .. } | Self::Cas { .. } | Self::Probe { .. }
        )
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The server answered.
    Ok,
    /// Surely not applied.
    Fail,
    /// May or may not have been applied.
    Unknown,
}

/// A client operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Its workload.
    pub workload: Workload,
    /// The logical client (a client whose operation ended unknown continues as a new one).
    pub process: u64,
    /// What it asked.
    #[serde(flatten)]
    pub kind: OpKind,
    /// The address it connected to.
    pub target: String,
    /// Before connecting.
    pub start: Micros,
    /// When the outcome was known.
    pub end: Micros,
    /// How it ended.
    pub status: Status,
    /// `@@server_id` of the server reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u32>,
    /// A read's value; a compare-and-set's success as 1/0.
    #[serde(default, rename = "result", skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// Whether the server acknowledged a write.
    pub fn acked_write(&self) -> bool {
        self.status == Status::Ok && self.kind.writes() && self.cas_applied()
    }

    fn cas_applied(&self) -> bool {
        !matches!(self.kind, OpKind::Cas { .. }) || self.value == Some(1)
    }
}

/// A sampler observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Host observed.
    pub host: String,
    /// Before the probe.
    pub start: Micros,
    /// After it.
    pub end: Micros,
    /// What it saw.
    #[serde(flatten)]
    pub obs: Obs,
}

/// What one probe saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "probe", rename_all = "snake_case")]
pub enum Obs {
    /// The database server.
    Server {
        /// `@@read_only`.
        read_only: bool,
        /// `@@server_id`.
        server_id: u32,
        /// `Master_Host`, when replicating.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        master: Option<String>,
        /// Both replication threads run.
        #[serde(default)]
        replicating: bool,
    },
    /// VIPs on the interface.
    Vips {
        /// The addresses.
        ips: Vec<String>,
    },
    /// The agent's own view.
    Agent {
        /// Highest accepted epoch.
        epoch: u64,
        /// Lease left in ms.
        lease_ms: u64,
        /// Roles held.
        roles: Vec<String>,
        /// Host state.
        state: String,
    },
    /// A monitor's Raft view.
    Monitor {
        /// Its id.
        this_id: u64,
        /// The leader it knows (0 = none).
        leader_id: u64,
        /// Its term.
        term: u64,
        /// Its state's epoch.
        epoch: u64,
    },
    /// No answer.
    Down {
        /// Which probe (`server`, `vips`, `agent`, `monitor`).
        what: String,
        /// Why.
        error: String,
    },
}

impl Obs {
    /// Whether an agent view holds the writer role (`writer(…)`).
    pub fn agent_writer(&self) -> bool {
        matches!(self, Self::Agent { roles, .. } if roles.iter().any(|r| r.starts_with("writer(")))
    }
}

/// A fault's beginning or end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// When.
    pub at: Micros,
    /// Index of the schedule step.
    pub step: usize,
    /// The nemesis' name.
    pub nemesis: String,
    /// `start` or `heal`.
    pub phase: Phase,
    /// What exactly was done (targets, parameters, command replies).
    pub detail: String,
}

/// A fault's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The fault was applied.
    Start,
    /// It was undone.
    Heal,
}

/// The inserted ids a server holds at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    /// When read.
    pub at: Micros,
    /// The host.
    pub host: String,
    /// The ids (sorted), or `None` when the server could not be read.
    pub ids: Option<Vec<u64>>,
    /// Why it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The server's replication at that moment (source, threads, GTID positions, last errors),
    /// so a server that fell behind shows why; `None` for a server that is no slave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<String>,
}

/// A whole history, split by kind for the checkers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The run's facts.
    pub meta: Option<Meta>,
    /// Operations in the order recorded.
    pub ops: Vec<Op>,
    /// Samples in the order recorded.
    pub samples: Vec<Sample>,
    /// Faults in order.
    pub faults: Vec<Fault>,
    /// Final rows per host.
    pub rows: Vec<Rows>,
}

impl History {
    /// Adds one event.
    pub fn push(&mut self, e: Event) {
        match e {
            Event::Meta(m) => self.meta = Some(m),
            Event::Op(o) => self.ops.push(o),
            Event::Sample(s) => self.samples.push(s),
            Event::Fault(f) => self.faults.push(f),
            Event::Rows(r) => self.rows.push(r),
        }
    }

    /// The run's facts; a history without them cannot be checked.
    pub fn meta(&self) -> anyhow::Result<&Meta> {
        self.meta
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the history has no meta line"))
    }

    /// Reads a JSON-lines history; fails with the line number of a bad line.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
        Self::parse(std::io::BufReader::new(file), &path.display().to_string())
    }

    /// Parses JSON lines from `reader` (`name` for errors).
    pub fn parse(reader: impl BufRead, name: &str) -> anyhow::Result<Self> {
        let mut h = Self::default();
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| anyhow::anyhow!("{name}:{}: {e}", i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let e: Event = serde_json::from_str(&line)
                .map_err(|e| anyhow::anyhow!("{name}:{}: {e}", i + 1))?;
            h.push(e);
        }
        Ok(h)
    }

    /// Writes the history as JSON lines (meta, faults, then operations and samples by time).
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let line = |out: &mut dyn Write, e: &Event| -> std::io::Result<()> {
            serde_json::to_writer(&mut *out, e)?;
            out.write_all(b"\n")
        };
        if let Some(m) = &self.meta {
            line(out, &Event::Meta(m.clone()))?;
        }
        let mut timed: Vec<(Micros, Event)> = Vec::new();
        timed.extend(self.faults.iter().map(|f| (f.at, Event::Fault(f.clone()))));
        timed.extend(self.ops.iter().map(|o| (o.start, Event::Op(o.clone()))));
        timed.extend(
            self.samples
                .iter()
                .map(|s| (s.start, Event::Sample(s.clone()))),
        );
        timed.extend(self.rows.iter().map(|r| (r.at, Event::Rows(r.clone()))));
        timed.sort_by_key(|(t, _)| *t);
        for (_, e) in &timed {
            line(out, e)?;
        }
        Ok(())
    }

    /// The end of the recorded history.
    pub fn end(&self) -> Micros {
        let ops = self.ops.iter().map(|o| o.end);
        let samples = self.samples.iter().map(|s| s.end);
        let faults = self.faults.iter().map(|f| f.at);
        ops.chain(samples).chain(faults).max().unwrap_or(0)
    }

    /// When the last fault was healed (the start of the final quiet period), if any.
    pub fn last_heal(&self) -> Option<Micros> {
        self.faults
            .iter()
            .filter(|f| f.phase == Phase::Heal)
            .map(|f| f.at)
            .max()
    }
}

/// Milliseconds with one decimal, for reports.
pub fn ms(t: Micros) -> String {
    format!("{:.1}", t as f64 / 1000.0)
}

/// Seconds with three decimals, for reports.
pub fn secs(t: Micros) -> String {
    format!("{:.3}", t as f64 / 1_000_000.0)
}
