//! Shared by the configuration tests of mmm-core (the pure loader) and of mmm-daemon (the
//! file-system side): a base cluster text, the fixture directory, and result helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mmm_core::config::{Config, ConfigErrors};

/// A minimal cluster every program accepts: two masters, a slave, writer and reader
/// roles, a classic `<monitor>`.
pub(crate) const BASE: &str = "\
active_master_role writer
this db1
<host default>
cluster_interface eth0
pid_path /run/mmm/agent.pid
agent_user agent
agent_password agent-secret
monitor_user monitor
monitor_password monitor-secret
replication_user repl
replication_password repl-secret
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
pid_path /run/mmm/mond.pid
ping_ips 10.213.7.1
</monitor>
";

/// `BASE` followed by `extra` (whose first line is `BASE`'s line count + 1).
pub(crate) fn with_base(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// The 1-based line of `text` holding `needle` (the first one).
pub(crate) fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|index| index + 1)
        .unwrap_or_else(|| panic!("'{needle}' is not in the text"))
}

/// `text` with the first line containing `needle` replaced by `replacement` (which may be
/// empty, leaving a blank line so other line numbers stay put).
pub(crate) fn replace_line(text: &str, needle: &str, replacement: &str) -> String {
    let at = line_of(text, needle);
    text.lines()
        .enumerate()
        .map(|(index, line)| if index + 1 == at { replacement } else { line })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The errors of a failed load, one display line each; panics if the load succeeded.
pub(crate) fn errors(result: Result<Config, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(cfg) => panic!("expected errors, the config loaded: {cfg:#?}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

/// The loaded config; panics with every error if the load failed.
pub(crate) fn loaded(result: Result<Config, ConfigErrors>) -> Config {
    match result {
        Ok(cfg) => cfg,
        Err(errors) => panic!("expected the config to load:\n{errors}"),
    }
}

/// Asserts that the load fails with exactly one error, equal to `expected`.
pub(crate) fn assert_single_error(result: Result<Config, ConfigErrors>, expected: &str) {
    assert_eq!(errors(result), [expected]);
}

/// The fixture directory `tests/config/<rel>`.
pub(crate) fn fixture(rel: &str) -> PathBuf {
    // Also compiled into mmm-daemon's tests: the path works from either crate's directory.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mmm-core/tests/config")
        .join(rel)
}
