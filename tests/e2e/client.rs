//! The application: a client in the lab's client namespace that writes through the writer VIP
//! with a new connection per write and records every acknowledgement, reads through reader
//! VIPs, and the checks that every acknowledged row is on every server afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mmm_lab::cluster::Cluster;
use mmm_lab::users::TEST_DB;
use mmm_lab::workload::{OpRecord, Outcome, Target, execute};
use mysql_async::prelude::Queryable;

use super::support::{SETTLE, WRITER_VIP, reader_vips, server_id, wait, wait_show};

/// The table the client writes: one row per write, with the `server_id` of the server that
/// executed it (row-based binlog, so every replica keeps the executing server's id).
pub const TABLE: &str = "e2e_writes";
/// Time between the starts of two writes.
const WRITE_EVERY: Duration = Duration::from_millis(20);
/// Deadline of a connection attempt (a VIP that is moving answers nothing).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Deadline of one statement.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// One write attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The row's primary key (unique per attempt, increasing).
    pub id: u64,
    /// When the attempt started, since the stream started.
    pub started: Duration,
    /// The operation as the client saw it; `Outcome::Ok` means acknowledged: the row must exist
    /// afterwards.
    pub record: OpRecord,
}

impl Attempt {
    /// Whether the server acknowledged the write.
    pub fn acked(&self) -> bool {
        self.record.outcome.is_ok()
    }
}

/// Every write attempt of a stream, in order.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// The attempts.
    pub attempts: Vec<Attempt>,
}

impl Ledger {
    /// Ids of the acknowledged writes.
    pub fn acked(&self) -> BTreeSet<u64> {
        self.attempts
            .iter()
            .filter(|a| a.acked())
            .map(|a| a.id)
            .collect()
    }

    /// Attempts that were not acknowledged.
    pub fn failures(&self) -> Vec<&Attempt> {
        self.attempts.iter().filter(|a| !a.acked()).collect()
    }

    /// The longest time between the starts of two consecutive acknowledged writes.
    pub fn longest_gap(&self) -> Duration {
        let acked: Vec<Duration> = self
            .attempts
            .iter()
            .filter(|a| a.acked())
            .map(|a| a.started)
            .collect();
        acked
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .max()
            .unwrap_or_default()
    }

    /// The attempts as runs of the same outcome: `0.00-1.20 s acked ×60`, `1.22-2.10 s not applied
    /// ×12 (connect: timed out)`, … for the test's output.
    pub fn timeline(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        let mut run: Option<(&Attempt, &Attempt, usize)> = None;
        let kind = |o: &Outcome| match o {
            Outcome::Ok(_) => "acked".to_owned(),
            Outcome::Failed(e) => format!("not applied ({})", first_words(e)),
            Outcome::Unknown(e) => format!("unknown ({})", first_words(e)),
        };
        let mut flush = |run: Option<(&Attempt, &Attempt, usize)>| {
            if let Some((first, last, n)) = run {
                lines.push(format!(
                    "  {:>7.2}-{:.2} s {} x{n}",
                    first.started.as_secs_f64(),
                    last.started.as_secs_f64(),
                    kind(&first.record.outcome)
                ));
            }
        };
        for a in &self.attempts {
            run = match run {
                Some((first, _, n)) if kind(&first.record.outcome) == kind(&a.record.outcome) => {
                    Some((first, a, n + 1))
                }
                other => {
                    flush(other);
                    Some((a, a, 1))
                }
            };
        }
        flush(run);
        lines.join("\n")
    }

    /// One line for the test's output.
    pub fn summary(&self) -> String {
        let unknown = self
            .attempts
            .iter()
            .filter(|a| matches!(a.record.outcome, Outcome::Unknown(_)))
            .count();
        let slowest = self
            .attempts
            .iter()
            .map(|a| a.record.end - a.record.start)
            .max();
        format!(
            "{} writes: {} acknowledged, {} not applied, {} unknown; longest gap between acknowledged writes {:?}; slowest attempt {:?}\n{}",
            self.attempts.len(),
            self.acked().len(),
            self.failures().len() - unknown,
            unknown,
            self.longest_gap(),
            slowest.unwrap_or_default(),
            self.timeline()
        )
    }
}

/// Creates [`TABLE`] through `addr` (the writer VIP or a load balancer), waiting until a
/// writer takes it.
fn create_table(c: &Cluster, addr: &str) {
    wait(c, &format!("{addr} taking writes"), || {
        c.app_exec(
            addr,
            &format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT PRIMARY KEY, server_id INT NOT NULL)"
            ),
        )
        .is_ok()
    });
}

/// The start of an error message, enough to tell kinds apart.
fn first_words(e: &str) -> String {
    e.chars().take(60).collect()
}

/// A running stream of writes through the writer VIP from the client namespace.
pub struct WriteStream {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    progress: Arc<Progress>,
    done: tokio::sync::oneshot::Receiver<Ledger>,
}

/// What a running stream has seen so far: acknowledged writes, and the `@@server_id` of the
/// server behind the last one (0 before the first).
#[derive(Debug, Default)]
struct Progress {
    acked: AtomicUsize,
    last_server: AtomicU32,
    /// Set by the loop when it saw the pause and has no write in flight.
    idle: AtomicBool,
}

impl WriteStream {
    /// Creates the table through the writer VIP (waiting until a writer takes it) and starts
    /// writing one row every 20 ms, each on a new connection.
    pub fn start(c: &Cluster) -> Self {
        Self::start_at(c, WRITER_VIP)
    }

    /// Like [`WriteStream::start`], through `addr` on the MySQL port instead of the writer
    /// VIP (a load balancer in the client namespace).
    pub fn start_at(c: &Cluster, addr: &str) -> Self {
        create_table(c, addr);
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Progress::default());
        let target = app_target(c, addr);
        let flags = Flags {
            stop: Arc::clone(&stop),
            paused: Arc::clone(&paused),
        };
        let done = c
            .client()
            .netns()
            .spawn_future(write_loop(target, flags, Arc::clone(&progress)))
            .expect("start the client in its namespace");
        Self {
            stop,
            paused,
            progress,
            done,
        }
    }

    /// Writes acknowledged so far.
    pub fn acked(&self) -> usize {
        self.progress.acked.load(Ordering::SeqCst)
    }

    /// `@@server_id` of the server that acknowledged the latest write, if any was.
    pub fn last_acked_server(&self) -> Option<u32> {
        Some(self.progress.last_server.load(Ordering::SeqCst)).filter(|id| *id != 0)
    }

    /// Waits until `n` more writes have been acknowledged (to whichever server holds the VIP).
    pub fn wait_acks(&self, c: &Cluster, n: usize) {
        let target = self.acked() + n;
        wait(c, &format!("{n} more acknowledged writes"), || {
            self.acked() >= target
        });
    }

    /// Holds the writes and waits until none is in flight.
    pub fn pause(&self, c: &Cluster) {
        self.paused.store(true, Ordering::SeqCst);
        wait(c, "the client's writes paused", || {
            self.progress.idle.load(Ordering::SeqCst)
        });
    }

    /// Holds the writes and waits until every host in `slaves` holds every row `writer` has.
    ///
    /// With asynchronous replication a write in flight when the writer's mysqld dies may reach
    /// no slave (acknowledged and lost for good), or one slave and not the new writer, and mmm
    /// does not copy a slave's extra transactions to the new writer, so that slave could not
    /// follow it (deploy/README §8). A test that kills the writer and asserts that no
    /// acknowledged row is lost pauses here first and resumes right after the kill, so the
    /// failover still runs under the application's writes.
    pub fn pause_replicated(&self, c: &Cluster, writer: &str, slaves: &[&str]) {
        self.pause(c);
        wait(
            c,
            &format!("{slaves:?} have every row {writer} has"),
            || {
                let on_writer = rows_on(c, writer);
                on_writer.is_ok() && slaves.iter().all(|h| rows_on(c, h) == on_writer)
            },
        );
    }

    /// Writes again after [`WriteStream::pause`].
    pub fn resume(&self) {
        self.progress.idle.store(false, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
    }

    /// Stops writing and returns every attempt.
    pub fn stop(self) -> Ledger {
        self.stop.store(true, Ordering::SeqCst);
        self.done.blocking_recv().expect("the client's ledger")
    }
}

/// What the test tells a running write loop.
struct Flags {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
}

async fn write_loop(target: Target, flags: Flags, progress: Arc<Progress>) -> Ledger {
    let t0 = Instant::now();
    let mut ledger = Ledger::default();
    let mut next = t0;
    let mut id = 0;
    loop {
        if flags.stop.load(Ordering::SeqCst) {
            break;
        }
        next += WRITE_EVERY;
        if flags.paused.load(Ordering::SeqCst) {
            progress.idle.store(true, Ordering::SeqCst);
            tokio::time::sleep_until(next.max(Instant::now()).into()).await;
            continue;
        }
        id += 1;
        let sql = format!("INSERT INTO {TABLE} (id, server_id) VALUES ({id}, @@server_id)");
        let record = execute(&target, &sql).await;
        let attempt = Attempt {
            id,
            started: record.start - t0,
            record,
        };
        if attempt.acked() {
            let server = attempt.record.server_id.unwrap_or_default();
            progress.last_server.store(server, Ordering::SeqCst);
            progress.acked.fetch_add(1, Ordering::SeqCst);
        }
        ledger.attempts.push(attempt);
        tokio::time::sleep_until(next.max(Instant::now()).into()).await;
    }
    ledger
}

/// Where the application connects for `ip` (a VIP), with its deadlines.
fn app_target(c: &Cluster, ip: &str) -> Target {
    let ip = ip
        .parse()
        .unwrap_or_else(|_| panic!("{ip:?} is not an IPv4 address"));
    Target {
        connect_timeout: CONNECT_TIMEOUT,
        statement_timeout: STATEMENT_TIMEOUT,
        ..Target::new(ip, c.mmm_config().mysql_port)
    }
}

/// What a read through a VIP saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// `@@server_id` of the server that answered.
    pub server_id: u32,
    /// Whether the row with the asked-for id was there.
    pub has_row: bool,
}

/// Reads through `vip` from the client namespace as the application user: which server answers,
/// and whether row `id` has reached it.
pub fn read_via(c: &Cluster, vip: &str, id: u64) -> Result<Read, String> {
    let target = app_target(c, vip);
    let sql = format!("SELECT COUNT(*) FROM {TABLE} WHERE id = {id}");
    let record = c
        .client()
        .block_on(async move { execute(&target, &sql).await })
        .map_err(|e| e.to_string())?;
    let reply = match record.outcome {
        Outcome::Ok(reply) => reply,
        Outcome::Failed(why) | Outcome::Unknown(why) => return Err(why),
    };
    let server_id = record.server_id.ok_or("no @@server_id from the server")?;
    let count = reply.row.and_then(|row| row.into_iter().next().flatten());
    Ok(Read {
        server_id,
        has_row: count.as_deref() == Some("1"),
    })
}

/// Writes one row through the writer VIP (waiting until a writer takes it) and returns its id
/// and the `server_id` that executed it. Ids from 1,000,000,000 on never clash with a stream's.
pub fn write_marker(c: &Cluster, id: u64) -> u32 {
    create_table(c, WRITER_VIP);
    let id = 1_000_000_000 + id;
    wait(
        c,
        &format!("marker row {id} written through the writer VIP"),
        || {
            c.app_exec(
                WRITER_VIP,
                &format!("INSERT IGNORE INTO {TABLE} (id, server_id) VALUES ({id}, @@server_id)"),
            )
            .is_ok()
        },
    );
    let rows = rows_on(c, &writer_host(c)).expect("rows on the writer");
    *rows
        .get(&id)
        .unwrap_or_else(|| panic!("marker {id} is not on the writer"))
}

/// Waits until `vip` is answered by the server with `server_id` and that server has marker row
/// `marker` (see [`write_marker`]).
pub fn wait_read(c: &Cluster, vip: &str, server_id: u32, marker: u64) {
    let id = 1_000_000_000 + marker;
    let mut last = Err(String::new());
    let waited = c.wait_for(
        &format!("a read through {vip} answered by server {server_id} with row {id}"),
        SETTLE,
        || {
            last = read_via(c, vip, id);
            last.as_ref()
                .is_ok_and(|r| r.server_id == server_id && r.has_row)
        },
    );
    if let Err(e) = waited {
        panic!("last read through {vip}: {last:?}\n{e}");
    }
}

/// Waits until every reader VIP is answered by the server of the host `show` lists for it, with
/// marker row `marker`: reads through every reader VIP work and see current data.
pub fn wait_reads(c: &Cluster, marker: u64) {
    for vip in reader_vips(c) {
        let s = wait_show(c, &format!("{vip} on a host"), |s| s.holder(&vip).is_some());
        let holder = s.holder(&vip).expect("held").to_owned();
        wait_read(c, &vip, server_id(c, &holder), marker);
    }
}

/// The database host holding the writer VIP on its interface.
fn writer_host(c: &Cluster) -> String {
    c.agent_names()
        .into_iter()
        .find(|h| c.has_ip(h, WRITER_VIP))
        .expect("a host with the writer VIP")
}

/// The table's rows on database host `host` (id → server_id), read over its socket as root.
pub fn rows_on(c: &Cluster, host: &str) -> Result<BTreeMap<u64, u32>, String> {
    let db = c.topology().db(host).map_err(|e| e.to_string())?;
    let sql = format!("SELECT id, server_id FROM {TEST_DB}.{TABLE}");
    block_on(async {
        let mut conn = db.root_conn().await.map_err(|e| e.to_string())?;
        let rows: Vec<(u64, u32)> = tokio::time::timeout(STATEMENT_TIMEOUT * 5, conn.query(sql))
            .await
            .map_err(|_| format!("reading {TABLE} on {host}: timed out"))?
            .map_err(|e| format!("reading {TABLE} on {host}: {e}"))?;
        let _ = tokio::time::timeout(STATEMENT_TIMEOUT, conn.disconnect()).await;
        Ok(rows.into_iter().collect())
    })
}

/// Waits until every host in `hosts` holds exactly the same rows and those include every write
/// the client saw acknowledged; returns the rows. Panics with what is missing where.
pub fn wait_converged(c: &Cluster, hosts: &[&str], ledger: &Ledger) -> BTreeMap<u64, u32> {
    let acked = ledger.acked();
    let mut report = String::new();
    let mut agreed = BTreeMap::new();
    let waited = c.wait_for(
        &format!("{} acknowledged rows identical on {hosts:?}", acked.len()),
        SETTLE,
        || {
            report.clear();
            let mut tables = Vec::new();
            for host in hosts {
                match rows_on(c, host) {
                    Ok(rows) => {
                        let missing: Vec<&u64> =
                            acked.iter().filter(|id| !rows.contains_key(id)).collect();
                        report.push_str(&format!(
                            "{host}: {} rows, {} acknowledged rows missing (first: {:?})\n",
                            rows.len(),
                            missing.len(),
                            missing.iter().take(5).collect::<Vec<_>>()
                        ));
                        tables.push(rows);
                    }
                    Err(e) => report.push_str(&format!("{host}: {e}\n")),
                }
            }
            let done = tables.len() == hosts.len()
                && tables.windows(2).all(|w| w[0] == w[1])
                && acked.iter().all(|id| tables[0].contains_key(id));
            if done {
                agreed = tables.swap_remove(0);
            }
            done
        },
    );
    if let Err(e) = waited {
        panic!("not converged:\n{report}{}\n{e}", ledger.summary());
    }
    agreed
}

/// The servers that executed the acknowledged writes, in write order, runs collapsed: `[1, 2]`
/// means db1 took writes, then db2 and never db1 again.
pub fn writer_sequence(ledger: &Ledger, rows: &BTreeMap<u64, u32>) -> Vec<u32> {
    let mut sequence: Vec<u32> = Vec::new();
    for a in ledger.attempts.iter().filter(|a| a.acked()) {
        let server = rows[&a.id];
        if sequence.last() != Some(&server) {
            sequence.push(server);
        }
    }
    sequence
}

/// Runs `fut` on a fresh current-thread runtime (the test threads have none).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(fut)
}
