//! Runs the real `mmmctl` binary against in-process Control servers with fixed replies.
//!
//! These tests cover the CLI's own concerns (arguments, renderings, JSON, exit codes,
//! leader following, timeouts, config check); `real_monitor` runs the same against the real
//! monitors, agents and MariaDB servers in the lab (root only).

mod ctl {
    pub mod harness;
    pub mod server;

    mod args;
    mod commands;
    mod config;
    mod golden;
    mod json;
    mod leader;
    mod real_monitor;
    mod tls;
}
