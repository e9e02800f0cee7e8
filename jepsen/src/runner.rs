//! One run: launch the cluster (real daemons, real MariaDB), start the sampler and the
//! workloads, play the schedule, heal, read what every server holds, then check and report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use mmm_lab::cluster::{Binaries, Cluster, ClusterOptions};
use mmm_lab::sampler::{Observation, Sampler};
use mmm_lab::topology::NodeMode;
use mysql_async::prelude::Queryable;

use crate::history::{Event, Fault, History, HostMeta, Meta, Micros, Obs, Phase, Rows, Sample};
use crate::nemesis::{self, Targets};
use crate::schedule::Schedule;
use crate::workloads::{self, Context, SCHEMA};

/// The sampler's period.
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(50);
/// Workloads run this long before the first fault.
const WARM_UP: Duration = Duration::from_secs(5);
/// How long the servers may take after the run to hold every acknowledged insert.
const FINAL_SYNC: Duration = Duration::from_secs(20);

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The fault schedule.
    pub schedule: Schedule,
    /// Semi-synchronous replication between the masters.
    pub semi_sync: bool,
    /// The programs (built by the caller through cargo).
    pub binaries: Binaries,
    /// Where the report goes (created).
    pub results: PathBuf,
    /// Lab tag (namespace prefix).
    pub tag: String,
    /// Keep mysql-mmm's flap detection (`flap_count` 3 within an hour). A schedule fails the
    /// writer more often than that, so a flapping host then waits in AWAITING_RECOVERY for an
    /// operator's `set_online`, as mysql-mmm does, and `convergence` fails by design; off by
    /// default (`flap_count 0`), so the run shows whether the cluster heals on its own.
    pub flap_detection: bool,
}

/// The monitors' extra configuration when flap detection is off.
const NO_FLAP_DETECTION: &str = "<monitor>\n    flap_count 0\n</monitor>";

/// The latest observation per (host, probe), for aiming faults.
#[derive(Debug, Default)]
struct Latest {
    by_host: BTreeMap<(String, &'static str), Obs>,
}

impl Latest {
    fn note(&mut self, s: &Sample) {
        let probe = match &s.obs {
            Obs::Server { .. } => "server",
            Obs::Vips { .. } => "vips",
            Obs::Agent { .. } => "agent",
            Obs::Monitor { .. } => "monitor",
            Obs::Down { .. } => return,
        };
        self.by_host.insert((s.host.clone(), probe), s.obs.clone());
    }

    /// The host whose server is writable, else the one holding the writer VIP.
    fn writer(&self, writer_vip: &str) -> Option<String> {
        let writable = self.by_host.iter().find_map(|((h, _), o)| match o {
            Obs::Server {
                read_only: false, ..
            } => Some(h.clone()),
            _ => None,
        });
        writable.or_else(|| {
            self.by_host.iter().find_map(|((h, _), o)| match o {
                Obs::Vips { ips } if ips.iter().any(|i| i == writer_vip) => Some(h.clone()),
                _ => None,
            })
        })
    }

    /// The monitor that says it leads in the highest term.
    fn leader(&self) -> Option<String> {
        self.by_host
            .iter()
            .filter_map(|((h, _), o)| match o {
                Obs::Monitor {
                    this_id,
                    leader_id,
                    term,
                    ..
                } if this_id == leader_id => Some((*term, h.clone())),
                _ => None,
            })
            .max()
            .map(|(_, h)| h)
    }
}

/// A finished run: its history and where its report is.
#[derive(Debug)]
pub struct RunOutcome {
    /// Everything recorded.
    pub history: History,
    /// The results directory.
    pub dir: PathBuf,
}

/// Copies every daemon's log into `results/logs/NAME.log`, so a failed run can be read after the
/// lab is gone (a log that cannot be written is reported, not fatal).
fn save_logs(cluster: &Cluster, results: &std::path::Path) {
    let dir = results.join("logs");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("creating {}: {e}", dir.display());
        return;
    }
    for name in cluster
        .agent_names()
        .into_iter()
        .chain(cluster.monitor_names())
    {
        let path = dir.join(format!("{name}.log"));
        if let Err(e) = std::fs::write(&path, cluster.log(&name)) {
            eprintln!("writing {}: {e}", path.display());
        }
    }
}

/// Runs the schedule on a fresh cluster and returns the history (the caller checks and reports).
pub fn run(cfg: &RunConfig) -> Result<RunOutcome> {
    std::fs::create_dir_all(&cfg.results)
        .with_context(|| format!("creating {}", cfg.results.display()))?;
    let mut opts = ClusterOptions::new(&cfg.tag, cfg.binaries.clone());
    opts.semi_sync = cfg.semi_sync;
    if !cfg.flap_detection {
        opts.extra_config = NO_FLAP_DETECTION.to_owned();
    }
    let mut cluster = Cluster::launch(opts).context("launching the lab cluster")?;
    println!(
        "lab {} up (pids {:?}); results in {}",
        cluster.lab().prefix(),
        daemon_pids(&cluster),
        cfg.results.display()
    );
    cluster.bring_online(Duration::from_secs(90))?;
    let writer_vip = cluster.writer_vip().to_string();
    for sql in SCHEMA {
        cluster.wait_for(
            &format!("`{sql}` through the writer VIP"),
            Duration::from_secs(30),
            || cluster.app_exec(&writer_vip, sql).is_ok(),
        )?;
    }
    let t0 = Instant::now();
    let (events_tx, events_rx) = channel::<Event>();
    let latest = Arc::new(Mutex::new(Latest::default()));
    let (samples_tx, samples_rx) = channel();
    let sampler = Sampler::start(&cluster, SAMPLE_PERIOD, samples_tx)?;
    let converter = spawn_converter(t0, samples_rx, events_tx.clone(), latest.clone());
    let meta = meta(&cluster, cfg);
    let _ = events_tx.send(Event::Meta(meta.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let ctx = workload_context(
        &cluster,
        t0,
        events_tx.clone(),
        stop.clone(),
        cfg.schedule.seed,
    );
    let workloads_done = cluster
        .client()
        .netns()
        .spawn_future(workloads::run_all(ctx))?;
    let collector = std::thread::spawn(move || collect(events_rx));
    std::thread::sleep(WARM_UP);
    let played = play(
        &mut cluster,
        &cfg.schedule,
        t0,
        &events_tx,
        &latest,
        &writer_vip,
    );
    if let Err(e) = nemesis::heal_links(&cluster) {
        eprintln!("healing links at the end: {e:#}");
    }
    stop.store(true, Ordering::Relaxed);
    let _ = workloads_done.blocking_recv();
    sampler.stop();
    let _ = converter.join();
    drop(events_tx);
    let mut history = collector
        .join()
        .map_err(|_| anyhow!("the collector panicked"))?;
    played?;
    read_rows(&cluster, t0, &mut history);
    let mut file = std::fs::File::create(cfg.results.join("history.jsonl"))?;
    history.write(&mut std::io::BufWriter::new(&mut file))?;
    save_logs(&cluster, &cfg.results);
    cluster.shutdown();
    Ok(RunOutcome {
        history,
        dir: cfg.results.clone(),
    })
}

fn daemon_pids(c: &Cluster) -> Vec<u32> {
    c.agent_names()
        .iter()
        .chain(c.monitor_names().iter())
        .filter_map(|n| c.pid(n))
        .chain(c.topology().nodes.iter().filter_map(|n| n.db.pid()))
        .collect()
}

fn micros(t0: Instant, i: Instant) -> Micros {
    u64::try_from(i.saturating_duration_since(t0).as_micros()).unwrap_or(u64::MAX)
}

/// Plays every step: aim, apply, hold, heal, settle. A step whose fault cannot be applied is
/// recorded and skipped; a heal that fails stops the run (the system is then in an unknown state).
fn play(
    c: &mut Cluster,
    schedule: &Schedule,
    t0: Instant,
    out: &std::sync::mpsc::Sender<Event>,
    latest: &Mutex<Latest>,
    writer_vip: &str,
) -> Result<()> {
    for (i, step) in schedule.steps.iter().enumerate() {
        let name = step.nemesis.name();
        let targets = aim(c, latest, writer_vip);
        let fault = |phase, detail: String| {
            println!(
                "[{:>8.3}s] step {i} {name} {phase:?}: {detail}",
                t0.elapsed().as_secs_f64()
            );
            let _ = out.send(Event::Fault(Fault {
                at: micros(t0, Instant::now()),
                step: i,
                nemesis: name.clone(),
                phase,
                detail,
            }));
        };
        let applied = nemesis::apply(c, &step.nemesis, &targets);
        let undo = match applied {
            Ok((detail, undo)) => {
                fault(Phase::Start, format!("{detail} (aimed at {targets:?})"));
                undo
            }
            Err(e) => {
                fault(Phase::Start, format!("could not apply: {e:#}"));
                fault(Phase::Heal, "nothing to heal".to_owned());
                std::thread::sleep(step.quiet);
                continue;
            }
        };
        std::thread::sleep(step.hold);
        let healed = nemesis::heal(c, &undo).with_context(|| format!("healing step {i} {name}"))?;
        fault(Phase::Heal, healed);
        std::thread::sleep(step.quiet);
    }
    Ok(())
}

fn aim(c: &Cluster, latest: &Mutex<Latest>, writer_vip: &str) -> Targets {
    let (writer, leader) = {
        let l = latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (l.writer(writer_vip), l.leader())
    };
    let writer = writer.unwrap_or_else(|| "db1".to_owned());
    let other_master = c
        .topology()
        .nodes
        .iter()
        .find(|n| n.mode == NodeMode::Master && n.host.name() != writer)
        .map_or_else(|| "db2".to_owned(), |n| n.host.name().to_owned());
    Targets {
        writer,
        other_master,
        leader,
    }
}

fn meta(c: &Cluster, cfg: &RunConfig) -> Meta {
    let t = &c.options().timings;
    let config = c.mmm_config();
    Meta {
        seed: cfg.schedule.seed,
        semi_sync: cfg.semi_sync,
        hosts: c
            .topology()
            .nodes
            .iter()
            .map(|n| HostMeta {
                name: n.host.name().to_owned(),
                ip: n.host.ip().to_string(),
                server_id: n.db.server_id(),
                mode: match n.mode {
                    NodeMode::Master => "master".to_owned(),
                    NodeMode::Slave => "slave".to_owned(),
                },
            })
            .collect(),
        monitors: c.monitor_names(),
        writer_vip: config.writer_ip.to_string(),
        reader_vips: config.reader_ips.iter().map(ToString::to_string).collect(),
        trap_ms: u64::try_from(t.trap_period.as_millis()).unwrap_or(u64::MAX),
        lease_ms: u64::try_from(t.agent_lease.as_millis()).unwrap_or(u64::MAX),
        sample_ms: u64::try_from(SAMPLE_PERIOD.as_millis()).unwrap_or(u64::MAX),
        flap_detection: cfg.flap_detection,
    }
}

fn workload_context(
    c: &Cluster,
    t0: Instant,
    out: std::sync::mpsc::Sender<Event>,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> Context {
    let config = c.mmm_config();
    Context {
        t0,
        writer_vip: config.writer_ip,
        reader_vips: config.reader_ips.clone(),
        hosts: config
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.ip))
            .collect(),
        port: config.mysql_port,
        out,
        stop,
        seed,
    }
}

/// Turns the sampler's samples into history events and keeps the latest view.
fn spawn_converter(
    t0: Instant,
    rx: Receiver<mmm_lab::sampler::Sample>,
    out: std::sync::mpsc::Sender<Event>,
    latest: Arc<Mutex<Latest>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for s in rx {
            let sample = Sample {
                host: s.host,
                start: micros(t0, s.start),
                end: micros(t0, s.end),
                obs: convert(s.observation),
            };
            latest
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .note(&sample);
            if out.send(Event::Sample(sample)).is_err() {
                return;
            }
        }
    })
}

fn convert(o: Observation) -> Obs {
    match o {
        Observation::Server {
            read_only,
            server_id,
            replication,
        } => Obs::Server {
            read_only,
            server_id,
            replicating: replication
                .as_ref()
                .is_some_and(|r| r.io_running && r.sql_running),
            master: replication.map(|r| r.master_host),
        },
        Observation::Vips(ips) => Obs::Vips {
            ips: ips.iter().map(ToString::to_string).collect(),
        },
        Observation::Agent {
            epoch,
            lease_remaining_ms,
            roles,
            state,
            ..
        } => Obs::Agent {
            epoch,
            lease_ms: lease_remaining_ms,
            roles,
            state,
        },
        Observation::Monitor {
            this_id,
            leader_id,
            term,
            epoch,
            ..
        } => Obs::Monitor {
            this_id,
            leader_id,
            term,
            epoch,
        },
        Observation::Down { what, error } => Obs::Down {
            what: what.to_owned(),
            error,
        },
    }
}

fn collect(rx: Receiver<Event>) -> History {
    let mut h = History::default();
    for e in rx {
        h.push(e);
    }
    h
}

/// Reads the inserted ids from every server once each holds every acknowledged insert (or
/// [`FINAL_SYNC`] has passed: then what it holds is recorded, and the checker says what is missing).
fn read_rows(c: &Cluster, t0: Instant, h: &mut History) {
    let acked: Vec<u64> = h
        .ops
        .iter()
        .filter(|o| o.acked_write())
        .filter_map(|o| match o.kind {
            crate::history::OpKind::Insert { id } => Some(id),
            _ => None,
        })
        .collect();
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    for node in &c.topology().nodes {
        let deadline = Instant::now() + FINAL_SYNC;
        let rows = loop {
            let got = rt.block_on(ids_on(&node.db));
            let complete = got
                .as_ref()
                .is_ok_and(|ids| acked.iter().all(|a| ids.binary_search(a).is_ok()));
            if complete || Instant::now() >= deadline {
                break got;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let (ids, error) = match rows {
            Ok(ids) => (Some(ids), None),
            Err(e) => (None, Some(e.to_string())),
        };
        h.rows.push(Rows {
            at: micros(t0, Instant::now()),
            host: node.host.name().to_owned(),
            ids,
            error,
            replication: rt.block_on(replication_on(&node.db)),
        });
    }
}

/// One line on `db`'s replication: source, both threads, GTID positions and the last errors.
async fn replication_on(db: &mmm_lab::MariaDb) -> Option<String> {
    let status = match mmm_lab::replication::slave_status(db).await {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => return Some(format!("SHOW SLAVE STATUS failed: {e}")),
    };
    let g = |name: &str| status.get(name).to_owned();
    Some(format!(
        "from {} (IO {}, SQL {}, Gtid_IO_Pos {}, Exec {}:{}), last IO error: {:?}, last SQL error: {:?}",
        g("Master_Host"),
        g("Slave_IO_Running"),
        g("Slave_SQL_Running"),
        g("Gtid_IO_Pos"),
        g("Relay_Master_Log_File"),
        g("Exec_Master_Log_Pos"),
        g("Last_IO_Error"),
        g("Last_SQL_Error"),
    ))
}

async fn ids_on(db: &mmm_lab::MariaDb) -> Result<Vec<u64>> {
    let mut conn = db.root_conn().await?;
    let ids: Vec<u64> = tokio::time::timeout(
        Duration::from_secs(10),
        conn.query("SELECT id FROM mmm_test.jepsen_ids ORDER BY id"),
    )
    .await
    .map_err(|_| anyhow!("reading ids timed out"))??;
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
    Ok(ids)
}
