//! Recording one run: the client's paced writes through the writer VIP (each one
//! `mmm_lab::workload::execute` — a new connection with a short connect deadline — started every
//! [`WRITE_EVERY`] from the client namespace, whether or not the earlier ones have finished, so
//! an outage is seen with that resolution), the lab sampler every [`SAMPLE_EVERY`], the
//! benchmark's own actions, and when the run ends the daemons' log lines written meanwhile and
//! the replicated history.
//!
//! Clocks: everything the benchmark process sees is stamped with its monotonic clock, in
//! microseconds since the recorder started. Daemon log lines and history entries carry wall-clock
//! stamps; they are moved onto the same scale by one (monotonic, wall) pair read together at the
//! start, which is exact as long as the wall clock is not stepped during the run.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use mmm_lab::cluster::Cluster;
use mmm_lab::sampler::{Observation, Sample, Sampler};
use mmm_lab::workload::{Outcome, Target, execute};

use crate::events::{Event, Micros, What, WriteOutcome, sort};
use crate::logs::parse_json_line;

/// A new write is started this often.
pub const WRITE_EVERY: Duration = Duration::from_millis(20);
/// The sampler's period.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Most writes in flight at once (a write takes at most its 250 ms connect deadline plus its 2 s
/// statement deadline, so this bound is only reached when the server hangs mid-statement).
const MAX_IN_FLIGHT: usize = 128;
/// The table the writes go to (in the lab's test database).
pub const TABLE: &str = "bench_writes";
/// Creates [`TABLE`].
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS bench_writes \
     (id BIGINT PRIMARY KEY, run INT NOT NULL, server_id INT NOT NULL)";

/// The events of a run so far, shared by the writer tasks, the sampler thread and the caller.
type Shared = Arc<Mutex<Vec<Event>>>;

fn lock(events: &Shared) -> MutexGuard<'_, Vec<Event>> {
    events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running recorder of one run.
#[derive(Debug)]
pub struct Recorder {
    t0: Instant,
    t0_wall_us: i64,
    events: Shared,
    stop: Arc<AtomicBool>,
    writes_done: tokio::sync::oneshot::Receiver<()>,
    sampler: Sampler,
    converter: std::thread::JoinHandle<()>,
    log_offsets: BTreeMap<String, u64>,
}

impl Recorder {
    /// Starts writing (row ids from `ids`, tagged with `run`) and sampling.
    pub fn start(cluster: &Cluster, run: u32, ids: Arc<AtomicU64>) -> Result<Self> {
        let log_offsets = daemon_names(cluster)
            .into_iter()
            .map(|n| {
                let len = cluster
                    .log_path(&n)
                    .ok()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map_or(0, |m| m.len());
                (n, len)
            })
            .collect();
        let t0 = Instant::now();
        let t0_wall_us = wall_us(SystemTime::now());
        let events: Shared = Arc::new(Mutex::new(Vec::with_capacity(16_384)));
        let stop = Arc::new(AtomicBool::new(false));
        let target = Target::new(cluster.writer_vip(), cluster.mmm_config().mysql_port);
        let writer = paced_writes(target, run, ids, t0, events.clone(), stop.clone());
        let writes_done = cluster.client().netns().spawn_future(writer)?;
        let (tx, rx) = std::sync::mpsc::channel::<Sample>();
        let sampler = Sampler::start(cluster, SAMPLE_EVERY, tx)?;
        let sink = events.clone();
        let converter = std::thread::spawn(move || {
            for s in rx {
                let e = sample_event(t0, &s);
                lock(&sink).push(e);
            }
        });
        Ok(Self {
            t0,
            t0_wall_us,
            events,
            stop,
            writes_done,
            sampler,
            converter,
            log_offsets,
        })
    }

    /// Now, on the run's clock.
    pub fn now(&self) -> Micros {
        micros(self.t0, Instant::now())
    }

    /// Records one of the benchmark's own actions at `at`.
    pub fn note(&self, at: Micros, host: &str, what: What) {
        lock(&self.events).push(Event {
            at,
            host: host.to_owned(),
            what,
        });
    }

    /// Whether an event recorded so far satisfies `pred`.
    pub fn any(&self, pred: impl Fn(&Event) -> bool) -> bool {
        lock(&self.events).iter().any(pred)
    }

    /// Runs `f` over the events recorded so far (in arrival order).
    pub fn with_events<T>(&self, f: impl FnOnce(&[Event]) -> T) -> T {
        f(&lock(&self.events))
    }

    /// Polls `cond` every 20 ms until it holds (true) or `limit` passes (false).
    pub fn wait(&self, limit: Duration, cond: impl Fn(&[Event]) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.with_events(&cond) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops writing and sampling, adds the daemons' log lines written since the start and the
    /// replicated history, and returns every event sorted by time.
    pub fn finish(self, cluster: &Cluster) -> Vec<Event> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.writes_done.blocking_recv();
        self.sampler.stop();
        let _ = self.converter.join();
        let mut events = std::mem::take(&mut *lock(&self.events));
        for (name, offset) in &self.log_offsets {
            let Ok(path) = cluster.log_path(name) else {
                continue;
            };
            events.extend(read_log(&path, *offset, name, self.t0_wall_us));
        }
        events.extend(history(cluster, self.t0_wall_us));
        sort(&mut events);
        events
    }
}

fn daemon_names(cluster: &Cluster) -> Vec<String> {
    let mut names = cluster.agent_names();
    names.extend(cluster.monitor_names());
    names
}

/// `i` on the clock that starts at `t0`.
pub fn micros(t0: Instant, i: Instant) -> Micros {
    match i.checked_duration_since(t0) {
        Some(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        None => -i64::try_from(t0.duration_since(i).as_micros()).unwrap_or(i64::MAX),
    }
}

fn wall_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Starts a write every [`WRITE_EVERY`] until `stop`, then waits for the ones in flight.
async fn paced_writes(
    target: Target,
    run: u32,
    ids: Arc<AtomicU64>,
    t0: Instant,
    events: Shared,
    stop: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(WRITE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = tokio::task::JoinSet::new();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= MAX_IN_FLIGHT {
            continue;
        }
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let target = target.clone();
        let events = events.clone();
        tasks.spawn(async move {
            let sql = format!(
                "INSERT INTO {TABLE} (id, run, server_id) VALUES ({id}, {run}, @@server_id)"
            );
            let r = execute(&target, &sql).await;
            let outcome = match r.outcome {
                Outcome::Ok(_) => WriteOutcome::Ack,
                Outcome::Failed(_) => WriteOutcome::Failed,
                Outcome::Unknown(_) => WriteOutcome::Unknown,
            };
            let e = Event {
                at: micros(t0, r.end),
                host: "client".to_owned(),
                what: What::Write {
                    start: micros(t0, r.start),
                    id,
                    server_id: r.server_id,
                    outcome,
                },
            };
            lock(&events).push(e);
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// A sampler probe as an event.
pub fn sample_event(t0: Instant, s: &Sample) -> Event {
    let start = micros(t0, s.start);
    let what = match &s.observation {
        Observation::Server {
            read_only,
            server_id,
            ..
        } => What::Server {
            start,
            read_only: *read_only,
            server_id: *server_id,
        },
        Observation::Vips(ips) => What::Vips {
            start,
            ips: ips.clone(),
        },
        Observation::Agent {
            epoch,
            lease_remaining_ms,
            ..
        } => What::Agent {
            start,
            epoch: *epoch,
            lease_remaining_ms: *lease_remaining_ms,
        },
        Observation::Monitor {
            leader_id,
            leader_name,
            term,
            ..
        } => What::Monitor {
            start,
            leader: if *leader_id == 0 {
                String::new()
            } else {
                leader_name.clone()
            },
            term: *term,
        },
        Observation::Down { what, .. } => What::Down {
            start,
            probe: (*what).to_owned(),
        },
    };
    Event {
        at: micros(t0, s.end),
        host: s.host.clone(),
        what,
    }
}

/// The JSON log lines `name` appended to `path` after `offset`, as events.
fn read_log(path: &std::path::Path, offset: u64, name: &str, t0_wall_us: i64) -> Vec<Event> {
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(offset))?;
        f.read_to_string(&mut text)
    });
    if let Err(e) = read {
        eprintln!("mmm-bench: reading {}: {e}", path.display());
        return Vec::new();
    }
    text.lines()
        .filter_map(parse_json_line)
        .map(|l| Event {
            at: l.unix_us - t0_wall_us,
            host: name.to_owned(),
            what: What::Log {
                level: l.level,
                text: l.text,
            },
        })
        .collect()
}

/// The replicated history's entries since the start, as [`What::Decided`] events.
fn history(cluster: &Cluster, t0_wall_us: i64) -> Vec<Event> {
    let parsed = cluster
        .mmmctl(&["--json", "history", "--limit", "200"])
        .context("mmmctl history")
        .and_then(|out| {
            anyhow::ensure!(out.status.success(), "mmmctl history failed");
            Ok(serde_json::from_slice::<serde_json::Value>(&out.stdout)?)
        });
    let v = match parsed {
        Ok(v) => v,
        Err(e) => {
            eprintln!("mmm-bench: no replicated history for this run: {e:#}");
            return Vec::new();
        }
    };
    history_events(&v, t0_wall_us)
}

/// The entries of a `mmmctl --json history` document stamped at or after `t0_wall_us` (minus
/// a millisecond, the stamps' resolution).
pub fn history_events(doc: &serde_json::Value, t0_wall_us: i64) -> Vec<Event> {
    let entries = doc
        .get("entries")
        .and_then(|e| e.as_array())
        .cloned()
        .unwrap_or_default();
    entries
        .iter()
        .filter_map(|e| {
            let at_ms = e.get("at_ms")?.as_i64()?;
            let line = e.get("line")?.as_str()?;
            Some(Event {
                at: at_ms * 1000 - t0_wall_us,
                host: "leader".to_owned(),
                what: What::Decided {
                    line: line.to_owned(),
                },
            })
        })
        .filter(|e| e.at >= -1000)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_entries_move_onto_the_run_clock() {
        let doc = serde_json::json!({"version": 1, "entries": [
            {"epoch": 3, "at_ms": 1_000_000, "line": "old"},
            {"epoch": 4, "at_ms": 1_000_250, "line": "State of host 'db1' changed from ONLINE to HARD_OFFLINE"},
        ]});
        let e = history_events(&doc, 1_000_000_000 + 100_000);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].at, 150_000);
        assert!(matches!(&e[0].what, What::Decided { line } if line.starts_with("State")));
        assert!(history_events(&serde_json::json!({"error": "x"}), 0).is_empty());
    }

    #[test]
    fn instants_before_the_start_are_negative() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(3);
        assert_eq!(micros(t0, later), 3000);
        assert_eq!(micros(later, t0), -3000);
    }

    #[test]
    fn samples_become_events() {
        let t0 = Instant::now();
        let s = Sample {
            host: "mon1".into(),
            start: t0 + Duration::from_millis(10),
            end: t0 + Duration::from_millis(12),
            observation: Observation::Monitor {
                this_id: 1,
                leader_id: 0,
                leader_name: "mon1".into(),
                term: 5,
                epoch: 9,
            },
        };
        let e = sample_event(t0, &s);
        assert_eq!(e.at, 12_000);
        assert_eq!(e.start(), 10_000);
        assert_eq!(
            e.what,
            What::Monitor {
                start: 10_000,
                leader: String::new(),
                term: 5
            }
        );
    }
}
