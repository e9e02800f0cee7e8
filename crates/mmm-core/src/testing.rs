//! Test helpers: a small lab configuration written in MMM's format.

use crate::config::{Config, Program, load_str};

/// db1/db2 masters, db3 slave; writer on db1,db2; readers .101 and .102 on all three.
const CONF: &str = "active_master_role writer
<host default>
    monitor_user mmm_monitor
    monitor_password secret
</host>
<host db1>
    ip 10.213.7.11
    mode master
    peer db2
</host>
<host db2>
    ip 10.213.7.12
    mode master
    peer db1
</host>
<host db3>
    ip 10.213.7.13
    mode slave
</host>
<role writer>
    hosts db1, db2
    ips 10.213.7.100
    mode exclusive
</role>
<role reader>
    hosts db1, db2, db3
    ips 10.213.7.101, 10.213.7.102
    mode balanced
</role>
<monitor>
    ip 127.0.0.1
    pid_path /run/mmm_mond.pid
    bin_path /usr/lib/mysql-mmm
    status_path /var/lib/mmm/status
    ping_ips 10.213.7.1
MONITOR_EXTRA</monitor>
";

/// The test configuration with extra `<monitor>` directives.
pub(crate) fn config(monitor_extra: &[(&str, &str)]) -> Config {
    let extra: String = monitor_extra
        .iter()
        .map(|(k, v)| format!("    {k} {v}\n"))
        .collect();
    load_str(
        &CONF.replace("MONITOR_EXTRA", &extra),
        "test.conf",
        Program::Monitor,
    )
    .expect("test config loads")
}
