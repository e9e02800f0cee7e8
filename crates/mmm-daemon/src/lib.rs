//! What the mmm programs (`mmm-mond`, `mmm-agentd`, `mmmctl`) share, in mysql-mmm's manner.
//!
//! * [`config`]: read mysql-mmm's configuration files from disk (search path, includes,
//!   permissions) for the pure loader in `mmm_core::config`.
//! * [`launch`]: find the config file, install TLS provider and logging, run the body.
//! * [`http`]: the HTTP endpoints' server: bounded connections and handlers, optional TLS.
//! * [`metrics`]: per-scrape Prometheus registries (gauges, seconds, the text format).
//! * [`logging`]: log lines in mysql-mmm's layout (`yyyy/MM/dd HH:mm:ss LEVEL message`,
//!   with its FATAL level) or JSON, through `tracing`; [`fatal!`] logs at FATAL.
//! * [`pidfile`]: refuse a second copy, warn about a stale pid file, remove it on exit.
//! * [`signal`]: wait for SIGTERM / SIGINT and log `Signal received: exiting...`.
//! * [`tls`]: mutual TLS on every hop from `<socket type ssl>`, files read once and again on
//!   SIGHUP, rustls with ring.
//! * [`repeats`]: log a failure that repeats once per streak, with a count of the rest.

pub mod config;
pub mod http;
pub mod launch;
pub mod logging;
pub mod metrics;
pub mod pidfile;
pub mod repeats;
pub mod signal;
pub mod tls;
