//! Per-program validation: required keys, templates, defaults, enumerations and references.

use std::net::IpAddr;
use std::time::Duration;

use mmm_core::config::{HostMode, Program, RoleMode, SocketType, StartMode};

use super::{
    BASE, assert_single_error, errors, line_of, load_text, loaded, replace_line, with_base,
};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip literal")
}

#[test]
fn an_agent_config_without_this_is_refused() {
    let text = replace_line(BASE, "this db1", "");
    assert_single_error(
        load_text(&text, Program::Agent),
        "test.conf: Required config entry 'this' is missing",
    );
    // The monitor does not need `this`.
    assert!(load_text(&text, Program::Monitor).is_ok());
}

#[test]
fn a_monitor_config_without_monitor_section_is_refused() {
    let start = line_of(BASE, "<monitor>");
    let text: String = BASE
        .lines()
        .take(start - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    for program in [Program::Monitor, Program::Control] {
        assert_single_error(
            load_text(&text, program),
            "test.conf: Required config entry 'monitor' is missing",
        );
    }
    let cfg = loaded(load_text(&text, Program::Agent));
    assert!(cfg.monitor.is_none() && cfg.monitor_nodes.is_empty());
}

#[test]
fn required_host_keys_depend_on_the_program() {
    let text = replace_line(BASE, "cluster_interface eth0", "");
    let text = replace_line(&text, "monitor_password monitor-secret", "");
    let at = |name: &str| line_of(&text, &format!("<host {name}>"));
    let agent = errors(load_text(&text, Program::Agent));
    assert_eq!(
        agent,
        ["db1", "db2", "db3"].map(|h| format!(
            "test.conf:{}: Required config entry 'host->{h}->cluster_interface' is missing",
            at(h)
        ))
    );
    let monitor = errors(load_text(&text, Program::Monitor));
    assert_eq!(
        monitor,
        ["db1", "db2", "db3"].map(|h| format!(
            "test.conf:{}: Required config entry 'host->{h}->monitor_password' is missing",
            at(h)
        ))
    );
    assert!(load_text(&text, Program::Control).is_ok());
}

#[test]
fn a_master_needs_a_peer_naming_another_host() {
    let text = replace_line(BASE, "peer db2", "");
    let at = line_of(&text, "<host db1>");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'host->db1->peer' is required because of 'mode master', but missing"
        ),
    );
    for bad in ["db9", "db1"] {
        let text = replace_line(BASE, "peer db2", &format!("peer {bad}"));
        let at = line_of(&text, &format!("peer {bad}"));
        assert_single_error(
            load_text(&text, Program::Monitor),
            &format!(
                "test.conf:{at}: Config entry 'host->db1->peer' has invalid value '{bad}' allowed values are: 'db2', 'db3'"
            ),
        );
    }
}

#[test]
fn enumerations_are_checked() {
    let cases = [
        (
            "mode slave",
            "mode replica",
            "host->db3->mode",
            "allowed values are: 'master', 'slave'",
        ),
        (
            "mode exclusive",
            "mode single",
            "role->writer->mode",
            "allowed values are: 'balanced', 'exclusive'",
        ),
        (
            "ping_ips 10.213.7.1",
            "ping_ips 10.213.7.1\nmode sleepy",
            "monitor->mode",
            "allowed values are: 'passive', 'active', 'manual', 'wait'",
        ),
    ];
    for (needle, replacement, name, why) in cases {
        let text = replace_line(BASE, needle, replacement);
        let bad = replacement.lines().last().expect("line");
        let at = line_of(&text, bad);
        let value = bad.split_once(' ').expect("kv").1;
        assert_single_error(
            load_text(&text, Program::Monitor),
            &format!("test.conf:{at}: Config entry '{name}' has invalid value '{value}': {why}"),
        );
    }
    let text = with_base("<socket>\ntype tls\n</socket>\n");
    let at = line_of(&text, "type tls");
    assert_single_error(
        load_text(&text, Program::Agent),
        &format!(
            "test.conf:{at}: Config entry 'socket->type' has invalid value 'tls': allowed values are: 'plain', 'ssl'"
        ),
    );
}

#[test]
fn role_references_are_checked() {
    let text = replace_line(BASE, "hosts db1, db2, db3", "hosts db1, db9");
    let at = line_of(&text, "hosts db1, db9");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'role->reader->hosts' has invalid value 'db9' allowed values are: 'db1', 'db2', 'db3'"
        ),
    );
    let text = with_base("<role writer>\nprefer db3\n</role>\n");
    let at = line_of(&text, "prefer db3");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'role->writer->prefer' has invalid value 'db3' allowed values are: 'db1', 'db2'"
        ),
    );
    let text = replace_line(BASE, "this db1", "this db7");
    assert_single_error(
        load_text(&text, Program::Agent),
        "test.conf:2: Config entry 'this' has invalid value 'db7' allowed values are: 'db1', 'db2', 'db3'",
    );
    let text = replace_line(BASE, "active_master_role writer", "active_master_role boss");
    assert_single_error(
        load_text(&text, Program::Monitor),
        "test.conf:1: Config entry 'active_master_role' has invalid value 'boss' allowed values are: 'writer', 'reader'",
    );
}

#[test]
fn the_active_master_role_is_exclusive_with_one_ip_and_at_most_two_hosts() {
    let text = replace_line(BASE, "hosts db1, db2", "hosts db1, db2, db3");
    let at = line_of(&text, "hosts db1, db2, db3");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: At most two hosts may hold the active master role 'writer', \
             but 'role->writer->hosts' lists 3: db1, db2, db3"
        ),
    );
    let text = replace_line(BASE, "ips 10.213.7.100", "ips 10.213.7.100, 10.213.7.99");
    let at = line_of(&text, "ips 10.213.7.100, 10.213.7.99");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Exclusive role 'writer' must have exactly one IP, but 'role->writer->ips' lists 2"
        ),
    );
    let text = replace_line(BASE, "mode exclusive", "mode balanced");
    let at = line_of(&text, "mode balanced");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: The active master role 'writer' must be an exclusive role (mode exclusive)"
        ),
    );
}

#[test]
fn ips_must_parse_and_role_ips_must_be_unique() {
    let text = replace_line(
        BASE,
        "ips 10.213.7.101, 10.213.7.102",
        "ips 10.213.7.101, vip2",
    );
    let at = line_of(&text, "vip2");
    assert_single_error(
        load_text(&text, Program::Agent),
        &format!(
            "test.conf:{at}: Config entry 'role->reader->ips' has invalid value '10.213.7.101, vip2': 'vip2': not an IP address"
        ),
    );
    let text = replace_line(
        BASE,
        "ips 10.213.7.101, 10.213.7.102",
        "ips 10.213.7.101, 10.213.7.100",
    );
    let at = line_of(&text, "10.213.7.101, 10.213.7.100");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!("test.conf:{at}: IP 10.213.7.100 of role 'reader' is also used by role 'writer'"),
    );
    let text = replace_line(
        BASE,
        "ips 10.213.7.101, 10.213.7.102",
        "ips 10.213.7.101, 10.213.7.13",
    );
    let at = line_of(&text, "10.213.7.101, 10.213.7.13");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: IP 10.213.7.13 of role 'reader' is the permanent IP of host 'db3'"
        ),
    );
}

#[test]
fn host_default_template_fills_missing_keys_and_is_not_a_host() {
    let text = with_base(
        "<host db3>\nagent_user db3-agent\n</host>\n<host default>\nmysql_port 3308\n</host>\n",
    );
    let cfg = loaded(load_text(&text, Program::Agent));
    assert_eq!(cfg.hosts.len(), 3);
    assert!(cfg.host("default").is_none());
    assert_eq!(
        cfg.host("db1").expect("db1").agent_user.as_deref(),
        Some("agent")
    );
    assert_eq!(
        cfg.host("db3").expect("db3").agent_user.as_deref(),
        Some("db3-agent")
    );
    assert!(
        cfg.hosts.iter().all(|h| h.mysql_port == 3308),
        "a later template section merges too"
    );
    assert!(
        cfg.hosts
            .iter()
            .all(|h| h.cluster_interface.as_deref() == Some("eth0"))
    );
}

#[test]
fn check_default_template_applies_to_all_four_checks() {
    let text = with_base(
        "<check default>\ntrap_period 4\ntimeout 3\n</check>\n<check rep_backlog>\ntrap_period 20\n</check>\n",
    );
    let cfg = loaded(load_text(&text, Program::Monitor));
    let c = &cfg.checks;
    assert_eq!(
        [
            c.ping.trap_period,
            c.mysql.trap_period,
            c.rep_threads.trap_period,
            c.rep_backlog.trap_period
        ],
        [4, 4, 4, 20].map(Duration::from_secs)
    );
    assert!(
        [c.ping.timeout, c.mysql.timeout, c.rep_threads.timeout]
            .iter()
            .all(|t| *t == Duration::from_secs(3))
    );
}

#[test]
fn unknown_check_names_are_refused() {
    let text = with_base("<check disk>\ntimeout 3\n</check>\n");
    let at = line_of(&text, "<check disk>");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Invalid check 'disk' in configuration allowed values are: \
             'ping', 'mysql', 'rep_backlog', 'rep_threads', 'default'"
        ),
    );
}

#[test]
fn defaults_follow_mysql_mmm() {
    let cfg = loaded(load_text(BASE, Program::Monitor));
    assert!(!cfg.debug);
    assert_eq!(cfg.max_kill_retries, 10);
    assert_eq!(cfg.catchup_timeout, Duration::from_secs(30));
    assert!(cfg.use_gtid);
    let db1 = cfg.host("db1").expect("db1");
    assert_eq!(
        (db1.mode, db1.agent_port, db1.mysql_port),
        (HostMode::Master, 9989, 3306)
    );
    assert_eq!(db1.ip, ip("10.213.7.11"));
    assert!(db1.tools.is_empty());
    for check in [
        &cfg.checks.ping,
        &cfg.checks.mysql,
        &cfg.checks.rep_threads,
        &cfg.checks.rep_backlog,
    ] {
        assert_eq!(check.check_period, Duration::from_secs(5));
        assert_eq!(check.trap_period, Duration::from_secs(10));
        assert_eq!(check.timeout, Duration::from_secs(2));
        assert_eq!(check.restart_after, 10_000);
        assert_eq!(check.max_backlog, 60);
    }
    let m = cfg.monitor.as_ref().expect("monitor");
    assert_eq!((m.ip, m.port), (ip("127.0.0.1"), 9988));
    assert_eq!(m.ping_interval, Duration::from_secs(1));
    assert_eq!(m.ping_ips, [ip("10.213.7.1")]);
    assert_eq!(
        (m.flap_duration, m.flap_count),
        (Duration::from_secs(3600), 3)
    );
    assert_eq!(m.auto_set_online, Duration::ZERO);
    assert!(m.careful_startup);
    assert_eq!(m.mode, StartMode::Active);
    assert_eq!(m.wait_for_other_master, Duration::from_secs(120));
    assert_eq!(m.kill_host_bin, None);
    assert_eq!(
        [
            m.agent_lease,
            m.lease_margin,
            m.status_interval,
            m.agent_timeout
        ],
        [5, 1, 1, 2].map(Duration::from_secs)
    );
    assert_eq!(m.observer_quorum, None);
    assert_eq!(cfg.socket.kind, SocketType::Plain);
    let writer = cfg.active_master_role().expect("writer");
    assert_eq!(
        (writer.mode, writer.ips.as_slice()),
        (RoleMode::Exclusive, &[ip("10.213.7.100")][..])
    );
}

#[test]
fn role_mode_may_be_omitted_outside_the_monitor() {
    let text = replace_line(BASE, "mode exclusive", "");
    let text = replace_line(&text, "mode balanced", "");
    let cfg = loaded(load_text(&text, Program::Agent));
    assert_eq!(
        cfg.role("writer").expect("writer").mode,
        RoleMode::Exclusive,
        "the active master role"
    );
    assert_eq!(cfg.role("reader").expect("reader").mode, RoleMode::Balanced);
    let got = errors(load_text(&text, Program::Monitor));
    assert_eq!(got.len(), 2);
    assert!(
        got[0].ends_with("Required config entry 'role->writer->mode' is missing"),
        "{got:?}"
    );
}

#[test]
fn numbers_and_ports_are_checked() {
    for (needle, replacement, message) in [
        (
            "mode slave",
            "mode slave\nmysql_port 70000",
            "Config entry 'host->db3->mysql_port' has invalid value '70000': a port must be between 1 and 65535",
        ),
        (
            "mode slave",
            "mode slave\nagent_port 0",
            "Config entry 'host->db3->agent_port' has invalid value '0': a port must be between 1 and 65535",
        ),
        (
            "mode slave",
            "mode slave\nhttp_port 99999",
            "Config entry 'host->db3->http_port' has invalid value '99999': a port must be between 1 and 65535",
        ),
        (
            "this db1",
            "this db1\nmax_kill_retries -1",
            "Config entry 'max_kill_retries' has invalid value '-1': must not be negative",
        ),
        (
            "ping_ips 10.213.7.1",
            "ping_ips 10.213.7.1\nflap_count many",
            "Config entry 'monitor->flap_count' has invalid value 'many': expected a whole number",
        ),
        (
            "ip 127.0.0.1",
            "ip localhost",
            "Config entry 'monitor->ip' has invalid value 'localhost': not an IP address",
        ),
    ] {
        let text = replace_line(BASE, needle, replacement);
        let at = line_of(&text, replacement.lines().last().expect("line"));
        assert_single_error(
            load_text(&text, Program::Monitor),
            &format!("test.conf:{at}: {message}"),
        );
    }
}

#[test]
fn ssl_sockets_need_certificates_per_program() {
    let text = with_base(
        "<socket>\ntype ssl\ncert_file /etc/mmm/cert.pem\nkey_file /etc/mmm/key.pem\n</socket>\n",
    );
    let at = line_of(&text, "<socket>");
    for program in [Program::Agent, Program::Monitor] {
        assert_single_error(
            load_text(&text, program),
            &format!(
                "test.conf:{at}: Config entry 'socket->ca_file' is required because of 'type ssl', but missing"
            ),
        );
    }
    let cfg = loaded(load_text(&text, Program::Control));
    assert_eq!(cfg.socket.kind, SocketType::Ssl);
    assert_eq!(
        cfg.socket.cert_file.as_deref(),
        Some(std::path::Path::new("/etc/mmm/cert.pem"))
    );
    let text = with_base("<socket>\ntype ssl\n</socket>\n");
    assert_eq!(
        errors(load_text(&text, Program::Control)).len(),
        2,
        "cert_file and key_file"
    );
}

#[test]
fn the_tools_need_their_own_settings() {
    let got = errors(load_text(BASE, Program::Tools));
    assert!(
        got.contains(&"test.conf: Required config entry 'copy_method' is missing".to_owned()),
        "{got:#?}"
    );
    assert!(
        got.contains(
            &"test.conf: Required config entry 'default_copy_method' is missing".to_owned()
        ),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|e| e.ends_with("Required config entry 'host->db1->lvm_mount_dir' is missing")),
        "{got:#?}"
    );
    let text = with_base(
        "default_copy_method scp\nclone_dirs data, logs\n<copy_method scp>\nbackup_command b\nrestore_command r\ntrue_copy 1\n</copy_method>\n\
         <host default>\nssh_user root\ntools_user tools\ntools_password tools-secret\nbackup_dir /b\nrestore_dir /r\n\
         lvm_snapshot_size 1G\nlvm_logical_volume lv\nlvm_volume_group vg\nlvm_mount_dir /mnt\nlvm_mount_opts ro\n</host>\n",
    );
    let cfg = loaded(load_text(&text, Program::Tools));
    let tools = &cfg.host("db2").expect("db2").tools;
    assert!(
        tools.contains(&("ssh_port".to_owned(), "22".to_owned())),
        "default filled in: {tools:?}"
    );
    assert!(tools.contains(&("lvm_mount_dir".to_owned(), "/mnt".to_owned())));
}

#[test]
fn every_error_is_reported_at_once() {
    let text = replace_line(BASE, "ip 10.213.7.12", "ip nonsense");
    let text = replace_line(&text, "this db1", "this nobody");
    let text = replace_line(&text, "hosts db1, db2, db3", "hosts db1, db2, dbX");
    let got = errors(load_text(&text, Program::Agent));
    assert_eq!(got.len(), 3, "{got:#?}");
}

#[test]
fn hosts_may_share_an_ip_on_different_mysql_ports() {
    let text = replace_line(BASE, "ip 10.213.7.12", "ip 10.213.7.11\nmysql_port 3307");
    let cfg = loaded(load_text(&text, Program::Monitor));
    let db2 = cfg.host("db2").expect("db2");
    assert_eq!((db2.ip, db2.mysql_port), (ip("10.213.7.11"), 3307));
}

#[test]
fn the_error_list_displays_one_error_per_line() {
    let text = replace_line(BASE, "this db1", "this nobody\nbogus 1");
    let Err(errors) = load_text(&text, Program::Agent) else {
        panic!("expected errors")
    };
    assert_eq!(
        errors.to_string(),
        "test.conf:3: Unknown variable bogus in 'test.conf' on line 3!"
    );
    let text = replace_line(BASE, "this db1", "this nobody");
    let text = replace_line(&text, "peer db1", "peer dbX");
    let Err(errors) = load_text(&text, Program::Agent) else {
        panic!("expected errors")
    };
    let at = line_of(&text, "peer dbX");
    assert_eq!(
        errors.to_string(),
        format!(
            "test.conf:{at}: Config entry 'host->db2->peer' has invalid value 'dbX' allowed values are: 'db1', 'db3'\n\
             test.conf:2: Config entry 'this' has invalid value 'nobody' allowed values are: 'db1', 'db2', 'db3'"
        )
    );
    assert_eq!(errors.0[1].line, Some(2));
    assert_eq!(errors.0[1].file, std::path::Path::new("test.conf"));
}

#[test]
fn an_exclusive_role_without_ips_is_vip_less_when_its_hosts_serve_http() {
    let vip_less = replace_line(BASE, "ips 10.213.7.100", "");
    let section = line_of(&vip_less, "<role writer>");
    for program in [Program::Agent, Program::Monitor] {
        assert_single_error(
            load_text(&vip_less, program),
            &format!(
                "test.conf:{section}: Config entry 'role->writer->ips' is missing, so the role \
                 has no VIP and clients find its host through the agents' health endpoints, \
                 but these hosts have no 'http_port': db1, db2"
            ),
        );
    }
    let served = vip_less.replace("<host default>\n", "<host default>\nhttp_port 9990\n");
    let config = load_text(&served, Program::Monitor).expect("a VIP-less writer loads");
    let writer = config
        .roles
        .iter()
        .find(|r| r.name == "writer")
        .expect("writer");
    assert!(writer.ips.is_empty());
    assert_eq!(
        writer.instances(),
        vec![mmm_core::state::RoleIp::bare("writer")]
    );
    assert_eq!(writer.instances()[0].to_string(), "writer");
    let reader = config
        .roles
        .iter()
        .find(|r| r.name == "reader")
        .expect("reader");
    assert_eq!(reader.instances().len(), 2);
    assert!(load_text(&served, Program::Agent).is_ok());
}

#[test]
fn a_balanced_role_needs_its_ips() {
    let text = replace_line(BASE, "ips 10.213.7.101, 10.213.7.102", "");
    let section = line_of(&text, "<role reader>");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{section}: Required config entry 'role->reader->ips' is missing: only \
             an exclusive role can go without VIPs"
        ),
    );
}
