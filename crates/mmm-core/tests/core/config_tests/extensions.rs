//! mmm's extensions in mysql-mmm style: fractional seconds and the new directives.

use std::time::Duration;

use mmm_core::config::{HookDefault, Program};

use super::{BASE, assert_single_error, line_of, load_text, loaded, replace_line, with_base};

#[test]
fn fractional_seconds_wherever_mysql_mmm_takes_seconds() {
    let text = with_base(
        "<check mysql>\ncheck_period 0.2\ntrap_period 0.5\ntimeout 0.75\n</check>\n\
         <monitor>\nping_interval 0.25\nflap_duration 90.5\nauto_set_online 1.5\nwait_for_other_master 2.125\n</monitor>\n",
    );
    let cfg = loaded(load_text(&text, Program::Monitor));
    let mysql = &cfg.checks.mysql;
    assert_eq!(
        (mysql.check_period, mysql.trap_period, mysql.timeout),
        (
            Duration::from_millis(200),
            Duration::from_millis(500),
            Duration::from_millis(750)
        )
    );
    let m = cfg.monitor.expect("monitor");
    assert_eq!(m.ping_interval, Duration::from_millis(250));
    assert_eq!(m.flap_duration, Duration::from_millis(90_500));
    assert_eq!(m.auto_set_online, Duration::from_millis(1500));
    assert_eq!(m.wait_for_other_master, Duration::from_millis(2125));
}

#[test]
fn negative_or_non_numeric_seconds_are_refused() {
    for (key, value, why) in [
        (
            "trap_period",
            "-1",
            "a duration in seconds must not be negative",
        ),
        (
            "trap_period",
            "ten",
            "expected a number of seconds such as 5 or 0.5",
        ),
        ("check_period", "0", "must be more than zero seconds"),
        (
            "check_period",
            "1e3",
            "expected a number of seconds such as 5 or 0.5",
        ),
        (
            "timeout",
            "2s",
            "expected a number of seconds such as 5 or 0.5",
        ),
    ] {
        let text = with_base(&format!("<check ping>\n{key} {value}\n</check>\n"));
        let at = line_of(&text, &format!("{key} {value}"));
        assert_single_error(
            load_text(&text, Program::Monitor),
            &format!(
                "test.conf:{at}: Config entry 'check->ping->{key}' has invalid value '{value}': {why}"
            ),
        );
    }
    let text = with_base("<monitor>\nauto_set_online -0.5\n</monitor>\n");
    let at = line_of(&text, "auto_set_online");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'monitor->auto_set_online' has invalid value '-0.5': \
             a duration in seconds must not be negative"
        ),
    );
}

#[test]
fn new_top_level_directives() {
    let text = with_base("catchup_timeout 7.5\nuse_gtid off\nfailsafe_mode no\n");
    let cfg = loaded(load_text(&text, Program::Agent));
    assert_eq!(cfg.catchup_timeout, Duration::from_millis(7500));
    assert!(!cfg.use_gtid);
    assert!(!cfg.failsafe_mode);
    assert!(loaded(load_text(&with_base(""), Program::Agent)).failsafe_mode);
    let text = with_base("failsafe_mode maybe\n");
    assert!(load_text(&text, Program::Agent).is_err());
    let text = with_base("catchup_timeout 0\n");
    let at = line_of(&text, "catchup_timeout 0");
    assert_single_error(
        load_text(&text, Program::Agent),
        &format!(
            "test.conf:{at}: Config entry 'catchup_timeout' has invalid value '0': must be more than zero seconds"
        ),
    );
}

#[test]
fn lease_directives_and_their_consistency() {
    let text = with_base(
        "<monitor>\nagent_lease 3\nlease_margin 0.7\nstatus_interval 0.3\nagent_timeout 0.8\n</monitor>\n",
    );
    let m = loaded(load_text(&text, Program::Monitor))
        .monitor
        .expect("monitor");
    assert_eq!(
        (
            m.agent_lease,
            m.lease_margin,
            m.status_interval,
            m.agent_timeout
        ),
        (
            Duration::from_secs(3),
            Duration::from_millis(700),
            Duration::from_millis(300),
            Duration::from_millis(800)
        )
    );
    let text = with_base("<monitor>\nagent_lease 1\nstatus_interval 1\n</monitor>\n");
    let at = line_of(&text, "status_interval 1");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: 'monitor->status_interval' (1s) must be shorter than 'monitor->agent_lease' (1s), \
             or agents lose their lease between two status updates"
        ),
    );
    let text = with_base("<monitor>\nlease_margin 0.3\n</monitor>\n");
    let at = line_of(&text, "lease_margin 0.3");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: 'monitor->lease_margin' (0.3s) must be at least the monitors' election timeout (0.35s): \
             a deposed leader may renew leases for that long"
        ),
    );
    let text = with_base("<monitor>\nagent_lease 0\n</monitor>\n");
    let at = line_of(&text, "agent_lease 0");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'monitor->agent_lease' has invalid value '0': must be more than zero seconds"
        ),
    );
}

#[test]
fn pre_failover_hook_directives() {
    let text = with_base(
        "<monitor>\npre_failover_hook /usr/local/lib/mmm/pre-failover\nhook_timeout 2.5\npre_failover_default abort\n</monitor>\n",
    );
    let m = loaded(load_text(&text, Program::Monitor))
        .monitor
        .expect("monitor");
    assert_eq!(
        m.pre_failover_hook.as_deref(),
        Some(std::path::Path::new("/usr/local/lib/mmm/pre-failover"))
    );
    assert_eq!(m.hook_timeout, Duration::from_millis(2500));
    assert_eq!(m.pre_failover_default, HookDefault::Abort);
    let defaults = loaded(load_text(BASE, Program::Monitor))
        .monitor
        .expect("monitor");
    assert_eq!(defaults.pre_failover_hook, None);
    assert_eq!(defaults.hook_timeout, Duration::from_secs(10));
    assert_eq!(defaults.pre_failover_default, HookDefault::Proceed);
    let text = with_base("<monitor>\npre_failover_default sometimes\n</monitor>\n");
    let at = line_of(&text, "pre_failover_default sometimes");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'monitor->pre_failover_default' has invalid value 'sometimes': allowed values are: 'proceed', 'abort'"
        ),
    );
    let text = with_base("<monitor>\nhook_timeout 0\n</monitor>\n");
    assert!(
        load_text(&text, Program::Monitor).is_err(),
        "a zero hook_timeout"
    );
}

#[test]
fn monitor_status_and_bin_paths_are_accepted_but_not_required() {
    let cfg = loaded(load_text(BASE, Program::Monitor));
    let m = cfg.monitor.expect("monitor");
    assert_eq!((m.bin_path, m.status_path), (None, None));
    let text = replace_line(
        BASE,
        "pid_path /run/mmm/mond.pid",
        "bin_path /usr/lib/mysql-mmm\nstatus_path /var/lib/mysql-mmm/mmm_mond.status",
    );
    let at = line_of(&text, "<monitor>");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!("test.conf:{at}: Required config entry 'monitor->pid_path' is missing"),
    );
    let text = replace_line(BASE, "ping_ips 10.213.7.1", "");
    let at = line_of(&text, "<monitor>");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!("test.conf:{at}: Required config entry 'monitor->ping_ips' is missing"),
    );
    assert!(
        load_text(&text, Program::Control).is_ok(),
        "mmmctl needs no ping_ips"
    );
}

#[test]
fn classic_monitor_ip_is_still_required() {
    let text = replace_line(BASE, "ip 127.0.0.1", "");
    let at = line_of(&text, "<monitor>");
    for program in [Program::Monitor, Program::Control] {
        assert_single_error(
            load_text(&text, program),
            &format!("test.conf:{at}: Required config entry 'monitor->ip' is missing"),
        );
    }
    let cfg = loaded(load_text(&text, Program::Agent));
    assert!(
        cfg.monitor.is_none(),
        "the agent does not need the monitor's address"
    );
}
