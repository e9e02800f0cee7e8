//! Named `<monitor NAME>` sections, `this_monitor`, node ids, ports and `observer_quorum`.

use std::net::IpAddr;
use std::path::Path;

use mmm_core::config::{MonitorNode, Program};

use super::{
    BASE, assert_single_error, errors, line_of, load_fixture, load_text, loaded, with_base,
};

const NODES: &str = "\
<monitor mon1>
ip 10.213.7.21
</monitor>
<monitor mon2>
ip 10.213.7.22
id 7
port 19988
</monitor>
<monitor mon3>
ip 10.213.7.23
raft_port 19990
data_dir /srv/mmm/third
</monitor>
";

/// BASE without its classic `ip`, plus three named nodes.
fn cluster(extra: &str) -> String {
    format!(
        "{}{NODES}{extra}",
        super::replace_line(BASE, "ip 127.0.0.1", "")
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

#[test]
fn named_sections_define_the_nodes_with_defaults() {
    let cfg = loaded(load_text(&cluster("this_monitor mon2\n"), Program::Monitor));
    assert_eq!(
        cfg.monitor_nodes,
        [
            MonitorNode {
                name: "mon1".into(),
                id: 1,
                ip: ip("10.213.7.21"),
                port: 9988,
                raft_port: 9990,
                http_port: None,
                data_dir: "/var/lib/mmm/mon1".into()
            },
            MonitorNode {
                name: "mon2".into(),
                id: 7,
                ip: ip("10.213.7.22"),
                port: 19988,
                raft_port: 9990,
                http_port: None,
                data_dir: "/var/lib/mmm/mon2".into()
            },
            MonitorNode {
                name: "mon3".into(),
                id: 3,
                ip: ip("10.213.7.23"),
                port: 9988,
                raft_port: 19990,
                http_port: None,
                data_dir: "/srv/mmm/third".into()
            },
        ]
    );
    assert_eq!(cfg.this_monitor.as_deref(), Some("mon2"));
    assert_eq!(cfg.this_monitor_node().map(|n| n.id), Some(7));
    let m = cfg.monitor.expect("shared settings");
    assert_eq!(
        (m.ip, m.port),
        (ip("10.213.7.22"), 19988),
        "this node's control address"
    );
    assert_eq!(m.ping_ips, [ip("10.213.7.1")]);
}

#[test]
fn the_classic_monitor_section_is_a_one_node_cluster() {
    let cfg = loaded(load_text(BASE, Program::Monitor));
    assert_eq!(
        cfg.monitor_nodes,
        [MonitorNode {
            name: "monitor".into(),
            id: 1,
            ip: ip("127.0.0.1"),
            port: 9988,
            raft_port: 9990,
            http_port: None,
            data_dir: "/var/lib/mmm/monitor".into()
        }]
    );
    assert_eq!(
        cfg.this_monitor_node().map(|n| n.name.as_str()),
        Some("monitor")
    );
    let text = with_base("<monitor>\nraft_port 7000\ndata_dir /tmp/mmm-one\nid 4\n</monitor>\n");
    let node = loaded(load_text(&text, Program::Monitor))
        .monitor_nodes
        .remove(0);
    assert_eq!(
        (node.id, node.raft_port, node.data_dir.as_path()),
        (4, 7000, Path::new("/tmp/mmm-one"))
    );
}

#[test]
fn this_monitor_is_required_for_the_monitor_only() {
    assert_single_error(
        load_text(&cluster(""), Program::Monitor),
        "test.conf: Required config entry 'this_monitor' is missing (it names this monitor's <monitor NAME> section)",
    );
    let cfg = loaded(load_text(&cluster(""), Program::Control));
    assert_eq!(cfg.monitor_nodes.len(), 3);
    assert!(cfg.this_monitor_node().is_none());
    let text = cluster("this_monitor mon4\n");
    let at = line_of(&text, "this_monitor mon4");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'this_monitor' has invalid value 'mon4' allowed values are: 'mon1', 'mon2', 'mon3'"
        ),
    );
}

#[test]
fn named_nodes_without_an_unnamed_section_take_shared_defaults_but_mysql_mmm_requirements_stay() {
    let start = line_of(BASE, "<monitor>");
    let without: String = BASE
        .lines()
        .take(start - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    let text = format!("{without}{NODES}this_monitor mon1\n");
    let got = errors(load_text(&text, Program::Monitor));
    assert_eq!(
        got,
        [
            "test.conf: Required config entry 'monitor->pid_path' is missing",
            "test.conf: Required config entry 'monitor->ping_ips' is missing",
        ]
    );
    let cfg = loaded(load_text(&text, Program::Control));
    let m = cfg.monitor.expect("shared defaults");
    assert_eq!(
        (m.ip, m.port, m.agent_lease.as_secs()),
        (ip("10.213.7.21"), 9988, 5)
    );
}

#[test]
fn node_ids_must_be_unique_and_positive() {
    let text = cluster("this_monitor mon1\n<monitor mon3>\nid 1\n</monitor>\n");
    let at = line_of(&text, "id 1");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!("test.conf:{at}: Monitor node id 1 of 'mon3' is already used by 'mon1'"),
    );
    let text = cluster("this_monitor mon1\n<monitor mon3>\nid 0\n</monitor>\n");
    let at = line_of(&text, "id 0");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'monitor->mon3->id' has invalid value '0': a monitor node id must be 1 or more"
        ),
    );
}

#[test]
fn node_ports_are_valid_and_do_not_collide() {
    let text = cluster("this_monitor mon1\n<monitor mon1>\nport 99999\n</monitor>\n");
    let at = line_of(&text, "port 99999");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'monitor->mon1->port' has invalid value '99999': a port must be between 1 and 65535"
        ),
    );
    let text = cluster("this_monitor mon1\n<monitor mon3>\nip 10.213.7.21\n</monitor>\n");
    let at = line_of(&text, "<monitor mon3>");
    assert_eq!(
        errors(load_text(&text, Program::Monitor)),
        [format!(
            "test.conf:{at}: Monitor node 'mon3' listens on 10.213.7.21:9988, already used by 'mon1'"
        ),]
    );
    let text = cluster("this_monitor mon1\n<monitor mon1>\nraft_port 9988\n</monitor>\n");
    let at = line_of(&text, "<monitor mon1>");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Monitor node 'mon1' listens on 10.213.7.21:9988, already used by its own other port"
        ),
    );
}

#[test]
fn http_port_is_off_by_default_shared_by_the_monitor_section_and_overridden_per_node() {
    let cfg = loaded(load_text(&cluster("this_monitor mon1\n"), Program::Monitor));
    assert!(cfg.monitor_nodes.iter().all(|n| n.http_port.is_none()));
    let text = cluster(
        "this_monitor mon1\n<monitor>\nhttp_port 9991\n</monitor>\n<monitor mon3>\nhttp_port 9992\n</monitor>\n",
    );
    let cfg = loaded(load_text(&text, Program::Monitor));
    let ports: Vec<_> = cfg.monitor_nodes.iter().map(|n| n.http_port).collect();
    assert_eq!(ports, [Some(9991), Some(9991), Some(9992)]);

    let text = cluster("this_monitor mon1\n<monitor mon2>\nhttp_port 0\n</monitor>\n");
    let at = line_of(&text, "http_port 0");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'monitor->mon2->http_port' has invalid value '0': a port must be between 1 and 65535"
        ),
    );
    let text = cluster("this_monitor mon1\n<monitor mon1>\nhttp_port 9990\n</monitor>\n");
    let at = line_of(&text, "<monitor mon1>");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Monitor node 'mon1' listens on 10.213.7.21:9990, already used by its own other port"
        ),
    );
}

#[test]
fn a_named_node_needs_an_ip_and_classic_node_keys_do_not_mix_with_named_ones() {
    let text = cluster("this_monitor mon1\n<monitor mon4>\nport 9000\n</monitor>\n");
    let at = line_of(&text, "<monitor mon4>");
    assert_single_error(
        load_text(&text, Program::Control),
        &format!("test.conf:{at}: Required config entry 'monitor->mon4->ip' is missing"),
    );
    let text = format!("{BASE}{NODES}this_monitor mon1\n");
    let at = line_of(&text, "ip 127.0.0.1");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: 'ip' in the unnamed <monitor> section applies only to a single-monitor setup; \
             with <monitor NAME> sections, set it in each of them"
        ),
    );
}

#[test]
fn unnamed_ports_are_defaults_for_named_nodes() {
    let text = cluster("this_monitor mon1\n<monitor>\nport 7001\nraft_port 7002\n</monitor>\n");
    let cfg = loaded(load_text(&text, Program::Monitor));
    let ports: Vec<(u16, u16)> = cfg
        .monitor_nodes
        .iter()
        .map(|n| (n.port, n.raft_port))
        .collect();
    assert_eq!(ports, [(7001, 7002), (19988, 7002), (7001, 19990)]);
}

#[test]
fn shared_settings_in_a_named_section_are_unknown_there() {
    let text = cluster("<monitor mon1>\nping_ips 10.213.7.1\n</monitor>\n");
    let at = text.lines().count() - 1;
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Unknown variable ping_ips in 'test.conf' on line {at}! \
             ('ping_ips' belongs in the unnamed <monitor> section)"
        ),
    );
}

#[test]
fn observer_quorum_is_between_one_and_the_number_of_nodes() {
    for good in ["1", "2", "3"] {
        let text = cluster(&format!(
            "this_monitor mon1\n<monitor>\nobserver_quorum {good}\n</monitor>\n"
        ));
        let m = loaded(load_text(&text, Program::Monitor))
            .monitor
            .expect("monitor");
        assert_eq!(m.observer_quorum, Some(good.parse().expect("n")));
    }
    for bad in ["0", "4"] {
        let text = cluster(&format!(
            "this_monitor mon1\n<monitor>\nobserver_quorum {bad}\n</monitor>\n"
        ));
        let at = line_of(&text, &format!("observer_quorum {bad}"));
        assert_single_error(
            load_text(&text, Program::Monitor),
            &format!(
                "test.conf:{at}: Config entry 'monitor->observer_quorum' has invalid value '{bad}': \
                 must be between 1 and 3 (the number of monitor nodes)"
            ),
        );
    }
    let text = with_base("<monitor>\nobserver_quorum 2\n</monitor>\n");
    let got = errors(load_text(&text, Program::Monitor));
    assert!(
        got[0].ends_with("must be between 1 and 1 (the number of monitor nodes)"),
        "{got:?}"
    );
}

#[test]
fn this_monitor_without_named_sections() {
    let cfg = loaded(load_text(
        &with_base("this_monitor monitor\n"),
        Program::Monitor,
    ));
    assert_eq!(cfg.this_monitor_node().map(|n| n.id), Some(1));
    let text = with_base("this_monitor mon1\n");
    let at = line_of(&text, "this_monitor mon1");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{at}: Config entry 'this_monitor' has invalid value 'mon1' allowed values are: 'monitor'"
        ),
    );
}

#[test]
fn the_cluster_fixture_loads_for_each_program() {
    let cfg = loaded(load_fixture("cluster", "mmm_mon.conf", Program::Monitor));
    assert_eq!(
        cfg.this_monitor_node().map(|n| (n.name.as_str(), n.id)),
        Some(("mon2", 2))
    );
    assert_eq!(cfg.monitor_nodes.len(), 3);
    assert_eq!(cfg.checks.ping.check_period.as_millis(), 200);
    assert_eq!(cfg.checks.rep_backlog.max_backlog, 30);
    assert_eq!(cfg.checks.rep_backlog.trap_period.as_millis(), 500);
    assert_eq!(
        cfg.role("writer").and_then(|r| r.prefer.as_deref()),
        Some("db1")
    );
    let control = loaded(load_fixture("cluster", "mmm_common.conf", Program::Control));
    assert_eq!(control.monitor_nodes.len(), 3);
}
