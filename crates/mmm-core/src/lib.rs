//! The pure heart of mmm: mysql-mmm's configuration format and its decision logic.
//!
//! Nothing here does I/O, reads a clock, spawns a task or needs an async runtime. The
//! monitor and agent daemons each run one driver loop that performs I/O and feeds the
//! functions of this crate with what they observed and the current time.
//!
//! Code map: [`checks`] turns raw check lines into statuses (mysql-mmm's trap period) and
//! merges several monitors' tables with a quorum; [`decide`] is mysql-mmm's main loop
//! (host states, flapping, WAIT, role distribution, the fenced writer handoff) returning
//! [`command::Command`]s; [`command::apply`] is the deterministic state-machine step every
//! monitor runs after Raft commits; [`admin`] answers mmm_control's commands with its exact
//! replies; [`desired`] is what the leader sends each agent; [`startup`] is the first-start
//! vote; [`status_file`] reads mysql-mmm's status file for a take-over; [`state`] holds the
//! replicated types and [`log`] mysql-mmm's log line layout.
//! [`leader`] is the Raft leader as one deterministic state machine (events in, effects out)
//! built on all of these, which the monitor daemon, the golden scenarios and the simulator
//! drive alike; [`invariant`] is how a broken invariant stops tests and is refused in release.
//! [`agent`] holds the agent's own rules (role-change planning, epoch, writer lease, failsafe),
//! which the agent daemon and the simulator share.

pub mod admin;
pub mod agent;
pub mod checks;
pub mod command;
pub mod config;
pub mod decide;
pub mod desired;
pub mod invariant;
pub mod leader;
pub mod log;
pub mod render;
pub mod startup;
pub mod state;
pub mod status_file;
#[cfg(test)]
mod testing;
pub mod time;
