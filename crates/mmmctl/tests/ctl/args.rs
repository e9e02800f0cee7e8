//! Argument errors, local commands and exit codes that need no monitor.

use super::harness::mmmctl;

#[test]
fn usage_errors_exit_2_and_change_nothing() {
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["set_online"],
        &["set_offline"],
        &["set_online", "db1", "db2"],
        &["move_role", "writer"],
        &["move_role", "--force"],
        &["move_role", "--bogus", "writer", "db1"],
        &["set_ip", "not-an-ip", "db1"],
        &["set_ip", "192.168.1.200"],
        &["checks", "db1", "mysql", "extra"],
        &["mode", "extra"],
        &["history", "--limit", "many"],
        &["cluster"],
        &["cluster", "add"],
        &["cluster", "transfer-leader"],
        &["config", "check"],
        &["config", "check", "--as", "tools", "x.conf"],
        &["completions", "powershell"],
        &["--timeout", "0", "--monitor", "127.0.0.1:1", "ping"],
        &[
            "--connect-timeout",
            "-1",
            "--monitor",
            "127.0.0.1:1",
            "ping",
        ],
        &["--monitor", "not an address", "ping"],
        &["--monitor", "127.0.0.1:99999", "ping"],
    ];
    for args in cases {
        let run = mmmctl(args);
        assert_eq!(run.code, 2, "mmmctl {args:?}: {}{}", run.stdout, run.stderr);
        assert!(!run.stderr.is_empty(), "mmmctl {args:?} printed no error");
        assert!(
            run.stdout.is_empty(),
            "mmmctl {args:?} printed {}",
            run.stdout
        );
    }
}

#[test]
fn a_zero_timeout_gets_a_clear_range_message() {
    for flag in ["--timeout", "--connect-timeout"] {
        let run = mmmctl(&[flag, "0", "--monitor", "127.0.0.1:1", "ping"]);
        assert_eq!(run.code, 2);
        assert_eq!(
            run.stderr,
            format!(
                "ERROR: {flag} 0 is out of range: give more than 0 and at most 3600 seconds (e.g. 0.5 or 5).\n"
            )
        );
    }
}

#[test]
fn missing_default_config_names_the_search_path_and_exits_2() {
    let run = mmmctl(&["@nosuchcluster", "show"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("mmm_mon_nosuchcluster.conf"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("/etc, /etc/mmm, /etc/mysql-mmm"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--monitor"), "{}", run.stderr);
}

#[test]
fn help_prints_mmm_control_listing() {
    let run = mmmctl(&["help"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, format!("{}\n", mmm_core::render::help_text()));
    assert!(run.stdout.starts_with("Valid commands are:\n    help "));
}

#[test]
fn long_help_has_examples_and_exit_codes() {
    let run = mmmctl(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Examples:"), "{}", run.stdout);
    assert!(run.stdout.contains("mmmctl move_role writer db1"));
    assert!(run.stdout.contains("3 no monitor reachable or no quorum"));
    let run = mmmctl(&["move_role", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("--force"));
}

#[test]
fn completions_produce_scripts() {
    let bash = mmmctl(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("_mmmctl()"), "{}", bash.stdout);
    assert!(
        bash.stdout.contains("complete -F _mmmctl"),
        "{}",
        bash.stdout
    );
    assert!(bash.stdout.contains("set_online"));
    let zsh = mmmctl(&["completions", "zsh"]);
    assert_eq!(zsh.code, 0);
    assert!(zsh.stdout.starts_with("#compdef mmmctl"));
    let fish = mmmctl(&["completions", "fish"]);
    assert_eq!(fish.code, 0);
    assert!(fish.stdout.contains("complete -c mmmctl"));
}

#[test]
fn version_prints_name_and_version() {
    let run = mmmctl(&["--version"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        format!("mmmctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}
