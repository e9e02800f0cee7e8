//! `include`: beside the including file first, then mysql-mmm's search path (or mysql-mmm's
//! order for a file found on the search path), `.conf` appended, paths relative to the
//! including file, absolute paths, missing files and cycles — with the right file and line.

use std::fs;
use std::path::{Path, PathBuf};

use mmm_core::config::Program;
use mmm_daemon::config::{self, LoadOptions};
use tempfile::TempDir;

use super::common::{BASE, errors, line_of, loaded, replace_line};

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create dir");
    }
    fs::write(path, text).expect("write file");
}

fn options(dirs: &[&Path]) -> LoadOptions {
    LoadOptions::searching(
        dirs.iter()
            .map(|d| d.to_path_buf())
            .collect::<Vec<PathBuf>>(),
        false,
    )
}

#[test]
fn bare_names_look_beside_a_file_given_by_path_then_on_the_search_path_in_order() {
    let tmp = TempDir::new().expect("tempdir");
    let (first, second, here) = (
        tmp.path().join("etc"),
        tmp.path().join("etc-mmm"),
        tmp.path().join("here"),
    );
    write(&second.join("mmm_common.conf"), BASE);
    write(
        &first.join("mmm_common.conf"),
        &format!("{BASE}max_kill_retries 3\n"),
    );
    write(
        &here.join("mmm_common.conf"),
        &format!("{BASE}max_kill_retries 4\n"),
    );
    write(
        &here.join("mmm_agent.conf"),
        "include mmm_common\nthis db2\n",
    );
    let main = here.join("mmm_agent.conf");
    let cfg = loaded(config::load_with(
        &main,
        Program::Agent,
        &options(&[&first, &second]),
    ));
    assert_eq!(
        cfg.max_kill_retries, 4,
        "the file beside the main file wins"
    );
    assert_eq!(
        cfg.this.as_deref(),
        Some("db2"),
        "directives after the include override it"
    );
    fs::remove_file(here.join("mmm_common.conf")).expect("rm");
    let cfg = loaded(config::load_with(
        &main,
        Program::Agent,
        &options(&[&first, &second]),
    ));
    assert_eq!(cfg.max_kill_retries, 3, "then the first search dir wins");
    let cfg = loaded(config::load_with(
        &main,
        Program::Agent,
        &options(&[&second]),
    ));
    assert_eq!(cfg.max_kill_retries, 10);
}

#[test]
fn a_file_found_on_the_search_path_includes_in_mysql_mmm_order() {
    let tmp = TempDir::new().expect("tempdir");
    let (first, second) = (tmp.path().join("etc"), tmp.path().join("etc-mmm"));
    write(
        &first.join("mmm_common.conf"),
        &format!("{BASE}max_kill_retries 3\n"),
    );
    write(
        &second.join("mmm_common.conf"),
        &format!("{BASE}max_kill_retries 4\n"),
    );
    write(&second.join("mmm_agent.conf"), "include mmm_common\n");
    let found = options(&[&first, &second]);
    let main = config::find_default_with(mmm_core::config::ConfigKind::Agent, None, &found)
        .expect("found in the second dir");
    assert_eq!(main, second.join("mmm_agent.conf"));
    let cfg = loaded(config::load_with(
        &main,
        Program::Agent,
        &found.for_found_file(),
    ));
    assert_eq!(cfg.max_kill_retries, 3, "mysql-mmm: the search path first");
}

#[test]
fn the_report_lists_the_files_read_in_order() {
    let tmp = TempDir::new().expect("tempdir");
    let conf = tmp.path().join("conf");
    write(&conf.join("mmm_common.conf"), BASE);
    write(&conf.join("debug.conf"), "debug 1\n");
    let main = conf.join("mmm_agent.conf");
    write(&main, "include debug\ninclude mmm_common\nthis db3\n");
    let report = config::load_report(&main, Program::Agent, &options(&[])).expect("loads");
    assert_eq!(
        report.files,
        [
            main.clone(),
            conf.join("debug.conf"),
            conf.join("mmm_common.conf")
        ]
    );
    let unused: Vec<(&str, Option<usize>)> = report
        .unused
        .iter()
        .map(|u| (u.name.as_str(), u.line))
        .collect();
    assert_eq!(unused, [("debug", Some(1))]);
}

#[test]
fn bare_names_fall_back_to_the_including_files_directory() {
    let tmp = TempDir::new().expect("tempdir");
    write(&tmp.path().join("conf/mmm_common.conf"), BASE);
    write(
        &tmp.path().join("conf/mmm_agent.conf"),
        "include mmm_common.conf\n",
    );
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).expect("mkdir");
    let cfg = loaded(config::load_with(
        &tmp.path().join("conf/mmm_agent.conf"),
        Program::Agent,
        &options(&[&empty]),
    ));
    assert_eq!(cfg.hosts.len(), 3);
}

#[test]
fn relative_paths_are_relative_to_the_including_file_and_absolute_paths_work() {
    let tmp = TempDir::new().expect("tempdir");
    let conf = tmp.path().join("conf");
    write(&conf.join("conf.d/hosts.conf"), BASE);
    write(&conf.join("extra.conf"), "max_kill_retries 5\n");
    let absolute = tmp.path().join("elsewhere/debug.conf");
    write(&absolute, "debug on\n");
    write(
        &conf.join("mmm_agent.conf"),
        &format!(
            "include conf.d/hosts.conf\ninclude ./extra\ninclude {}\n",
            absolute.display()
        ),
    );
    let cfg = loaded(config::load_with(
        &conf.join("mmm_agent.conf"),
        Program::Agent,
        &options(&[]),
    ));
    assert_eq!(
        (cfg.hosts.len(), cfg.max_kill_retries, cfg.debug),
        (3, 5, true)
    );
}

#[test]
fn text_in_memory_resolves_includes_against_the_search_path() {
    let tmp = TempDir::new().expect("tempdir");
    write(&tmp.path().join("mmm_common.conf"), BASE);
    let cfg = loaded(config::load_text_with(
        "include mmm_common.conf\nthis db3\n",
        "inline",
        Program::Agent,
        &options(&[tmp.path()]),
    ));
    assert_eq!(cfg.this_host().map(|h| h.name.as_str()), Some("db3"));
}

#[test]
fn a_missing_include_names_the_including_line_and_the_dirs_searched() {
    let tmp = TempDir::new().expect("tempdir");
    let main = tmp.path().join("mmm_agent.conf");
    write(&main, "# agent\n\ninclude nothere\n");
    let got = errors(config::load_with(
        &main,
        Program::Agent,
        &options(&[Path::new("/nonexistent-a")]),
    ));
    let m = main.display();
    assert_eq!(
        got,
        [format!(
            "{m}:3: Can't include 'nothere' in '{m}' on line 3: No readable config file nothere.conf in \
             {}, /nonexistent-a",
            tmp.path().display()
        )]
    );
    write(&main, "include ./sub/nothere.conf\n");
    let got = errors(config::load_with(&main, Program::Agent, &options(&[])));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with(&format!(
            "{m}:1: Can't include './sub/nothere.conf' in '{m}' on line 1: Can't read config file"
        )),
        "{got:?}"
    );
}

#[test]
fn errors_inside_an_included_file_carry_that_files_line() {
    let tmp = TempDir::new().expect("tempdir");
    let common = tmp.path().join("mmm_common.conf");
    write(&common, &format!("{BASE}<host db3>\nmodeslave\n</host>\n"));
    let main = tmp.path().join("mmm_agent.conf");
    write(&main, "include mmm_common.conf\n");
    let got = errors(config::load_with(
        &main,
        Program::Agent,
        &options(&[tmp.path()]),
    ));
    let line = BASE.lines().count() + 2;
    let c = common.display();
    assert_eq!(
        got,
        [format!(
            "{c}:{line}: Unknown variable modeslave in '{c}' on line {line}! \
             (missing space between 'mode' and its value 'slave'?)"
        )]
    );
}

#[test]
fn validation_errors_of_included_directives_point_into_the_included_file() {
    let tmp = TempDir::new().expect("tempdir");
    let common = tmp.path().join("mmm_common.conf");
    write(&common, &BASE.replace("ip 10.213.7.13", "ip 10.213.7.300"));
    let main = tmp.path().join("mmm_mon.conf");
    write(&main, "include mmm_common.conf\n");
    let got = errors(config::load_with(
        &main,
        Program::Monitor,
        &options(&[tmp.path()]),
    ));
    let line = line_of(BASE, "ip 10.213.7.13");
    assert_eq!(
        got,
        [format!(
            "{}:{line}: Config entry 'host->db3->ip' has invalid value '10.213.7.300': not an IP address",
            common.display()
        )]
    );
}

#[test]
fn include_cycles_are_errors_not_hangs() {
    let tmp = TempDir::new().expect("tempdir");
    let (a, b) = (tmp.path().join("a.conf"), tmp.path().join("b.conf"));
    write(&a, "include b\n");
    write(&b, "# b\n\ninclude a.conf\n");
    let got = errors(config::load_with(
        &a,
        Program::Agent,
        &options(&[tmp.path()]),
    ));
    let (ad, bd) = (a.display(), b.display());
    assert_eq!(
        got,
        [format!(
            "{bd}:3: Include cycle in '{bd}' on line 3: {ad} -> {bd} -> {ad}"
        )]
    );
    write(&a, "include ./a.conf\n");
    let got = errors(config::load_with(&a, Program::Agent, &options(&[])));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("Include cycle"), "{got:?}");
}

#[test]
fn the_same_file_may_be_included_twice_without_a_cycle() {
    let tmp = TempDir::new().expect("tempdir");
    write(&tmp.path().join("mmm_common.conf"), BASE);
    write(&tmp.path().join("debug.conf"), "debug 1\n");
    let main = tmp.path().join("mmm_agent.conf");
    write(&main, "include debug\ninclude mmm_common\ninclude debug\n");
    let cfg = loaded(config::load_with(
        &main,
        Program::Agent,
        &options(&[tmp.path()]),
    ));
    assert!(cfg.debug);
}

#[test]
fn include_is_only_allowed_at_the_top_level() {
    let text = "<host db1>\ninclude mmm_common\n</host>\n";
    assert_eq!(
        errors(mmm_core::config::load_str(
            text,
            "test.conf",
            Program::Agent
        )),
        [
            "test.conf:2: 'include' is only allowed outside sections, not in <host db1>, in 'test.conf' on line 2!"
        ]
    );
}

#[test]
fn this_monitor_from_the_command_line_stands_in_for_the_file_and_overrides_it() {
    let tmp = TempDir::new().expect("tempdir");
    let nodes =
        "<monitor mon1>\nip 10.213.7.21\n</monitor>\n<monitor mon2>\nip 10.213.7.22\n</monitor>\n";
    let base = replace_line(BASE, "ip 127.0.0.1", "");
    let main = tmp.path().join("mmm_mon.conf");
    write(&main, &format!("{base}{nodes}"));
    let m = main.display();
    assert_eq!(
        errors(config::load_with(&main, Program::Monitor, &options(&[]))),
        [format!(
            "{m}: Required config entry 'this_monitor' is missing (it names this monitor's <monitor NAME> section)"
        )]
    );
    let as_mon2 = options(&[]).as_monitor(Some("mon2"));
    let cfg = loaded(config::load_with(&main, Program::Monitor, &as_mon2));
    assert_eq!(
        cfg.this_monitor_node().map(|n| n.name.as_str()),
        Some("mon2")
    );
    write(&main, &format!("{base}{nodes}this_monitor mon1\n"));
    let cfg = loaded(config::load_with(&main, Program::Monitor, &as_mon2));
    assert_eq!(
        cfg.this_monitor.as_deref(),
        Some("mon2"),
        "--this overrides the file"
    );
    let bad = options(&[]).as_monitor(Some("mon9"));
    assert_eq!(
        errors(config::load_with(&main, Program::Monitor, &bad)),
        [
            "--this: Config entry 'this_monitor' has invalid value 'mon9' allowed values are: 'mon1', 'mon2'"
        ]
    );
}
