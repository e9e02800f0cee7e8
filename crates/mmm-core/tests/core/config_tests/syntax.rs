//! The line syntax: comments, values, lists, booleans, sections, and their errors.

use std::time::Duration;

use mmm_core::config::{Program, SocketType};

use super::{
    BASE, assert_single_error, errors, line_of, load_text, loaded, replace_line, with_base,
};

#[test]
fn base_config_loads_for_every_program() {
    for program in super::PROGRAMS {
        if program == Program::Tools {
            continue; // the tools need their own keys, see validation.rs
        }
        let cfg = loaded(load_text(BASE, program));
        assert_eq!(cfg.hosts.len(), 3, "{program:?}");
    }
}

#[test]
fn comments_blank_lines_and_indentation_are_ignored() {
    let text = with_base("\n   \n# a comment\n\t  # indented comment\n   debug    yes   \n");
    assert!(loaded(load_text(&text, Program::Agent)).debug);
}

#[test]
fn no_trailing_comments_the_rest_of_the_line_is_the_value() {
    let text = with_base("debug 1 # turn on\n");
    let line = line_of(&text, "debug 1");
    assert_single_error(
        load_text(&text, Program::Agent),
        &format!(
            "test.conf:{line}: Config entry 'debug' has invalid value '1 # turn on': \
             allowed values are: true, on, yes, 1, false, off, no, 0"
        ),
    );
}

#[test]
fn key_without_value_is_an_invalid_config_line() {
    let text = with_base("debug\n");
    let line = line_of(&text, "debug");
    assert_single_error(
        load_text(&text, Program::Agent),
        &format!(
            "test.conf:{line}: Invalid config line in file 'test.conf' on line {line}! ('debug' needs a value)"
        ),
    );
}

#[test]
fn unknown_variable_uses_mysql_mmm_wording() {
    let text = with_base("no_such_key 1\n");
    let line = line_of(&text, "no_such_key");
    assert_single_error(
        load_text(&text, Program::Agent),
        &format!("test.conf:{line}: Unknown variable no_such_key in 'test.conf' on line {line}!"),
    );
}

#[test]
fn booleans_accept_mysql_mmm_words_in_any_case() {
    for (word, expected) in [
        ("true", true),
        ("On", true),
        ("YES", true),
        ("1", true),
        ("false", false),
        ("OFF", false),
        ("No", false),
        ("0", false),
    ] {
        let cfg = loaded(load_text(
            &with_base(&format!("debug {word}\n")),
            Program::Agent,
        ));
        assert_eq!(cfg.debug, expected, "{word}");
    }
}

#[test]
fn last_occurrence_wins_and_lists_are_replaced() {
    let text = with_base(
        "<role reader>\nips 10.213.7.105\n</role>\nmax_kill_retries 3\nmax_kill_retries 7\n",
    );
    let cfg = loaded(load_text(&text, Program::Monitor));
    assert_eq!(cfg.max_kill_retries, 7);
    let reader = cfg.role("reader").expect("reader role");
    assert_eq!(
        reader.ips,
        ["10.213.7.105".parse::<std::net::IpAddr>().expect("ip")]
    );
    assert_eq!(
        reader.hosts,
        ["db1", "db2", "db3"],
        "other keys of the merged section stay"
    );
}

#[test]
fn lists_split_on_commas_with_optional_spaces() {
    let text = replace_line(BASE, "hosts db1, db2, db3", "hosts db3 ,db1,  db2");
    let cfg = loaded(load_text(&text, Program::Monitor));
    assert_eq!(
        cfg.role("reader").expect("reader").hosts,
        ["db3", "db1", "db2"]
    );
    let text = replace_line(BASE, "hosts db1, db2, db3", "hosts db1,,db2");
    let line = line_of(&text, "hosts db1,,db2");
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{line}: Config entry 'role->reader->hosts' has invalid value 'db1,,db2': \
             the list has an empty item (stray comma?)"
        ),
    );
}

#[test]
fn empty_section_forms_and_any_closing_tag() {
    let text = with_base("<socket/>\n<check mysql/>\n<check ping>\ntrap_period 3\n</whatever>\n");
    let cfg = loaded(load_text(&text, Program::Monitor));
    assert_eq!(cfg.socket.kind, SocketType::Plain);
    assert_eq!(cfg.checks.ping.trap_period, Duration::from_secs(3));
    assert_eq!(cfg.checks.mysql.trap_period, Duration::from_secs(10));
}

#[test]
fn a_section_seen_twice_is_merged_later_keys_override() {
    let text = with_base(
        "<host db3>\nmysql_port 3307\n</host>\n<host db3>\nmysql_port 3309\nagent_port 9999\n</host>\n",
    );
    let cfg = loaded(load_text(&text, Program::Monitor));
    let db3 = cfg.host("db3").expect("db3");
    assert_eq!((db3.mysql_port, db3.agent_port), (3309, 9999));
    assert_eq!(db3.ip.to_string(), "10.213.7.13");
    let order: Vec<&str> = cfg.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        order,
        ["db1", "db2", "db3"],
        "file order of first appearance"
    );
}

#[test]
fn section_errors_have_file_and_line() {
    let text = with_base(
        "<hots db9>\nip 1\n</hots>\n<monitor mon>\n</monitor>\n<socket tls>\n</socket>\n<host>\n</host>\n\
         <role r1>\n<role r2>\n</role>\n</role>\n<host db9 extra>\nhost db9\n<host db.9>\n",
    );
    let at = |needle: &str| line_of(&text, needle);
    let got = errors(load_text(&text, Program::Agent));
    assert_eq!(
        got,
        [
            format!(
                "test.conf:{0}: Invalid section hots in 'test.conf' on line {0}!",
                at("<hots db9>")
            ),
            format!(
                "test.conf:{0}: Section name specified for unique section socket in 'test.conf' on line {0}!",
                at("<socket tls>")
            ),
            format!(
                "test.conf:{0}: No section name specified for named section host in 'test.conf' on line {0}!",
                at("<host>")
            ),
            format!(
                "test.conf:{0}: Section <role> opened inside <role r1> in 'test.conf' on line {0}! (missing closing tag?)",
                at("<role r2>")
            ),
            format!(
                "test.conf:{0}: Closing tag without an open section in 'test.conf' on line {0}!",
                at("<role r2>") + 2
            ),
            format!(
                "test.conf:{0}: Invalid section tag '<host db9 extra>' in 'test.conf' on line {0}: \
                 a section tag is '<type>' or '<type name>'",
                at("<host db9 extra>")
            ),
            format!(
                "test.conf:{0}: 'host' should be a section instead of a variable in 'test.conf' on line {0}!",
                at("<host db9 extra>") + 1
            ),
            format!(
                "test.conf:{0}: Invalid section tag '<host db.9>' in 'test.conf' on line {0}: \
                 a section name may contain only letters, digits, '_' and '-'",
                at("<host db.9>")
            ),
        ]
    );
}

#[test]
fn section_names_take_word_characters_and_dashes() {
    let text = with_base("<host db-4_x>\nip 10.213.7.14\nmode slave\n</host>\n");
    let cfg = loaded(load_text(&text, Program::Monitor));
    assert!(cfg.host("db-4_x").is_some());
}

#[test]
fn keys_of_other_sections_are_unknown_with_a_hint() {
    let text = with_base("<host db3>\nping_ips 10.213.7.1\n</host>\n");
    let line = text.lines().count() - 1;
    assert_single_error(
        load_text(&text, Program::Monitor),
        &format!(
            "test.conf:{line}: Unknown variable ping_ips in 'test.conf' on line {line}! \
             ('ping_ips' belongs in the unnamed <monitor> section)"
        ),
    );
}

#[test]
fn all_syntax_errors_are_reported_not_just_the_first() {
    let text = with_base("bogus1 x\nbogus2 y\n<check ping>\nbogus3 z\n</check>\n");
    let got = errors(load_text(&text, Program::Monitor));
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[2].contains("Unknown variable bogus3"), "{got:#?}");
}

#[test]
fn windows_line_endings_are_accepted() {
    let text = BASE.replace('\n', "\r\n");
    let cfg = loaded(load_text(&text, Program::Monitor));
    assert_eq!(cfg.host("db1").expect("db1").peer.as_deref(), Some("db2"));
}
