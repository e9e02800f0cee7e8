//! The application: a client in the lab's client namespace that writes through the writer VIP
//! with a new connection per write and records every acknowledgement, reads through reader
//! VIPs, and the checks that every acknowledged row is on every server afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mmm_lab::cluster::Cluster;
use mmm_lab::users::{APP_PASSWORD, APP_USER, TEST_DB};
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

/// What happened to one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server acknowledged it: the row must exist afterwards.
    Acked,
    /// It did not run: no connection, or the server refused the statement (e.g. read-only).
    NotApplied(String),
    /// The connection broke or timed out after the statement was sent: it may or may not have
    /// been applied.
    Unknown(String),
}

/// One write attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The row's primary key (unique per attempt, increasing).
    pub id: u64,
    /// When the attempt started, since the stream started.
    pub started: Duration,
    /// How long it took.
    pub took: Duration,
    /// What happened.
    pub outcome: Outcome,
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
            .filter(|a| a.outcome == Outcome::Acked)
            .map(|a| a.id)
            .collect()
    }

    /// Attempts that were not acknowledged.
    pub fn failures(&self) -> Vec<&Attempt> {
        self.attempts
            .iter()
            .filter(|a| a.outcome != Outcome::Acked)
            .collect()
    }

    /// The longest time between the starts of two consecutive acknowledged writes.
    pub fn longest_gap(&self) -> Duration {
        let acked: Vec<Duration> = self
            .attempts
            .iter()
            .filter(|a| a.outcome == Outcome::Acked)
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
            Outcome::Acked => "acked".to_owned(),
            Outcome::NotApplied(e) => format!("not applied ({})", first_words(e)),
            Outcome::Unknown(e) => format!("unknown ({})", first_words(e)),
        };
        let mut flush = |run: Option<(&Attempt, &Attempt, usize)>| {
            if let Some((first, last, n)) = run {
                lines.push(format!(
                    "  {:>7.2}-{:.2} s {} x{n}",
                    first.started.as_secs_f64(),
                    last.started.as_secs_f64(),
                    kind(&first.outcome)
                ));
            }
        };
        for a in &self.attempts {
            run = match run {
                Some((first, _, n)) if kind(&first.outcome) == kind(&a.outcome) => {
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
            .filter(|a| matches!(a.outcome, Outcome::Unknown(_)))
            .count();
        let slowest = self.attempts.iter().map(|a| a.took).max();
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

/// Creates [`TABLE`] through the writer VIP, waiting until a writer takes it.
fn create_table(c: &Cluster) {
    wait(c, "the writer VIP taking writes", || {
        c.app_exec(
            WRITER_VIP,
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
    acked: Arc<AtomicUsize>,
    done: tokio::sync::oneshot::Receiver<Ledger>,
}

impl WriteStream {
    /// Creates the table through the writer VIP (waiting until a writer takes it) and starts
    /// writing one row every 20 ms, each on a new connection.
    pub fn start(c: &Cluster) -> Self {
        create_table(c);
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let opts = app_opts(WRITER_VIP, c.mmm_config().mysql_port);
        let done = c
            .client()
            .netns()
            .spawn_future(write_loop(opts, Arc::clone(&stop), Arc::clone(&acked)))
            .expect("start the client in its namespace");
        Self { stop, acked, done }
    }

    /// Waits until `n` more writes have been acknowledged (to whichever server holds the VIP).
    pub fn wait_acks(&self, c: &Cluster, n: usize) {
        let target = self.acked.load(Ordering::SeqCst) + n;
        wait(c, &format!("{n} more acknowledged writes"), || {
            self.acked.load(Ordering::SeqCst) >= target
        });
    }

    /// Stops writing and returns every attempt.
    pub fn stop(self) -> Ledger {
        self.stop.store(true, Ordering::SeqCst);
        self.done.blocking_recv().expect("the client's ledger")
    }
}

async fn write_loop(
    opts: mysql_async::Opts,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
) -> Ledger {
    let t0 = Instant::now();
    let mut ledger = Ledger::default();
    let mut next = t0;
    for id in 1.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let started = Instant::now();
        let outcome = write_one(opts.clone(), id).await;
        if outcome == Outcome::Acked {
            acked.fetch_add(1, Ordering::SeqCst);
        }
        ledger.attempts.push(Attempt {
            id,
            started: started - t0,
            took: started.elapsed(),
            outcome,
        });
        next += WRITE_EVERY;
        tokio::time::sleep_until(next.max(Instant::now()).into()).await;
    }
    ledger
}

async fn write_one(opts: mysql_async::Opts, id: u64) -> Outcome {
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, mysql_async::Conn::new(opts)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Outcome::NotApplied(format!("connect: {e}")),
        Err(_) => return Outcome::NotApplied("connect: timed out".to_owned()),
    };
    let sql = format!("INSERT INTO {TABLE} (id, server_id) VALUES ({id}, @@server_id)");
    let outcome = match tokio::time::timeout(STATEMENT_TIMEOUT, conn.query_drop(sql)).await {
        Ok(Ok(())) => Outcome::Acked,
        Ok(Err(mysql_async::Error::Server(e))) => Outcome::NotApplied(format!("refused: {e}")),
        Ok(Err(e)) => Outcome::Unknown(e.to_string()),
        Err(_) => Outcome::Unknown("statement timed out".to_owned()),
    };
    let _ = tokio::time::timeout(STATEMENT_TIMEOUT, conn.disconnect()).await;
    outcome
}

fn app_opts(ip: &str, port: u16) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(ip.to_owned())
        .tcp_port(port)
        .user(Some(APP_USER))
        .pass(Some(APP_PASSWORD))
        .db_name(Some(TEST_DB))
        .prefer_socket(false)
        .into()
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
    let opts = app_opts(vip, c.mmm_config().mysql_port);
    let sql = format!("SELECT @@server_id, (SELECT COUNT(*) FROM {TABLE} WHERE id = {id})");
    c.client()
        .block_on(async move {
            let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, mysql_async::Conn::new(opts))
                .await
                .map_err(|_| "connect: timed out".to_owned())?
                .map_err(|e| format!("connect: {e}"))?;
            let row: Option<(u32, u64)> =
                tokio::time::timeout(STATEMENT_TIMEOUT, conn.query_first(sql))
                    .await
                    .map_err(|_| "query: timed out".to_owned())?
                    .map_err(|e| format!("query: {e}"))?;
            let _ = tokio::time::timeout(STATEMENT_TIMEOUT, conn.disconnect()).await;
            let (server_id, count) = row.ok_or("query: no row")?;
            Ok(Read {
                server_id,
                has_row: count == 1,
            })
        })
        .map_err(|e| e.to_string())?
}

/// Writes one row through the writer VIP (waiting until a writer takes it) and returns its id
/// and the `server_id` that executed it. Ids from 1,000,000,000 on never clash with a stream's.
pub fn write_marker(c: &Cluster, id: u64) -> u32 {
    create_table(c);
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
    for a in ledger
        .attempts
        .iter()
        .filter(|a| a.outcome == Outcome::Acked)
    {
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
