//! No input makes the loader panic: random lines built from the format's own pieces (and
//! arbitrary text) always give `Ok` or `Err`.

use mmm_core::config::Program;
use proptest::prelude::*;

use super::{BASE, PROGRAMS, load_text};

/// One line: a tag, a directive with a plausible or random value, or anything at all.
fn line() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "host",
        "role",
        "check",
        "monitor",
        "socket",
        "copy_method",
        "default",
        "db1",
        "db2",
        "mon1",
        "ping",
        "mysql",
    ]);
    let keys = prop::sample::select(vec![
        "ip",
        "mode",
        "peer",
        "hosts",
        "ips",
        "prefer",
        "this",
        "this_monitor",
        "active_master_role",
        "debug",
        "include",
        "port",
        "raft_port",
        "id",
        "data_dir",
        "ping_ips",
        "check_period",
        "trap_period",
        "timeout",
        "observer_quorum",
        "agent_lease",
        "status_interval",
        "type",
        "cert_file",
        "mysql_port",
        "max_kill_retries",
    ]);
    let values = prop::sample::select(vec![
        "",
        "1",
        "0",
        "-1",
        "0.5",
        "99999999999999999999",
        "10.213.7.11",
        "::1",
        "db1, db2",
        "db1,,",
        "master",
        "slave",
        "exclusive",
        "balanced",
        "ssl",
        "mon1",
        "writer",
        "yes",
        "nonexistent",
        "/tmp/x",
        "1e9",
        ".",
    ]);
    prop_oneof![
        (
            words.clone(),
            prop::option::of(words.clone()),
            any::<bool>()
        )
            .prop_map(|(kind, name, empty)| {
                let name = name.map(|n| format!(" {n}")).unwrap_or_default();
                format!("<{kind}{name}{}>", if empty { "/" } else { "" })
            }),
        words.prop_map(|w| format!("</{w}>")),
        (keys, values).prop_map(|(k, v)| format!("{k} {v}")),
        ".*",
        "[<>/# a-z_0-9,.-]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_lines_never_panic(lines in prop::collection::vec(line(), 0..40), program in prop::sample::select(PROGRAMS.to_vec())) {
        let text = lines.join("\n");
        let _ = load_text(&text, program);
    }

    #[test]
    fn random_lines_appended_to_a_valid_config_never_panic(lines in prop::collection::vec(line(), 0..12)) {
        let text = format!("{BASE}{}", lines.join("\n"));
        for program in [Program::Monitor, Program::Agent] {
            let result = load_text(&text, program);
            if let Err(errors) = result {
                prop_assert!(!errors.0.is_empty());
                prop_assert!(errors.0.iter().all(|e| !e.message.is_empty()));
            }
        }
    }
}
