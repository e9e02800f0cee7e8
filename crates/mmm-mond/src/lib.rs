//! mmm-mond: the monitor daemon's library.
//!
//! * [`raft`] replicates the cluster state between monitors (openraft over gRPC, persisted
//!   in redb); [`machine`] is the replicated state machine over `mmm_core::command::apply`.
//! * [`checks`] runs mysql-mmm's checks; [`local_checks`] turns their results into this
//!   monitor's check table; [`reporter`] sends it to the leader; [`observations`] is the
//!   table's wire form and the Peer handler that receives it.
//! * [`driver`] is the one loop that owns the leader state machine
//!   ([`mmm_core::leader::Leader`]) and the Raft handle: it turns ticks, Raft metrics,
//!   observations, Control requests and finished calls into events and carries out the
//!   effects — proposals, agent calls through [`calls`] and [`agents`], the leader's own
//!   fencing (SQL fence, `kill_host_bin`) through [`fencing`], Raft's switches.
//!   [`migrate`] reads mysql-mmm's status file once at start for the machine's startup vote.
//! * [`control`] serves mmmctl ([`cluster_status`] is its view of the Raft cluster, [`show`]
//!   its `show` reply, shared with the status page);
//!   [`monitor`] starts and stops all of it together; [`tls`] is the mutual TLS of every hop.
//! * [`http`] serves `/metrics`, `/health` and the status page when the node has an
//!   `http_port`; [`counters`]
//!   is what the driver counts for it (agent calls, observations received).

pub mod agents;
pub mod calls;
pub mod checks;
pub mod cluster_status;
pub mod control;
pub mod counters;
pub mod driver;
pub mod fencing;
pub mod hooks;
pub mod http;
pub mod local_checks;
pub mod machine;
pub mod migrate;
pub mod monitor;
pub mod observations;
pub mod raft;
pub mod reporter;
pub mod show;
pub mod tls;
