//! A replicated register with a fencing epoch, and a 3-node cluster harness on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mmm_mond::raft::{BasicNode, NodeConfig, NodeId, Partition, RaftNode, Replicated};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;
use tokio::net::TcpListener;

/// A register whose writes must name the epoch they expect, like a fenced role change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub value: String,
    pub epoch: u64,
    pub history: Vec<String>,
}

/// Set the value if the register is still at `expect_epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetCmd {
    pub expect_epoch: u64,
    pub value: String,
}

/// The outcome of one `SetCmd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegResp {
    Set { epoch: u64 },
    Stale { current: u64 },
}

/// The register's context: a prefix every node adds to stored values (the same everywhere).
#[derive(Debug, Default)]
pub struct RegCtx {
    pub prefix: String,
}

impl Replicated for Register {
    type Command = SetCmd;
    type Response = RegResp;
    type Context = RegCtx;

    fn initial(_: &RegCtx) -> Self {
        Register::default()
    }

    fn apply(&mut self, cmd: &SetCmd, ctx: &RegCtx) -> RegResp {
        if cmd.expect_epoch != self.epoch {
            return RegResp::Stale {
                current: self.epoch,
            };
        }
        self.epoch += 1;
        self.value = format!("{}{}", ctx.prefix, cmd.value);
        self.history.push(self.value.clone());
        RegResp::Set { epoch: self.epoch }
    }
}

pub fn set(expect_epoch: u64, value: &str) -> SetCmd {
    SetCmd {
        expect_epoch,
        value: value.to_string(),
    }
}

pub type Node = RaftNode<Register>;

/// The context every node of a test cluster uses (an empty prefix).
pub fn ctx() -> Arc<RegCtx> {
    Arc::new(RegCtx::default())
}

/// Three (or more) in-process monitors on 127.0.0.1 with data dirs in one tempdir.
pub struct Cluster {
    pub dir: TempDir,
    pub addrs: BTreeMap<NodeId, SocketAddr>,
    pub nodes: BTreeMap<NodeId, Option<Node>>,
    pub partition: Partition,
    pub tweak: fn(&mut NodeConfig),
}

fn no_tweak(_: &mut NodeConfig) {}

impl Cluster {
    pub async fn start(n: u64) -> Cluster {
        Self::start_with(n, no_tweak).await
    }

    /// Starts `n` nodes; `tweak` adjusts every node's config (also on restart).
    pub async fn start_with(n: u64, tweak: fn(&mut NodeConfig)) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut listeners = BTreeMap::new();
        let mut addrs = BTreeMap::new();
        for id in 1..=n {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addrs.insert(id, l.local_addr().expect("local addr"));
            listeners.insert(id, l);
        }
        let mut cluster = Cluster {
            dir,
            addrs,
            nodes: BTreeMap::new(),
            partition: Partition::new(),
            tweak,
        };
        for (id, l) in listeners {
            let node = RaftNode::start_with_listener(cluster.config(id), ctx(), l)
                .await
                .expect("start node");
            cluster.nodes.insert(id, Some(node));
        }
        cluster
    }

    pub fn data_dir(&self, id: NodeId) -> PathBuf {
        self.dir.path().join(format!("node{id}"))
    }

    pub fn config(&self, id: NodeId) -> NodeConfig {
        let peers = self
            .addrs
            .iter()
            .map(|(id, a)| {
                (
                    *id,
                    BasicNode {
                        addr: a.to_string(),
                    },
                )
            })
            .collect();
        let mut c = NodeConfig::new(id, self.data_dir(id), self.addrs[&id], peers);
        c.partition = self.partition.clone();
        c.propose_timeout = Duration::from_secs(2);
        (self.tweak)(&mut c);
        c
    }

    pub fn node(&self, id: NodeId) -> &Node {
        self.nodes[&id].as_ref().expect("node is running")
    }

    pub fn live(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Stops a node abruptly (no step-down), keeping its data dir.
    pub async fn kill(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id).and_then(Option::take) {
            node.shutdown().await;
        }
    }

    /// Starts a stopped node again from its data dir on the same address.
    pub async fn restart(&mut self, id: NodeId) {
        let node = RaftNode::start(self.config(id), ctx())
            .await
            .expect("restart node");
        self.nodes.insert(id, Some(node));
    }

    /// Starts a new node that does not bootstrap: it waits to be added with `add_member`.
    pub async fn start_joiner(&mut self, id: NodeId) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        self.addrs.insert(id, l.local_addr().expect("local addr"));
        let mut config = self.config(id);
        config.bootstrap = false;
        let node = RaftNode::start_with_listener(config, ctx(), l)
            .await
            .expect("start joiner");
        self.nodes.insert(id, Some(node));
    }

    /// Waits until exactly one of `among` leads and the others name it; returns its id.
    pub async fn wait_leader(&self, among: &[NodeId], within: Duration) -> NodeId {
        let deadline = Instant::now() + within;
        loop {
            let leaders: Vec<NodeId> = among
                .iter()
                .copied()
                .filter(|id| self.node(*id).is_leader())
                .collect();
            if let [leader] = leaders[..] {
                let agreed = among
                    .iter()
                    .all(|id| self.node(*id).leader().map(|l| l.id) == Some(leader));
                if agreed {
                    return leader;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no single leader among {among:?} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every node in `among` applied at least `index`.
    pub async fn wait_applied(&self, among: &[NodeId], index: u64, within: Duration) {
        for id in among {
            self.node(*id)
                .raft()
                .wait(Some(within))
                .applied_index_at_least(Some(index), "applied")
                .await
                .unwrap_or_else(|e| panic!("node {id} did not apply {index}: {e}"));
        }
    }

    pub async fn shutdown_all(&mut self) {
        for id in self.live() {
            self.kill(id).await;
        }
    }
}
