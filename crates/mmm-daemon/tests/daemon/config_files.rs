//! The file system side: refusing files others may read or write (they hold passwords),
//! the default file names and search path, unreadable files.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use mmm_core::config::{ConfigKind, Program};
use mmm_daemon::config::{self, LoadOptions};
use tempfile::TempDir;

use super::common::{BASE, errors, fixture, loaded};

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A private copy of the first report's files.
fn private_seed0() -> TempDir {
    let tmp = TempDir::new().expect("tempdir");
    for name in ["mmm_common.conf", "mmm_agent.conf", "mmm_mon.conf"] {
        let to = tmp.path().join(name);
        fs::copy(fixture("seed0").join(name), &to).expect("copy");
        chmod(&to, 0o640);
    }
    tmp
}

#[test]
fn world_readable_or_writable_files_are_refused() {
    let tmp = private_seed0();
    let options = LoadOptions::searching([tmp.path()], true);
    let agent = tmp.path().join("mmm_agent.conf");
    loaded(config::load_with(&agent, Program::Agent, &options));

    chmod(&agent, 0o644);
    let a = agent.display();
    assert_eq!(
        errors(config::load_with(&agent, Program::Agent, &options)),
        [format!(
            "{a}: Configuration file {a} is world readable! It holds passwords: run 'chmod 640 {a}'"
        )]
    );
    chmod(&agent, 0o622);
    assert_eq!(
        errors(config::load_with(&agent, Program::Agent, &options)),
        [format!(
            "{a}: Configuration file {a} is world writable! It holds passwords: run 'chmod 640 {a}'"
        )]
    );
    chmod(&agent, 0o600);
    let common = tmp.path().join("mmm_common.conf");
    chmod(&common, 0o604);
    let c = common.display();
    assert_eq!(
        errors(config::load_with(&agent, Program::Agent, &options)),
        [format!(
            "{a}:1: Can't include 'mmm_common.conf' in '{a}' on line 1: \
             Configuration file {c} is world readable! It holds passwords: run 'chmod 640 {c}'"
        )]
    );
    let relaxed = LoadOptions::searching([tmp.path()], false);
    loaded(config::load_with(&agent, Program::Agent, &relaxed));
}

#[test]
fn plain_load_checks_permissions() {
    let tmp = TempDir::new().expect("tempdir");
    let path = tmp.path().join("mmm_agent.conf");
    fs::write(&path, BASE).expect("write");
    chmod(&path, 0o644);
    let got = errors(config::load(&path, Program::Agent));
    assert!(
        got[0].contains("is world readable!") && got[0].contains("chmod 640"),
        "{got:?}"
    );
    chmod(&path, 0o640);
    assert_eq!(
        loaded(config::load(&path, Program::Agent)).this.as_deref(),
        Some("db1")
    );
}

#[test]
fn unreadable_main_files_are_clear_errors() {
    let tmp = TempDir::new().expect("tempdir");
    let missing = tmp.path().join("nope.conf");
    let m = missing.display();
    assert_eq!(
        errors(config::load(&missing, Program::Agent)),
        [format!(
            "{m}: Can't read config file '{m}': No such file or directory (os error 2)"
        )]
    );
    let dir = tmp.path().display();
    assert_eq!(
        errors(config::load(tmp.path(), Program::Agent)),
        [format!(
            "{dir}: Can't read config file '{dir}': not a regular file"
        )]
    );
    let binary = tmp.path().join("binary.conf");
    fs::write(&binary, b"debug 1\n\xff\xfe\n").expect("write");
    chmod(&binary, 0o600);
    let b = binary.display();
    assert_eq!(
        errors(config::load(&binary, Program::Agent)),
        [format!(
            "{b}: Can't read config file '{b}': not UTF-8 text (invalid byte at offset 8)"
        )]
    );
}

#[test]
fn default_file_names_follow_mysql_mmm() {
    assert_eq!(ConfigKind::Agent.file_name(None), "mmm_agent.conf");
    assert_eq!(ConfigKind::Monitor.file_name(None), "mmm_mon.conf");
    assert_eq!(ConfigKind::Tools.file_name(None), "mmm_tools.conf");
    assert_eq!(
        ConfigKind::Monitor.file_name(Some("east")),
        "mmm_mon_east.conf"
    );
    assert_eq!(
        ConfigKind::Agent.file_name(Some("@east")),
        "mmm_agent_east.conf"
    );
    assert_eq!(
        config::MMM_SEARCH_DIRS,
        ["/etc", "/etc/mmm", "/etc/mysql-mmm"]
    );
    assert_eq!(
        LoadOptions::default(),
        LoadOptions::searching(["/etc", "/etc/mmm", "/etc/mysql-mmm"], true)
    );
    assert!(LoadOptions::default().includes_beside_first);
    assert!(
        !LoadOptions::default()
            .for_found_file()
            .includes_beside_first
    );
}

#[test]
fn find_default_takes_the_first_readable_file_in_the_search_path() {
    let tmp = TempDir::new().expect("tempdir");
    let (etc, mmm) = (tmp.path().join("etc"), tmp.path().join("etc-mmm"));
    fs::create_dir_all(&etc).expect("mkdir");
    fs::create_dir_all(&mmm).expect("mkdir");
    fs::write(mmm.join("mmm_mon.conf"), "").expect("write");
    fs::write(mmm.join("mmm_mon_east.conf"), "").expect("write");
    let options = LoadOptions::searching([&etc, &mmm], true);
    let found = |kind, cluster| config::find_default_with(kind, cluster, &options);
    assert_eq!(
        found(ConfigKind::Monitor, None),
        Ok(mmm.join("mmm_mon.conf"))
    );
    assert_eq!(
        found(ConfigKind::Monitor, Some("east")),
        Ok(mmm.join("mmm_mon_east.conf"))
    );
    fs::write(etc.join("mmm_mon.conf"), "").expect("write");
    assert_eq!(
        found(ConfigKind::Monitor, None),
        Ok(etc.join("mmm_mon.conf"))
    );
    fs::create_dir_all(etc.join("mmm_agent.conf")).expect("a directory is not a config file");
    assert_eq!(
        errors_of(found(ConfigKind::Agent, None)),
        [format!(
            "mmm_agent.conf: No readable config file mmm_agent.conf in {}, {}",
            etc.display(),
            mmm.display()
        )]
    );
    assert_eq!(
        errors_of(found(ConfigKind::Monitor, Some("../x"))),
        ["mmm_mon_../x.conf: Invalid cluster name '../x': use letters, digits, '_' and '-'"]
    );
}

fn errors_of(result: Result<std::path::PathBuf, mmm_core::config::ConfigErrors>) -> Vec<String> {
    match result {
        Ok(path) => panic!("expected an error, found {}", path.display()),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}
