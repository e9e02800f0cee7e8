//! Steady-state cost: CPU (percent of one core, from `/proc/<pid>/stat` over fixed windows) and
//! resident memory of every daemon of an idle cluster at the fast profile — each `mmm-mond`
//! (leader marked), each `mmm-agentd`, and each `mariadbd` for comparison. Nothing else runs in
//! the lab while it is measured: no client, no sampler.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::procstat::{self, Reading};
use crate::profiles::{self, TimingsMs};
use crate::report::{DaemonIdle, IdleResult};
use crate::rig::{Rig, options};
use crate::stats::summarize;

/// After the cluster is steady, how long it is left alone before the first window (reader VIPs
/// settling, the last startup pushes).
const SETTLE: Duration = Duration::from_secs(10);

/// An idle case.
#[derive(Debug, Clone, Copy)]
pub struct IdleCase {
    /// `--case` name.
    pub name: &'static str,
    /// Database hosts.
    pub db_hosts: usize,
}

/// The idle cases: the seeds' three hosts and twenty.
pub const IDLE_CASES: &[IdleCase] = &[
    IdleCase {
        name: "idle-3-hosts",
        db_hosts: 3,
    },
    IdleCase {
        name: "idle-20-hosts",
        db_hosts: 20,
    },
];

/// One process measured.
struct Proc {
    name: String,
    program: &'static str,
    pid: u32,
}

/// Measures `windows` windows of `window` each.
pub fn run(
    case: &IdleCase,
    binaries: &mmm_lab::cluster::Binaries,
    windows: usize,
    window: Duration,
    ids: Arc<AtomicU64>,
) -> IdleResult {
    let profile = profiles::fast();
    let ticks = procstat::ticks_per_second();
    let mut result = IdleResult {
        name: case.name.to_owned(),
        db_hosts: case.db_hosts,
        profile: profile.name.to_owned(),
        timings: TimingsMs::from(&profile.timings),
        window_s: window.as_secs_f64(),
        windows,
        resolution_percent: procstat::resolution_percent(window, ticks),
        leader: (None, None),
        daemons: Vec::new(),
        error: None,
        load_avg_end: [f64::NAN; 3],
    };
    let opts = options(binaries, &profile, case.db_hosts);
    let measured = Rig::launch(opts, profile, ids).and_then(|mut rig| {
        rig.steady()?;
        std::thread::sleep(SETTLE);
        let before = rig.cluster.leader();
        let procs = processes(&rig);
        let samples = measure_windows(&procs, windows, window, ticks);
        let after = rig.cluster.leader();
        Ok((before, after, procs, samples))
    });
    result.load_avg_end = crate::machine::load_average();
    match measured {
        Ok((before, after, procs, samples)) => {
            result.daemons = procs
                .iter()
                .zip(samples)
                .map(|(p, (cpu, rss))| DaemonIdle {
                    leader: before.as_deref() == Some(p.name.as_str()),
                    name: p.name.clone(),
                    program: p.program.to_owned(),
                    cpu_percent: summarize(&cpu),
                    rss_mib: summarize(&rss),
                })
                .collect();
            result.leader = (before, after);
        }
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    result
}

fn processes(rig: &Rig) -> Vec<Proc> {
    let c = &rig.cluster;
    let mut out = Vec::new();
    for m in c.monitor_names() {
        out.extend(c.pid(&m).map(|pid| Proc {
            name: m.clone(),
            program: "mmm-mond",
            pid,
        }));
    }
    for a in c.agent_names() {
        out.extend(c.pid(&a).map(|pid| Proc {
            name: a.clone(),
            program: "mmm-agentd",
            pid,
        }));
    }
    for node in &c.topology().nodes {
        out.extend(node.db.pid().map(|pid| Proc {
            name: node.host.name().to_owned(),
            program: "mariadbd",
            pid,
        }));
    }
    out
}

/// Per process: CPU percent and RSS MiB of each window (a process that vanished gives none).
fn measure_windows(
    procs: &[Proc],
    windows: usize,
    window: Duration,
    ticks: u64,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut out: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); procs.len()];
    let read_all =
        || -> Vec<Option<Reading>> { procs.iter().map(|p| procstat::read(p.pid)).collect() };
    let mut before = read_all();
    for _ in 0..windows {
        std::thread::sleep(window);
        let after = read_all();
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if let (Some(b), Some(a)) = (b, a) {
                out[i].0.push(procstat::cpu_percent(b, a, ticks));
                out[i].1.push(a.rss_kib as f64 / 1024.0);
            }
        }
        before = after;
    }
    out
}
