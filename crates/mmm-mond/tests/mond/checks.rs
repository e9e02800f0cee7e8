//! The monitor's checkers against real MariaDB servers and real lab namespaces.
//!
//! Run with `cargo test -p mmm-mond --test mond checks`.

#[path = "checks/driver.rs"]
mod driver;
#[path = "checks/mysql.rs"]
mod mysql;
#[path = "checks/ping.rs"]
mod ping;
#[path = "checks/replication.rs"]
mod replication;
#[path = "checks/runner.rs"]
mod runner;

use std::time::Duration;

use mmm_core::config::{CheckConfig, ChecksConfig};
use mmm_lab::users::{MONITOR_PASSWORD, MONITOR_USER};
use mmm_lab::{MariaDb, MariaDbOpts};
use mmm_mond::checks::CheckTarget;

/// The `timeout` the MySQL checks get in these tests.
const TIMEOUT: Duration = Duration::from_secs(1);

/// A check target for `db` as the lab's monitor user. Nothing listens on the agent port.
fn target_for(db: &MariaDb, host: &str) -> CheckTarget {
    target_as(db, host, MONITOR_USER, MONITOR_PASSWORD)
}

/// A check target for `db` as `user`.
fn target_as(db: &MariaDb, host: &str, user: &str, password: &str) -> CheckTarget {
    CheckTarget {
        host: host.to_string(),
        ip: db.ip(),
        mysql_port: db.port(),
        agent_port: 1,
        user: user.to_string(),
        password: password.to_string(),
    }
}

/// One check's settings with the given period and MySQL timeout.
fn check_config(period: Duration, timeout: Duration, max_backlog: u64) -> CheckConfig {
    CheckConfig {
        check_period: period,
        trap_period: Duration::from_secs(10),
        timeout,
        restart_after: 10_000,
        max_backlog,
    }
}

/// The same settings for all four checks.
fn checks_config(period: Duration, timeout: Duration) -> ChecksConfig {
    let one = check_config(period, timeout, 60);
    ChecksConfig {
        ping: one.clone(),
        mysql: one.clone(),
        rep_threads: one.clone(),
        rep_backlog: one,
    }
}

/// A throwaway server on loopback.
async fn loopback_db(label: &str, server_id: u32) -> MariaDb {
    let mut opts = MariaDbOpts::loopback(label, server_id);
    opts.gtid_domain_id = server_id;
    MariaDb::start(opts).await.expect("start MariaDB")
}
