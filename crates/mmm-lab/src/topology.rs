//! The seeds' layout in the lab: db1 and db2 replicate from each other, db3 (and db4) from db1.

use std::time::Duration;

use futures_util::future::try_join_all;

use crate::error::{LabError, Result};
use crate::host::Host;
use crate::lab::Lab;
use crate::mariadb::{MariaDb, MariaDbOpts};
use crate::replication::{ReplicationMode, replicate_from, wait_caught_up, wait_slave_running};

/// Last octet of `db1`'s address; `dbN` gets `DB_OCTET_BASE + N`.
pub const DB_OCTET_BASE: u8 = 10;

/// What kind of MMM host a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeMode {
    /// One of the two masters (`mode master`).
    Master,
    /// A read-only slave (`mode slave`).
    Slave,
}

/// Which layout to bring up.
#[derive(Debug, Clone)]
pub struct TopologySpec {
    /// Number of slaves of db1 (db3, db4, …); the seeds use 1.
    pub slaves: usize,
    /// GTID or binlog-coordinate replication.
    pub mode: ReplicationMode,
    /// Leave db1 writable (`read_only=0`) after setup; MMM's rule is that every server starts
    /// read-only and the agent opens the writer.
    pub db1_writable: bool,
}

impl Default for TopologySpec {
    fn default() -> Self {
        Self {
            slaves: 1,
            mode: ReplicationMode::Gtid,
            db1_writable: false,
        }
    }
}

/// One database host of a topology.
#[derive(Debug)]
pub struct DbNode {
    /// The lab host (namespace, address).
    pub host: Host,
    /// Its MariaDB server.
    pub db: MariaDb,
    /// Master or slave.
    pub mode: NodeMode,
    /// The other master, for masters.
    pub peer: Option<String>,
}

/// The running seeds' layout.
#[derive(Debug)]
pub struct Topology {
    /// db1, db2, db3, … in order.
    pub nodes: Vec<DbNode>,
    /// The replication mode that was used.
    pub mode: ReplicationMode,
}

impl Topology {
    /// Adds hosts `db1…` to `lab` (addresses 10.213.7.11…), starts their servers (distinct
    /// server ids and GTID domains, auto_increment 2 with offsets 1/2 on the masters), sets up
    /// db1⇄db2 and db1→db3…, and waits until everyone has caught up.
    pub async fn start(lab: &Lab, spec: &TopologySpec) -> Result<Self> {
        Self::start_with(lab, spec, &[]).await
    }

    /// Like [`Topology::start`], adding `extra_config` lines (e.g. `gtid_strict_mode=1`) to every
    /// server's `[mysqld]` section.
    pub async fn start_with(
        lab: &Lab,
        spec: &TopologySpec,
        extra_config: &[String],
    ) -> Result<Self> {
        Self::start_with_masters(lab, spec, extra_config, &[]).await
    }

    /// Like [`Topology::start_with`], adding `master_config` lines only to the two masters'
    /// servers (e.g. [`crate::replication::semi_sync_config`]).
    pub async fn start_with_masters(
        lab: &Lab,
        spec: &TopologySpec,
        extra_config: &[String],
        master_config: &[String],
    ) -> Result<Self> {
        let count = 2 + spec.slaves;
        let mut opts = Vec::with_capacity(count);
        let mut layout = Vec::with_capacity(count);
        for i in 1..=count {
            let octet = u8::try_from(i)
                .ok()
                .and_then(|i| i.checked_add(DB_OCTET_BASE))
                .ok_or_else(|| LabError::Unsupported(format!("{count} hosts is too many")))?;
            let host = lab.add_host(&format!("db{i}"), octet)?;
            let server_id = u32::try_from(i).unwrap_or(u32::MAX);
            let mut o = MariaDbOpts::on_host(&host, server_id);
            o.gtid_domain_id = server_id;
            o.extra_config = extra_config.to_vec();
            let (mode, peer) = match i {
                1 => (NodeMode::Master, Some("db2".to_owned())),
                2 => (NodeMode::Master, Some("db1".to_owned())),
                _ => (NodeMode::Slave, None),
            };
            if mode == NodeMode::Master {
                o.extra_config.extend(master_config.iter().cloned());
                o.auto_increment_increment = 2;
                o.auto_increment_offset = u16::try_from(i).unwrap_or(1);
            }
            opts.push(o);
            layout.push((host, mode, peer));
        }
        let dbs = try_join_all(opts.into_iter().map(MariaDb::start)).await?;
        let nodes: Vec<DbNode> = layout
            .into_iter()
            .zip(dbs)
            .map(|((host, mode, peer), db)| DbNode {
                host,
                db,
                mode,
                peer,
            })
            .collect();
        let topo = Self {
            nodes,
            mode: spec.mode.clone(),
        };
        topo.wire(spec).await?;
        Ok(topo)
    }

    async fn wire(&self, spec: &TopologySpec) -> Result<()> {
        let db1 = self.db("db1")?;
        let db2 = self.db("db2")?;
        replicate_from(db2, db1, &spec.mode).await?;
        replicate_from(db1, db2, &spec.mode).await?;
        for node in self.nodes.iter().skip(2) {
            replicate_from(&node.db, db1, &spec.mode).await?;
        }
        let timeout = Duration::from_secs(20);
        for node in &self.nodes {
            wait_slave_running(&node.db, timeout).await?;
        }
        wait_caught_up(db2, db1, timeout).await?;
        wait_caught_up(db1, db2, timeout).await?;
        for node in self.nodes.iter().skip(2) {
            wait_caught_up(&node.db, db1, timeout).await?;
        }
        if spec.db1_writable {
            db1.set_read_only(false).await?;
        }
        Ok(())
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Result<&DbNode> {
        self.nodes
            .iter()
            .find(|n| n.host.name() == name)
            .ok_or_else(|| LabError::Unsupported(format!("no host {name} in this topology")))
    }

    /// Mutable access to the node called `name` (for faults such as kill9).
    pub fn node_mut(&mut self, name: &str) -> Result<&mut DbNode> {
        self.nodes
            .iter_mut()
            .find(|n| n.host.name() == name)
            .ok_or_else(|| LabError::Unsupported(format!("no host {name} in this topology")))
    }

    /// The server of host `name`.
    pub fn db(&self, name: &str) -> Result<&MariaDb> {
        Ok(&self.node(name)?.db)
    }

    /// Mutable access to the server of host `name`.
    pub fn db_mut(&mut self, name: &str) -> Result<&mut MariaDb> {
        Ok(&mut self.node_mut(name)?.db)
    }

    /// The lab host `name`.
    pub fn host(&self, name: &str) -> Result<&Host> {
        Ok(&self.node(name)?.host)
    }
}
