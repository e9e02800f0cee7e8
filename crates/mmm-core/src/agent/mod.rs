//! The agent's own rules, pure: what the agent on a database host may do with what the leader
//! sends it and with what the other agents ask of it.
//!
//! The agent daemon's driver reads its clock and the system and calls these functions; the
//! core's simulator can call the same ones to model agents. Times are [`Mono`] readings of the
//! agent's monotonic clock, passed in.
//!
//! * [`plan`] — what a status change or a periodic re-assertion must do, in mysql-mmm's order.
//! * [`epoch`] — the fencing epoch rule: never lower.
//! * [`lease`] — the writer lease: counted from a moment the agent itself reported (the basis
//!   the leader echoes), never stretched by delay, never renewed at an epoch where it ran out.
//! * [`failsafe`] — the failsafe lease the other agents grant a writer no leader renews, and the
//!   promise a granting agent keeps meanwhile.

pub mod clock;
pub mod epoch;
pub mod failsafe;
pub mod lease;
pub mod plan;

pub use clock::Mono;
