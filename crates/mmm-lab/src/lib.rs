//! A multi-host mmm lab on one Linux machine, shared by every real test, benchmark and the chaos
//! suite.
//!
//! * [`Lab`] creates a bridge namespace and host namespaces (`eth0` with an address on the private
//!   subnet 10.213.7.0/24, no default route, nothing in the root namespace) and deletes exactly its
//!   namespaces, processes and scratch directory on drop; [`Lab::cleanup_stale`] does the same for
//!   a crashed run of the same prefix.
//! * Faults are applied where the hosts meet, on the bridge, so they also hit VIPs and ARP:
//!   [`Lab::cut`] / [`Lab::heal`] / [`Lab::cut_one_way`] / [`Lab::partition`] / [`Lab::isolate`]
//!   are nftables rules on bridge ports; [`Lab::shape`] ([`Netem`]) adds loss (nftables) and
//!   delay, jitter and reordering (tc netem, or a userspace delay line when the kernel lacks
//!   `sch_netem`).
//! * [`Netns::run`] / [`Netns::block_on`] / [`Netns::spawn_future`] run test code inside a
//!   namespace; [`Host::spawn`] runs daemons there as [`LabProcess`]es (killed on drop).
//! * [`MariaDb`] starts a throwaway `mariadbd` (loopback or inside a host) with MMM's accounts
//!   ([`users`]); faults: kill -9, SIGSTOP/SIGCONT, clean stop, restart. [`replication`] wires
//!   (GTID or binlog coordinates) and waits; [`Topology`] brings up the seeds' layout (db1⇄db2,
//!   db3… slaves of db1).
//! * [`MmmConfig`] renders `mmm_common.conf` for a topology; [`write_private_file`] writes it 0600.
//! * [`cluster::Cluster`] launches the whole system on the seeds' topology: real agents, N real
//!   monitors, a client namespace for `mmmctl`; the `mmm-lab demo` binary is built on it.
//! * [`workload::execute`] is one application operation as a user sees it (new connection, short
//!   connect deadline, `@@server_id`, sure failure vs unknown outcome); [`sampler::Sampler`]
//!   watches every server's `read_only`, VIPs, agent epoch/lease and every monitor's Raft view
//!   from inside their namespaces.
//! * Lab children die with the process that started them (`PR_SET_PDEATHSIG`), and
//!   [`cleanup_orphans`] removes namespaces and directories a killed owner left behind.

pub mod cluster;
pub mod error;
pub mod host;
pub mod lab;
pub mod mariadb;
pub mod mmm_config;
pub mod netns;
pub mod process;
pub mod replication;
pub mod sampler;
pub mod shaping;
pub mod topology;
pub mod users;
pub mod workload;

mod cmd;
mod delay;
mod ifaddrs;
mod orphans;

pub use error::{LabError, Result};
pub use host::{HOST_INTERFACE, Host};
pub use lab::{CLIENT_OCTET, LAB_PREFIX_LEN, LAB_SUBNET, Lab, MONITOR_OCTET_BASE, lab_ip};
pub use mariadb::{MariaDb, MariaDbOpts};
pub use mmm_config::{MmmConfig, MmmHost, write_private_file};
pub use netns::Netns;
pub use orphans::{OrphanReport, cleanup_orphans};
pub use process::LabProcess;
pub use replication::{BinlogCoordinates, ReplicationMode, StartPosition};
pub use shaping::Netem;
pub use topology::{DbNode, NodeMode, Topology, TopologySpec};

impl Lab {
    /// Renders `mmm_common.conf` for `topo` (see [`MmmConfig::for_topology`]) with agent state
    /// under this lab's directory.
    pub fn mmm_config(&self, topo: &Topology) -> String {
        MmmConfig::for_topology(topo, self.dir()).render()
    }
}

/// Whether the current process can build labs (namespaces need root).
pub fn have_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Environment variable that makes a lab test fail, instead of skip, when the lab can't run
/// (set by `.ci/run`): under CI a test that cannot run must not pass silently.
pub const REQUIRE_LAB_ENV: &str = "MMM_REQUIRE_LAB";

/// Why the lab can't run on this machine, if it can't: not root, or no MariaDB server binary.
pub fn lab_unavailable() -> Option<String> {
    if !have_root() {
        return Some("the lab needs root (network namespaces, VIPs)".to_owned());
    }
    if !std::path::Path::new(mariadb::MARIADBD).is_file() {
        return Some(format!(
            "the lab needs MariaDB's server ({} is missing; apt-get install mariadb-server)",
            mariadb::MARIADBD
        ));
    }
    None
}

/// Whether a lab test named `what` can run. When it can't, it prints why and returns false
/// (the test then returns early), or panics when [`REQUIRE_LAB_ENV`] is set, so CI never counts
/// a test that did not run as passed.
pub fn lab_available(what: &str) -> bool {
    let Some(why) = lab_unavailable() else {
        return true;
    };
    if std::env::var_os(REQUIRE_LAB_ENV).is_some() {
        panic!("{what}: {why}, and {REQUIRE_LAB_ENV} is set: this test must run here");
    }
    eprintln!("SKIPPED {what}: {why}");
    false
}
