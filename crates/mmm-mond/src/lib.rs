//! mmm-mond: the monitor daemon's library.
//!
//! [`raft`] replicates the cluster state between monitors (openraft over gRPC, persisted in
//! redb); the daemon binary builds on it.

pub mod checks;
pub mod raft;
