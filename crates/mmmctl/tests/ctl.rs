//! Runs the real `mmmctl` binary against in-process Control servers with fixed replies.
//!
//! These tests cover the CLI's own concerns (arguments, renderings, JSON, exit codes,
//! leader following, timeouts, config check); they say nothing about the monitor itself.

mod ctl {
    pub mod harness;
    pub mod server;

    mod args;
    mod commands;
    mod config;
    mod golden;
    mod json;
    mod leader;
    mod tls;
}
