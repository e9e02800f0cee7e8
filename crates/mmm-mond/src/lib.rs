//! mmm-mond: the monitor daemon's library.
//!
//! * [`raft`] replicates the cluster state between monitors (openraft over gRPC, persisted
//!   in redb); [`machine`] is the replicated state machine over `mmm_core::command::apply`.
//! * [`checks`] runs mysql-mmm's checks; [`local_checks`] turns their results into this
//!   monitor's check table; [`reporter`] sends it to the leader; [`observations`] keeps
//!   every monitor's table and merges them by quorum.
//! * [`leader`] is mysql-mmm's main loop run by the Raft leader: decide, propose, and
//!   push statuses to agents through [`pusher`] and [`agents`].
//! * [`control`] serves mmmctl ([`cluster_status`] is its view of the Raft cluster);
//!   [`monitor`] starts and stops all of it together; [`tls`] is the mutual TLS of every hop.

pub mod agents;
pub mod checks;
pub mod cluster_status;
pub mod control;
pub mod leader;
pub mod local_checks;
pub mod machine;
pub mod migrate;
pub mod monitor;
pub mod observations;
pub mod pusher;
pub mod raft;
pub mod reporter;
pub mod tls;
