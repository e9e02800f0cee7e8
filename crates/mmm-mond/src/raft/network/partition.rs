//! Link-level fault injection: a shared set of blocked (from, to) pairs the Raft network obeys.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use crate::raft::types::NodeId;

/// A shared switchboard of cut links between Raft nodes.
///
/// Both the sending side (before a request leaves and before its reply is accepted) and the
/// receiving side (before a request reaches openraft) consult it, so a test can partition a
/// cluster of in-process nodes without touching the OS. Clones share the same set; a fresh
/// handle blocks nothing.
#[derive(Debug, Clone, Default)]
pub struct Partition {
    blocked: Arc<RwLock<BTreeSet<(NodeId, NodeId)>>>,
}

impl Partition {
    /// Creates a handle that blocks nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every message sent from `from` to `to` (one direction only).
    pub fn block(&self, from: NodeId, to: NodeId) {
        self.write().insert((from, to));
    }

    /// Cuts `node` off from each of `others`, in both directions.
    pub fn isolate(&self, node: NodeId, others: impl IntoIterator<Item = NodeId>) {
        let mut set = self.write();
        for other in others {
            set.insert((node, other));
            set.insert((other, node));
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.write().clear();
    }

    /// Whether messages from `from` to `to` are currently dropped.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(from, to))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeSet<(NodeId, NodeId)>> {
        self.blocked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolate_blocks_both_directions_and_heal_restores() {
        let p = Partition::new();
        let shared = p.clone();
        p.isolate(1, [2, 3]);
        assert!(shared.is_blocked(1, 2) && shared.is_blocked(2, 1));
        assert!(shared.is_blocked(1, 3) && shared.is_blocked(3, 1));
        assert!(!shared.is_blocked(2, 3));
        shared.heal();
        assert!(!p.is_blocked(1, 2));
    }

    #[test]
    fn block_is_one_way() {
        let p = Partition::new();
        p.block(1, 2);
        assert!(p.is_blocked(1, 2));
        assert!(!p.is_blocked(2, 1));
    }
}
