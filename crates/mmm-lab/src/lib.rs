//! A multi-host mmm lab on one Linux machine, shared by every real test, benchmark and the chaos
//! suite.
//!
//! * [`Lab`] creates a bridge namespace and host namespaces (`eth0` with an address on the private
//!   subnet 10.213.7.0/24, no default route, nothing in the root namespace) and deletes exactly its
//!   namespaces, processes and scratch directory on drop; [`Lab::cleanup_stale`] does the same for
//!   a crashed run of the same prefix.
//! * Faults are applied where the hosts meet, on the bridge, so they also hit VIPs and ARP:
//!   [`Lab::cut`] / [`Lab::heal`] / [`Lab::partition`] / [`Lab::isolate`] are nftables rules on
//!   bridge ports; [`Lab::netem`] adds loss (nftables) and delay (tc netem, or a userspace delay
//!   line when the kernel lacks `sch_netem`).
//! * [`Netns::run`] / [`Netns::block_on`] / [`Netns::spawn_future`] run test code inside a
//!   namespace; [`Host::spawn`] runs daemons there as [`LabProcess`]es (killed on drop).
//! * [`MariaDb`] starts a throwaway `mariadbd` (loopback or inside a host) with MMM's accounts
//!   ([`users`]); faults: kill -9, SIGSTOP/SIGCONT, clean stop, restart. [`replication`] wires
//!   (GTID or binlog coordinates) and waits; [`Topology`] brings up the seeds' layout (db1⇄db2,
//!   db3… slaves of db1).
//! * [`MmmConfig`] renders `mmm_common.conf` for a topology; [`write_private_file`] writes it 0600.
//! * [`cluster::Cluster`] launches the whole system on the seeds' topology: real agents, N real
//!   monitors, a client namespace for `mmmctl`; the `mmm-lab demo` binary is built on it.
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
pub mod topology;
pub mod users;

mod cmd;
mod delay;
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
pub use topology::{DbNode, NodeMode, Topology, TopologySpec};

impl Lab {
    /// Renders `mmm_common.conf` for `topo` (see [`MmmConfig::for_topology`]) with agent state
    /// under this lab's directory.
    pub fn mmm_config(&self, topo: &Topology) -> String {
        MmmConfig::for_topology(topo, self.dir()).render()
    }
}

/// Whether the current process can build labs (namespaces need root); tests use it to skip with a
/// visible message instead of failing on unprivileged machines.
pub fn have_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
