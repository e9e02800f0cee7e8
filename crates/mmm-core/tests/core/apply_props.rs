//! Properties of `apply` over random command sequences: a rejected command leaves the state
//! byte-identical, epochs never decrease, and the epoch grows exactly when a host state or
//! a role changed.

use std::net::IpAddr;

use mmm_core::command::{Change, Command, apply};
use mmm_core::state::{ClusterState, HostState, Mode, RoleIp};
use mmm_core::time::Timestamp;
use proptest::prelude::*;

use crate::fixtures;

const HOSTS: [&str; 4] = ["db1", "db2", "db3", "dbx"];
const ROLES: [&str; 3] = ["writer", "reader", "nosuch"];
const IPS: [&str; 5] = [
    "10.213.7.100",
    "10.213.7.101",
    "10.213.7.102",
    "10.213.7.103",
    "10.213.7.9",
];
const MODES: [Mode; 4] = [Mode::Active, Mode::Manual, Mode::Wait, Mode::Passive];

fn host() -> impl Strategy<Value = String> {
    prop::sample::select(&HOSTS[..]).prop_map(str::to_string)
}

fn state() -> impl Strategy<Value = HostState> {
    prop::sample::select(&HostState::ALL[..])
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop::sample::select(&IPS[..]).prop_map(|s| s.parse().expect("ip"))
}

fn role() -> impl Strategy<Value = String> {
    prop::sample::select(&ROLES[..]).prop_map(str::to_string)
}

fn mode() -> impl Strategy<Value = Mode> {
    prop::sample::select(&MODES[..])
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (host(), state(), state(), any::<bool>(), any::<bool>(), prop::option::of(0u64..100_000))
            .prop_map(|(host, from, to, clear_roles, clear_flapping, last_uptime_ms)| Change::SetState {
                host, from, to, clear_roles, clear_flapping, last_uptime_ms
            }),
        1 => (host(), state()).prop_map(|(host, state)| Change::ClearRoles { host, state }),
        5 => (role(), prop::option::of(ip()), prop::option::of(host()), host())
            .prop_map(|(role, ip, from, to)| Change::AssignRole { role, ip, from, to }),
        2 => (host(), prop::option::of(ip()), prop::option::of(host()))
            .prop_map(|(host, ip, target)| Change::ReleaseWriter { host, ip, target }),
        1 => host().prop_map(|to| Change::RetargetWriter { to }),
        1 => (host(), role()).prop_map(|(host, role)| Change::RemoveRole { host, role }),
        1 => (mode(), mode()).prop_map(|(from, to)| Change::SetMode { from, to, cause: "c".into() }),
        1 => (host(), any::<bool>()).prop_map(|(host, down)| Change::SetAgentDown { host, down }),
        1 => (host(), any::<bool>()).prop_map(|(host, on)| Change::SetServerTimer { host, on }),
        1 => prop::collection::vec((state(), prop::option::of(ip())), 3).prop_map(|v| Change::Startup {
            hosts: v
                .into_iter()
                .zip(["db1", "db2", "db3"])
                .map(|((st, ip), h)| {
                    let roles = ip.map(|ip| vec![RoleIp::new("reader", ip)]).unwrap_or_default();
                    (h.to_string(), st, roles)
                })
                .collect(),
            mode: Mode::Active,
            cause: String::new(),
        }),
    ]
}

/// Most of the time, make the command's expectations match the state so it is accepted.
fn aim(st: &ClusterState, change: &mut Change) {
    match change {
        Change::SetState { host, from, .. } | Change::ClearRoles { host, state: from } => {
            if let Some(s) = st.state_of(host) {
                *from = s;
            }
        }
        Change::AssignRole { role, ip, from, .. } => {
            *from = st.owner_of(role, *ip).map(str::to_string);
        }
        Change::ReleaseWriter { host, ip, .. } => {
            if let Some(o) = st.owner_of("writer", *ip) {
                *host = o.to_string();
            }
        }
        Change::SetMode { from, .. } => *from = st.mode,
        _ => {}
    }
}

/// Host states and roles only: what the epoch is about.
fn projection(s: &ClusterState) -> Vec<(HostState, Vec<RoleIp>)> {
    s.hosts.iter().map(|h| (h.state, h.roles.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn apply_is_all_or_nothing_and_epoch_tracks_changes(
        changes in prop::collection::vec((change(), 0u64..5, prop::bool::weighted(0.8)), 1..60)
    ) {
        let config = fixtures::lab(true);
        let mut st = ClusterState::new(&config, Timestamp::from_secs(1_000));
        let mut now = Timestamp::from_secs(1_000);
        let mut applied = 0;
        for (mut change, dt, fix) in changes {
            if fix {
                aim(&st, &mut change);
            }
            now = now.plus(std::time::Duration::from_secs(dt));
            let cmd = Command { at: now, change, lines: Vec::new() };
            let before_json = serde_json::to_string(&st).expect("json");
            let before_proj = projection(&st);
            let before_epoch = st.epoch;
            let before_moves = st.writer_moves;
            let writer_from = st.writer_release.as_ref().map(|r| r.host.clone());
            match apply(&mut st, &cmd, &config) {
                Err(_) => {
                    prop_assert_eq!(serde_json::to_string(&st).expect("json"), before_json);
                }
                Ok(a) => {
                    applied += 1;
                    prop_assert!(st.epoch >= before_epoch);
                    prop_assert_eq!(a.epoch, st.epoch);
                    let changed = projection(&st) != before_proj;
                    prop_assert_eq!(changed, a.changed);
                    prop_assert_eq!(st.epoch, before_epoch + u64::from(changed));
                    let moved = (st.writer_moves.failover + st.writer_moves.switchover)
                        - (before_moves.failover + before_moves.switchover);
                    let handed_off = matches!(
                        &cmd.change,
                        Change::AssignRole { role, to, .. }
                            if role == "writer" && writer_from.as_ref().is_some_and(|f| f != to)
                    );
                    prop_assert!(st.writer_moves.failover >= before_moves.failover);
                    prop_assert!(st.writer_moves.switchover >= before_moves.switchover);
                    prop_assert_eq!(moved, u64::from(handed_off), "{:?}", cmd.change);
                    // Roles only ever sit on configured hosts allowed to hold them.
                    for h in &st.hosts {
                        for r in &h.roles {
                            let ok = config.roles.iter().any(|rc| {
                                rc.has_instance(r) && rc.hosts.contains(&h.name)
                            });
                            prop_assert!(ok, "{} on {}", r, h.name);
                        }
                    }
                }
            }
            prop_assert!(st.history.len() <= mmm_core::state::HISTORY_LIMIT);
        }
        if std::env::var_os("MMM_PROP_STATS").is_some() { eprintln!("applied {applied}"); }
    }
}

/// The writer's handoffs are counted by cause: a failed host's role is a failover, an
/// operator's move from a working host a switchover, a re-grant to the same host nothing.
#[test]
fn writer_moves_are_counted_by_cause() {
    let config = fixtures::lab(true);
    let now = Timestamp::from_secs(1_000);
    let mut st = ClusterState::new(&config, now);
    let ip: IpAddr = IPS[0].parse().expect("ip");
    for h in ["db1", "db2"] {
        st.host_mut(h).expect("host").state = HostState::Online;
    }
    st.host_mut("db1")
        .expect("db1")
        .roles
        .push(RoleIp::new("writer", ip));
    let run = |st: &mut ClusterState, change: Change| {
        let cmd = Command {
            at: now,
            change,
            lines: Vec::new(),
        };
        apply(st, &cmd, &config).expect("applies");
    };
    let assign = |to: &str| Change::AssignRole {
        role: "writer".into(),
        ip: Some(ip),
        from: None,
        to: to.into(),
    };
    let release = |host: &str, target: Option<&str>| Change::ReleaseWriter {
        host: host.into(),
        ip: Some(ip),
        target: target.map(str::to_string),
    };
    // A lease re-grant to the same host is no move.
    run(&mut st, release("db1", Some("db1")));
    run(&mut st, assign("db1"));
    assert_eq!(
        (st.writer_moves.failover, st.writer_moves.switchover),
        (0, 0)
    );
    // move_role writer db2: a switchover.
    run(&mut st, release("db1", Some("db2")));
    run(&mut st, assign("db2"));
    assert_eq!(
        (st.writer_moves.failover, st.writer_moves.switchover),
        (0, 1)
    );
    // db2 fails: a failover, also when an operator chose where the role goes meanwhile.
    run(&mut st, release("db2", None));
    run(
        &mut st,
        Change::SetState {
            host: "db2".into(),
            from: HostState::Online,
            to: HostState::HardOffline,
            clear_roles: true,
            clear_flapping: false,
            last_uptime_ms: None,
        },
    );
    run(&mut st, Change::RetargetWriter { to: "db1".into() });
    run(&mut st, assign("db1"));
    assert_eq!(
        (st.writer_moves.failover, st.writer_moves.switchover),
        (1, 1)
    );
    assert!(st.writer_release.is_none());
}

const WORDS: [&str; 20] = [
    "set_online",
    "set_offline",
    "move_role",
    "--force",
    "set_ip",
    "set_active",
    "set_manual",
    "set_passive",
    "mode",
    "ping",
    "show",
    "checks",
    "writer",
    "reader",
    "db1",
    "db2",
    "db3",
    "10.213.7.100",
    "10.213.7.101",
    "all",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sequence of mmm_control words: no panic, a refused command yields no commands,
    /// and accepted commands always apply.
    #[test]
    fn admin_commands_always_apply(
        setup in prop::collection::vec((0usize..3, state(), prop::option::of(0usize..4)), 3),
        mode in mode(),
        requests in prop::collection::vec(
            (prop::collection::vec(prop::sample::select(&WORDS[..]), 1..5), any::<bool>()),
            1..20,
        ),
    ) {
        use mmm_core::admin::{AdminRequest, admin};
        use mmm_core::checks::{CheckKind, CheckTable};
        use mmm_core::command::apply_all;
        let config = fixtures::lab(true);
        let now = Timestamp::from_secs(1_000);
        let mut st = ClusterState::new(&config, now);
        st.mode = mode;
        let ips: Vec<IpAddr> = IPS[..4].iter().map(|s| s.parse().expect("ip")).collect();
        for (i, s, role) in setup {
            let name = HOSTS[i];
            let writer_taken = st.owner_of("writer", ips[0]).is_some();
            if let Some(h) = st.host_mut(name) {
                h.state = s;
                if let Some(r) = role {
                    let ri = if r == 0 { RoleIp::new("writer", ips[0]) } else { RoleIp::new("reader", ips[r]) };
                    let allowed = r != 0 || (name != "db3" && !writer_taken);
                    if allowed && !h.roles.contains(&ri) {
                        h.roles.push(ri);
                        h.roles.sort();
                    }
                }
            }
        }
        let mut checks = CheckTable::new();
        for h in ["db1", "db2", "db3"] {
            for k in CheckKind::ALL {
                checks.record(h, k, h != "db3" || k != CheckKind::Mysql, "x", now);
            }
        }
        for (words, reachable) in requests {
            let words: Vec<String> = words.into_iter().map(str::to_string).collect();
            let Ok(req) = AdminRequest::parse(&words) else { continue };
            let before = serde_json::to_string(&st).expect("json");
            let (cmds, reply) =
                admin(&st, &checks, &req, reachable, now, &config).expect("admin's commands apply");
            if !reply.ok {
                prop_assert!(cmds.is_empty(), "{words:?}: {}", reply.text);
            }
            prop_assert!(apply_all(&mut st, &cmds, &config).is_ok(), "{words:?}");
            if cmds.is_empty() {
                prop_assert_eq!(serde_json::to_string(&st).expect("json"), before);
            }
        }
    }
}
