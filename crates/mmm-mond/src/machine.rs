//! The replicated state machine of the monitor cluster: a thin wrapper over
//! [`mmm_core::command::apply_proposal`] on a [`ClusterState`].
//!
//! `apply` needs the effective configuration (roles, flap settings, fencing hold). The
//! configuration is each monitor's own file, not replicated data: it is the Raft layer's
//! [`Replicated::Context`], passed to every `apply` and never serialized.

use mmm_core::command::{Command, Outcome, apply_proposal};
use mmm_core::config::Config;
use mmm_core::state::ClusterState;
use mmm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::raft::Replicated;

/// What the leader proposes: commands applied together, all or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The commands, in order.
    pub commands: Vec<Command>,
}

/// The cluster state every monitor replicates (None until the first command).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MonitorState {
    cluster: Option<ClusterState>,
}

impl MonitorState {
    /// The replicated cluster state, None before the first command was applied.
    pub fn cluster(&self) -> Option<&ClusterState> {
        self.cluster.as_ref()
    }

    /// The cluster state, or the fresh one the first command will start from.
    pub fn cluster_or_new(&self, config: &Config, now: Timestamp) -> ClusterState {
        match &self.cluster {
            Some(c) => c.clone(),
            None => ClusterState::new(config, now),
        }
    }

    /// Epoch of the replicated state (0 before anything was applied).
    pub fn epoch(&self) -> u64 {
        self.cluster.as_ref().map_or(0, |c| c.epoch)
    }
}

impl Replicated for MonitorState {
    type Command = Proposal;
    type Response = Outcome;
    type Context = Config;

    fn initial(_config: &Config) -> Self {
        MonitorState::default()
    }

    fn apply(&mut self, proposal: &Proposal, config: &Config) -> Outcome {
        let at = proposal.commands.first().map(|c| c.at).unwrap_or_default();
        let cluster = self
            .cluster
            .get_or_insert_with(|| ClusterState::new(config, at));
        apply_proposal(cluster, &proposal.commands, config)
    }
}
