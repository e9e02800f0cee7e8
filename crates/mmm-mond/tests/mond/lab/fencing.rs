//! The writer's agent killed (kill -9), stopped (SIGTERM) or frozen (SIGSTOP), then
//! `move_role writer db2`: the leader hands the writer on only with a proof that db1 cannot
//! write (its agent gave the role up, or the leader fenced db1's MySQL over SQL), so db1 and db2
//! never both have read_only=0 (both servers sampled every 25 ms from inside their namespaces),
//! and a frozen agent that wakes up later with old statuses in its socket does not turn db1
//! writable again.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mmm_lab::cluster::Cluster;
use mmm_lab::sampler::{Observation, Sample, Sampler};

use super::{WRITER_IP, bring_up, exec_root, start, wait_for};

const PERIOD: Duration = Duration::from_millis(25);

/// The read_only samples of each database host, checked for two writers as they come.
///
/// A host is surely writable between two consecutive samples that both read `read_only=0`
/// (from the end of the first probe to the start of the second); two hosts whose such intervals
/// overlap were writable at once. Probe order alone never makes an overlap: a handoff faster
/// than the sampling period is not mistaken for two writers.
pub(super) struct SingleWriter {
    rx: mpsc::Receiver<Sample>,
    sampler: Option<Sampler>,
    /// Per host: its latest sample (writable, probe start, probe end).
    last: BTreeMap<String, (bool, Instant, Instant)>,
    /// Per host: its latest interval of sure writability.
    sure: BTreeMap<String, (Instant, Instant)>,
    /// Per host: when its latest sample reading `read_only=1` started.
    read_only_at: BTreeMap<String, Instant>,
}

impl SingleWriter {
    /// Starts sampling `c`.
    pub(super) fn start(c: &Cluster) -> SingleWriter {
        let (tx, rx) = mpsc::channel();
        let sampler = Sampler::start(c, PERIOD, tx).expect("sampler");
        SingleWriter {
            rx,
            sampler: Some(sampler),
            last: BTreeMap::new(),
            sure: BTreeMap::new(),
            read_only_at: BTreeMap::new(),
        }
    }

    /// Reads every sample so far; fails when two hosts' intervals of sure writability overlap.
    pub(super) fn check(&mut self) {
        while let Ok(s) = self.rx.try_recv() {
            let Observation::Server { read_only, .. } = s.observation else {
                continue;
            };
            let writable = !read_only;
            if read_only {
                self.read_only_at.insert(s.host.clone(), s.start);
            }
            let before = self.last.insert(s.host.clone(), (writable, s.start, s.end));
            let Some((true, _, prev_end)) = before.filter(|_| writable) else {
                continue;
            };
            let interval = (prev_end, s.start);
            for (other, (from, to)) in &self.sure {
                assert!(
                    *other == s.host || interval.1 < *from || *to < interval.0,
                    "{} and {other} both had read_only=0 at once (between consecutive samples of each)",
                    s.host
                );
            }
            self.sure.insert(s.host.clone(), interval);
        }
    }

    /// Waits (checking every sample) until db2 holds the writer VIP and reads writable.
    pub(super) fn wait_db2_writer(&mut self, c: &Cluster) {
        wait_for(
            c,
            "db2 writable with the writer VIP",
            Duration::from_secs(60),
            || {
                self.check();
                c.has_ip("db2", WRITER_IP) && self.writable("db2")
            },
        );
    }

    /// Whether the latest sample of `host` says writable.
    pub(super) fn writable(&self, host: &str) -> bool {
        self.last.get(host).is_some_and(|(w, _, _)| *w)
    }

    /// When the latest sample of `host` that read `read_only=1` was taken, if any was.
    pub(super) fn read_only_at(&self, host: &str) -> Option<Instant> {
        self.read_only_at.get(host).copied()
    }

    /// Keeps checking for `how_long`.
    pub(super) fn watch(&mut self, how_long: Duration) {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            self.check();
            std::thread::sleep(PERIOD);
        }
        self.check();
    }

    /// Stops sampling and checks what is left.
    pub(super) fn stop(mut self) {
        if let Some(s) = self.sampler.take() {
            s.stop();
        }
        self.check();
    }
}

/// What happens to db1's agent before the move.
#[derive(Clone, Copy)]
enum AgentFault {
    Kill9,
    Sigterm,
    Sigstop,
}

/// Brings the cluster up, applies `fault` to db1's agent, moves the writer to db2 and waits
/// until db2 takes writes through the VIP, never seeing two writers; returns the sampler.
fn fault_then_move(c: &mut Cluster, fault: AgentFault) -> SingleWriter {
    bring_up(c);
    let mut w = SingleWriter::start(c);
    match fault {
        AgentFault::Kill9 => c.kill9("db1").expect("kill -9 the agent on db1"),
        AgentFault::Sigterm => c.stop("db1").expect("SIGTERM the agent on db1"),
        AgentFault::Sigstop => c.freeze("db1").expect("SIGSTOP the agent on db1"),
    }
    let (ok, out) = c.mmmctl_text(&["move_role", "writer", "db2"]);
    assert!(ok, "move_role failed: {out}");
    let t0 = Instant::now();
    w.wait_db2_writer(c);
    println!("writer on db2 {:?} after move_role", t0.elapsed());
    w.watch(Duration::from_secs(5));
    assert!(!w.writable("db1"), "db1 is not read-only");
    c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (3)")
        .expect("db2 takes writes through the VIP");
    w
}

#[test]
fn writer_agent_killed_then_move_role_fences_over_sql() {
    let Some(mut c) = start("mondk") else {
        return;
    };
    let w = fault_then_move(&mut c, AgentFault::Kill9);
    w.stop();
    let logs = c.logs();
    assert!(
        logs.contains("Fenced host 'db1' over SQL"),
        "no SQL fence in the logs:\n{logs}"
    );
}

#[test]
fn writer_agent_stopped_then_move_role_leaves_one_writer() {
    let Some(mut c) = start("monds") else {
        return;
    };
    fault_then_move(&mut c, AgentFault::Sigterm).stop();
}

#[test]
fn writer_agent_frozen_then_move_role_fences_and_its_late_statuses_change_nothing() {
    let Some(mut c) = start("mondf") else {
        return;
    };
    let mut w = fault_then_move(&mut c, AgentFault::Sigstop);
    // The frozen agent's socket holds statuses sent before the move; after SIGCONT it reads
    // them, and db1's server refuses writes at their epochs (the fence stored in it is higher).
    c.resume("db1").expect("SIGCONT the agent on db1");
    w.watch(Duration::from_secs(8));
    assert!(!w.writable("db1"), "db1 turned writable after SIGCONT");
    assert!(c.has_ip("db2", WRITER_IP), "the writer VIP left db2");
    w.stop();
}

/// Cuts db1 from every monitor (the sampler and clients still reach it); returns the monitor
/// hosts for the heal.
pub(super) fn cut_db1(c: &Cluster) -> Vec<mmm_lab::Host> {
    let db1 = c.topology().host("db1").expect("db1").clone();
    let monitors: Vec<_> = c
        .monitor_names()
        .iter()
        .map(|m| c.host(m).expect("monitor host"))
        .collect();
    for m in &monitors {
        c.lab().cut(m, &db1).expect("cut a monitor from db1");
    }
    monitors
}

/// Heals what [`cut_db1`] cut.
pub(super) fn heal_db1(c: &Cluster, monitors: &[mmm_lab::Host]) {
    let db1 = c.topology().host("db1").expect("db1").clone();
    for m in monitors {
        c.lab().heal(m, &db1).expect("heal a monitor's link to db1");
    }
}

/// Freezes db1's agent and cuts db1 from every monitor; returns the monitor hosts.
fn freeze_and_cut_db1(c: &mut Cluster) -> Vec<mmm_lab::Host> {
    c.freeze("db1").expect("SIGSTOP the agent on db1");
    cut_db1(c)
}

/// db1's agent frozen (SIGSTOP), then db1 cut from every monitor while the sampler still
/// reaches it: no monitor can get a confirmation from db1, fence it over SQL or kill it, but its
/// server's own lease timer sets read_only=1 when the writer lease runs out, and the leader,
/// counting that lease from its own last status to db1, hands the writer to db2. Never two
/// writers; after SIGCONT db1's agent drops the VIP, and after the heal db1 stays read-only.
#[test]
fn a_frozen_writer_cut_from_every_monitor_is_fenced_by_its_server_timer_and_replaced() {
    let Some(mut c) = start("mondt") else {
        return;
    };
    bring_up(&c);
    let mut w = SingleWriter::start(&c);
    let monitors = freeze_and_cut_db1(&mut c);
    let t0 = Instant::now();
    w.wait_db2_writer(&c);
    println!("writer on db2 {:?} after the cut", t0.elapsed());
    assert!(!w.writable("db1"), "db1 is not read-only");
    let logs = c.logs();
    assert!(
        logs.contains("its server's lease timer has set read_only=1"),
        "the handoff did not come from the server timer:\n{logs}"
    );
    c.resume("db1").expect("SIGCONT the agent on db1");
    wait_for(
        &c,
        "db1's agent drops the writer VIP",
        Duration::from_secs(30),
        || {
            w.check();
            !c.has_ip("db1", WRITER_IP)
        },
    );
    heal_db1(&c, &monitors);
    w.watch(Duration::from_secs(10));
    assert!(!w.writable("db1"), "db1 turned writable after the heal");
    assert!(c.has_ip("db2", WRITER_IP), "the writer VIP left db2");
    w.stop();
}

/// The same cut with db1's event scheduler off, so its agent reports the server timer unusable:
/// time proves nothing, the writer stays orphaned (db1, whose frozen agent cannot fence it,
/// stays the only writer) and db2 never becomes writable.
#[test]
fn without_a_usable_server_timer_a_cut_writer_stays_orphaned() {
    let Some(mut c) = start("mondu") else {
        return;
    };
    bring_up(&c);
    exec_root(&c, "db1", "SET GLOBAL event_scheduler = OFF");
    c.restart("db1")
        .expect("restart db1's agent so it probes the scheduler again");
    wait_for(
        &c,
        "the monitors know db1's timer is unusable",
        Duration::from_secs(30),
        || {
            c.logs()
                .contains("Server lease timer on host 'db1' is not usable")
        },
    );
    let mut w = SingleWriter::start(&c);
    wait_for(&c, "db1 writable again", Duration::from_secs(30), || {
        w.check();
        c.has_ip("db1", WRITER_IP) && w.writable("db1")
    });
    let monitors = freeze_and_cut_db1(&mut c);
    wait_for(
        &c,
        "the writer role reported orphaned",
        Duration::from_secs(30),
        || {
            w.check();
            c.logs().contains("Writer role stays orphaned: host 'db1'")
        },
    );
    // Far past the server timer's bound (about 3.5 s at the lab's timings).
    w.watch(Duration::from_secs(10));
    assert!(!w.writable("db2"), "db2 became writable");
    assert!(!c.has_ip("db2", WRITER_IP), "db2 got the writer VIP");
    heal_db1(&c, &monitors);
    c.resume("db1").expect("SIGCONT the agent on db1");
    w.stop();
}

/// db1 (the writer, its agent running) cut from every monitor for 60 s while the sampler still
/// reaches it, then healed: db2 takes over once db1 is proven fenced, and neither during the
/// cut nor in the 120 s after the heal (when statuses sent before the cut may still arrive)
/// are two servers writable.
#[test]
fn a_writer_cut_from_the_monitors_for_a_minute_never_comes_back_as_a_second_writer() {
    let Some(c) = start("mondh") else {
        return;
    };
    bring_up(&c);
    let mut w = SingleWriter::start(&c);
    let t0 = Instant::now();
    let monitors = cut_db1(&c);
    w.wait_db2_writer(&c);
    println!("writer on db2 {:?} after the cut", t0.elapsed());
    w.watch(Duration::from_secs(60).saturating_sub(t0.elapsed()));
    heal_db1(&c, &monitors);
    println!("healed {:?} after the cut", t0.elapsed());
    w.watch(Duration::from_secs(120));
    assert!(!w.writable("db1"), "db1 writable after the heal");
    assert!(w.writable("db2"), "db2 lost the writer after the heal");
    assert!(c.has_ip("db2", WRITER_IP) && !c.has_ip("db1", WRITER_IP));
    w.stop();
}
