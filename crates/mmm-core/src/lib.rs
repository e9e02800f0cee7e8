//! The pure heart of mmm: mysql-mmm's configuration format and its decision logic.
//!
//! Nothing here does I/O, reads a clock, spawns a task or needs an async runtime. The
//! monitor and agent daemons each run one driver loop that performs I/O and feeds the
//! functions of this crate with what they observed and the current time.

pub mod admin;
pub mod checks;
pub mod command;
pub mod config;
pub mod decide;
pub mod desired;
pub mod log;
pub mod render;
pub mod startup;
pub mod state;
#[cfg(test)]
mod testing;
pub mod time;
