//! Seeded simulator over the real leader machine ([`mmm_core::leader::Leader`]).
//!
//! Each seed builds a 3–5 host topology with one or three monitors, each running its own
//! machine, and runs it for a few simulated minutes in 100 ms steps: hosts crash, mysqld
//! dies, replication breaks and lags, agent links are cut or stop answering, monitors lose
//! their network or a host, hosts are cut off from every monitor, agents freeze (requests wait
//! in their sockets and arrive late, far beyond the call bound, when they resume; only the
//! server's lease timer acts meanwhile), the Raft leader is deposed (it learns late and keeps
//! pushing a while), admin commands arrive, and every message between monitors and agents is
//! delayed, reordered, lost or duplicated. The invariants of ARCHITECTURE.md are checked on every
//! step, commit and push (see `invariants.rs`); a failure prints the seed, the last events
//! and the replay command.
//!
//! `MMM_SIM_SEED=<n> cargo test -p mmm-core --test core simulator` replays one seed;
//! `MMM_SIM_SEEDS=<count>` runs more; `MMM_SIM_STATS=1` prints what the runs exercised.

mod agent;
mod invariants;
mod net;
mod world;

use world::{Stats, World};

/// Seeds run by default (keep the debug run within a few tens of seconds).
const SEEDS: u64 = 100;
/// Steps of 100 ms per seed.
const STEPS: u64 = 1500;

/// splitmix64: small, seedable, good enough for fault injection.
pub struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// Runs one seed; the error carries the broken invariant and the last events.
fn run_seed(seed: u64) -> Result<(Stats, Vec<String>), String> {
    let mut w = World::new(seed);
    for _ in 0..STEPS {
        if let Err(e) = w.step() {
            let tail: Vec<&str> = w
                .trace
                .iter()
                .rev()
                .take(60)
                .rev()
                .map(String::as_str)
                .collect();
            let state = w.raft.state.as_ref().map(|s| {
                s.hosts
                    .iter()
                    .map(|h| {
                        format!(
                            "{} {} {:?} agent_down={}",
                            h.name, h.state, h.roles, h.agent_down
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n  ")
            });
            return Err(format!(
                "{e}\nlast events:\n  {}\nreplicated state (release {:?}):\n  {}",
                tail.join("\n  "),
                w.raft.state.as_ref().and_then(|s| s.writer_release.clone()),
                state.unwrap_or_default()
            ));
        }
    }
    let mut stats = w.stats.clone();
    stats.releases = w.checker.releases;
    stats.writer_after_confirm = w.checker.writer_after_confirm;
    stats.writer_after_fence = w.checker.writer_after_fence;
    stats.writer_after_timer = w.checker.writer_after_timer;
    stats.state_changes = w.checker.state_changes;
    Ok((stats, w.trace))
}

fn fail(seed: u64, e: &str) -> ! {
    panic!(
        "seed {seed} broke an invariant: {e}\nreplay: MMM_SIM_SEED={seed} cargo test -p mmm-core --test core simulator"
    )
}

#[test]
fn simulator() {
    if let Some(seed) = std::env::var("MMM_SIM_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        if let Err(e) = run_seed(seed) {
            fail(seed, &e);
        }
        return;
    }
    let seeds = std::env::var("MMM_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(SEEDS);
    let mut total = Stats::default();
    for seed in 0..seeds {
        match run_seed(seed) {
            Ok((stats, _)) => total.add(&stats),
            Err(e) => fail(seed, &e),
        }
    }
    if std::env::var_os("MMM_SIM_STATS").is_some() {
        eprintln!("{seeds} seeds x {STEPS} steps: {total:#?}");
    }
    // The runs must exercise what the invariants are about.
    assert!(
        total.writer_after_confirm > 0
            && total.writer_after_fence > 0
            && total.writer_after_timer > 0
            && total.late_requests > 0
            && total.stale_pushes > 0
            && total.lost > 0
            && total.duplicated > 0
            && total.startups > 0
            && total.step_asides > 0,
        "{total:#?}"
    );
}

#[test]
fn simulator_replays_a_seed_identically() {
    // Decisions iterate in config order: the same seed gives the same run, event for event.
    for seed in [3, 11] {
        let a = run_seed(seed).map(|(_, t)| t);
        let b = run_seed(seed).map(|(_, t)| t);
        assert_eq!(a, b, "seed {seed} replayed differently");
    }
}
