//! The four client workloads, run from the client namespace with one new connection per
//! operation (`mmm_lab::workload::execute`): (a) unique-id inserts through the writer VIP,
//! (b) a register (read / write / compare-and-set on one row per key window) through the writer
//! VIP, (c) reads through the reader VIPs, (d) write probes straight to each host's address.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use mmm_lab::workload::{OpRecord, Outcome, Target, execute};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::history::{Event, Micros, Op, OpKind, Status, Workload};

/// Tables the workloads use (created through the writer VIP before the run).
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jepsen_ids (id BIGINT PRIMARY KEY, server_id INT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jepsen_reg (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jepsen_probe (host VARCHAR(16) NOT NULL, seq BIGINT NOT NULL, \
     server_id INT NOT NULL, PRIMARY KEY (host, seq))",
];

/// Register values are drawn from 0..REGISTER_VALUES (small, so compare-and-set often matches).
const REGISTER_VALUES: u64 = 5;
/// A new register row every this long (independent keys keep each checked history short).
pub const KEY_WINDOW: Duration = Duration::from_secs(1);

/// What every workload needs.
#[derive(Debug, Clone)]
pub struct Context {
    /// Start of the run's clock.
    pub t0: Instant,
    /// The writer VIP.
    pub writer_vip: Ipv4Addr,
    /// The reader VIPs.
    pub reader_vips: Vec<Ipv4Addr>,
    /// Every database host: name and own address.
    pub hosts: Vec<(String, Ipv4Addr)>,
    /// MySQL port.
    pub port: u16,
    /// Where operations go.
    pub out: Sender<Event>,
    /// Set to end every workload.
    pub stop: Arc<AtomicBool>,
    /// Seed for the register's choices.
    pub seed: u64,
}

impl Context {
    fn micros(&self, i: Instant) -> Micros {
        u64::try_from(i.saturating_duration_since(self.t0).as_micros()).unwrap_or(u64::MAX)
    }

    fn record(
        &self,
        workload: Workload,
        process: u64,
        kind: OpKind,
        target: Ipv4Addr,
        r: &OpRecord,
        value: Option<u64>,
    ) -> Status {
        let (status, error) = match &r.outcome {
            Outcome::Ok(_) => (Status::Ok, None),
            Outcome::Failed(e) => (Status::Fail, Some(e.clone())),
            Outcome::Unknown(e) => (Status::Unknown, Some(e.clone())),
        };
        let op = Op {
            workload,
            process,
            kind,
            target: target.to_string(),
            start: self.micros(r.start),
            end: self.micros(r.end),
            status,
            server_id: r.server_id,
            value,
            error,
        };
        let _ = self.out.send(Event::Op(op));
        status
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn target(&self, ip: Ipv4Addr) -> Target {
        Target::new(ip, self.port)
    }
}

/// Runs every workload until `ctx.stop`; to be spawned inside the client namespace.
pub async fn run_all(ctx: Context) {
    let ids = Arc::new(AtomicU64::new(1));
    let inserts = async {
        tokio::join!(inserts(&ctx, 1, ids.clone()), inserts(&ctx, 2, ids.clone()));
    };
    let registers = async {
        tokio::join!(register(&ctx, 0), register(&ctx, 1), register(&ctx, 2));
    };
    tokio::join!(inserts, registers, reads(&ctx), probes(&ctx));
}

async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

async fn inserts(ctx: &Context, worker: u64, ids: Arc<AtomicU64>) {
    let target = ctx.target(ctx.writer_vip);
    while ctx.running() {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let sql = format!("INSERT INTO jepsen_ids (id, server_id) VALUES ({id}, @@server_id)");
        let r = execute(&target, &sql).await;
        ctx.record(
            Workload::Insert,
            worker,
            OpKind::Insert { id },
            ctx.writer_vip,
            &r,
            None,
        );
        pause(10).await;
    }
}

async fn register(ctx: &Context, client: u64) {
    let target = ctx.target(ctx.writer_vip);
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ (client + 1).wrapping_mul(0x9E37_79B9));
    let mut generation = 0;
    while ctx.running() {
        let key = u64::try_from(ctx.t0.elapsed().as_millis() / KEY_WINDOW.as_millis())
            .unwrap_or(u64::MAX)
            + 1;
        let process = client * 1_000_000 + generation;
        let (kind, sql) = match rng.random_range(0..4) {
            0 | 1 => (
                OpKind::Read { key },
                format!("SELECT v FROM jepsen_reg WHERE k = {key}"),
            ),
            2 => {
                let value = rng.random_range(0..REGISTER_VALUES);
                let sql = format!(
                    "INSERT INTO jepsen_reg (k, v) VALUES ({key}, {value}) \
                     ON DUPLICATE KEY UPDATE v = VALUES(v)"
                );
                (OpKind::Write { key, value }, sql)
            }
            _ => {
                let from = rng.random_range(0..REGISTER_VALUES);
                // Never `to == from`: MySQL would report a hit as "0 rows changed".
                let to = (from + rng.random_range(1..REGISTER_VALUES)) % REGISTER_VALUES;
                let sql = format!("UPDATE jepsen_reg SET v = {to} WHERE k = {key} AND v = {from}");
                (OpKind::Cas { key, from, to }, sql)
            }
        };
        let r = execute(&target, &sql).await;
        let value = match (&kind, &r.outcome) {
            (OpKind::Read { .. }, Outcome::Ok(reply)) => reply
                .row
                .as_ref()
                .and_then(|row| row.first().cloned().flatten())
                .and_then(|v| v.parse().ok()),
            (OpKind::Cas { .. }, Outcome::Ok(reply)) => Some(u64::from(reply.affected_rows > 0)),
            _ => None,
        };
        if ctx.record(Workload::Register, process, kind, ctx.writer_vip, &r, value)
            == Status::Unknown
        {
            // Its effect may land any time later: this client continues as a new process.
            generation += 1;
        }
        pause(25).await;
    }
}

async fn reads(ctx: &Context) {
    let mut i = 0;
    while ctx.running() && !ctx.reader_vips.is_empty() {
        let vip = ctx.reader_vips[i % ctx.reader_vips.len()];
        i += 1;
        let r = execute(&ctx.target(vip), "SELECT COUNT(*) FROM jepsen_ids").await;
        ctx.record(Workload::Read, 0, OpKind::ReaderRead, vip, &r, None);
        pause(50).await;
    }
}

async fn probes(ctx: &Context) {
    let mut seq = 0;
    while ctx.running() {
        seq += 1;
        for (name, ip) in &ctx.hosts {
            let sql = format!(
                "INSERT INTO jepsen_probe (host, seq, server_id) VALUES ('{name}', {seq}, @@server_id)"
            );
            let r = execute(&ctx.target(*ip), &sql).await;
            let kind = OpKind::Probe {
                host: name.clone(),
                seq,
            };
            ctx.record(Workload::Probe, 0, kind, *ip, &r, None);
        }
        pause(20).await;
    }
}
