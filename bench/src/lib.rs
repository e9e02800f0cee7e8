//! mmm's failover benchmark: the real `mmm-mond`, `mmm-agentd` and `mmmctl` (built by cargo in the
//! benchmark's own profile before anything runs) with real MariaDB servers in the lab, a client
//! in the lab's client namespace writing through the writer VIP on a new connection every 20 ms,
//! faults applied at the lab's bridge, and per case a table row and JSON: p50 / p90 / p99 / max,
//! acknowledged writes lost, and the phase breakdown (detection, decision, commit, fence, push,
//! catch-up, read_only, VIP and ARP, client).
//!
//! * [`events`]: what a run records, on one clock; [`recorder`] records it (client writes via
//!   `mmm_lab::workload`, probes via `mmm_lab::sampler`, daemon JSON logs via [`logs`], the
//!   replicated history);
//! * [`measure`]: the intervals and milestones, pure over a recorded event list;
//! * [`cases`]: the timed cases and the idle (CPU / RSS) cases; [`rig`]: the cluster they share
//!   and its steady state; [`profiles`]: the timing profiles;
//! * [`stats`] (nearest-rank percentiles), [`procstat`] (`/proc` readings), [`machine`] (date,
//!   CPU, kernel, commit), [`report`] (JSON and tables); [`build_daemons`] builds the programs.

pub mod cases;
pub mod events;
pub mod logs;
pub mod machine;
pub mod measure;
pub mod procstat;
pub mod profiles;
pub mod recorder;
pub mod report;
pub mod rig;
pub mod stats;

use anyhow::{Context as _, Result};
use mmm_lab::cluster::Binaries;

/// The daemons, built through the lab's one build path ([`mmm_lab::build_binaries`]: the same
/// cargo build, profile and feature set as every lab test), so a run never uses stale programs.
pub fn build_daemons() -> Result<Binaries> {
    mmm_lab::build_binaries().context("building mmm-agentd, mmm-mond and mmmctl")
}
