//! A multi-host mmm lab on one Linux machine, shared by every real test, benchmark and the chaos
//! suite.
//!
//! * [`Lab`] creates a bridge namespace and host namespaces (`eth0` with an address on the private
//!   subnet 10.213.7.0/24, no route out), injects faults between hosts ([`Lab::cut`],
//!   [`Lab::isolate`], [`Lab::netem`]) and deletes exactly its namespaces on drop.
//! * [`Netns::run`] / [`Netns::block_on`] run test code inside a namespace, so the root namespace
//!   never needs a lab address; [`Host::spawn`] runs daemons there as [`LabProcess`]es.
//! * [`MariaDb`] starts a throwaway `mariadbd` (loopback or inside a host) with MMM's accounts
//!   ([`users`]); [`replication`] wires and waits on replication; [`Topology`] brings up the
//!   seeds' layout (db1⇄db2, db3… slaves of db1).
//! * [`MmmConfig`] renders `mmm_common.conf` for a topology.

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

pub use error::{LabError, Result};
pub use host::{HOST_INTERFACE, Host};
pub use lab::{CLIENT_OCTET, LAB_PREFIX_LEN, LAB_SUBNET, Lab, MONITOR_OCTET_BASE, lab_ip};
pub use mariadb::{MariaDb, MariaDbOpts};
pub use mmm_config::{MmmConfig, MmmHost, write_private_file};
pub use netns::Netns;
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
