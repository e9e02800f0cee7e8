//! Directives mysql-mmm defined that mmm accepts, so existing files load unchanged, but does
//! not act on. This is the one list of them: `describe` notes them next to their values and
//! `mmmctl config check` lists every one the files set, with file and line.

use std::path::PathBuf;

use super::error::Loc;
use super::rules::{HOST_TOOLS_KEYS, Kind, Scope};
use super::tree::{Section, Tree};

/// Which keys of a scope an entry of [`UNUSED`] covers.
#[derive(Debug, Clone, Copy)]
enum Keys {
    /// One key.
    One(&'static str),
    /// The tools' keys of a `<host>` section.
    HostTools,
    /// Every key of the section.
    All,
}

/// An accepted-but-unused directive (or group of directives) and why it has no effect.
struct Unused {
    scope: Scope,
    keys: Keys,
    why: &'static str,
}

const TOOLS: &str = "used by mysql-mmm's backup and clone tools, which mmm does not ship";

/// Every directive mmm accepts without acting on it.
const UNUSED: &[Unused] = &[
    Unused {
        scope: Scope::Top,
        keys: Keys::One("debug"),
        why: "mmm never daemonizes; set RUST_LOG=debug for debug logging",
    },
    Unused {
        scope: Scope::Top,
        keys: Keys::One("default_copy_method"),
        why: TOOLS,
    },
    Unused {
        scope: Scope::Top,
        keys: Keys::One("clone_dirs"),
        why: TOOLS,
    },
    Unused {
        scope: Scope::Named(Kind::Host),
        keys: Keys::One("bin_path"),
        why: "the agent needs no helpers",
    },
    Unused {
        scope: Scope::Named(Kind::Host),
        keys: Keys::HostTools,
        why: TOOLS,
    },
    Unused {
        scope: Scope::Named(Kind::Check),
        keys: Keys::One("restart_after"),
        why: "checks run inside mmm-mond, nothing to restart",
    },
    Unused {
        scope: Scope::Unique(Kind::Monitor),
        keys: Keys::One("bin_path"),
        why: "checks are built in",
    },
    Unused {
        scope: Scope::Named(Kind::CopyMethod),
        keys: Keys::All,
        why: TOOLS,
    },
];

impl Keys {
    fn covers(self, key: &str) -> bool {
        match self {
            Keys::One(one) => one == key,
            Keys::HostTools => HOST_TOOLS_KEYS.contains(&key),
            Keys::All => true,
        }
    }
}

/// Why `key` in `scope` has no effect, when it is one of the accepted-but-unused directives.
pub(crate) fn why(scope: Scope, key: &str) -> Option<&'static str> {
    UNUSED
        .iter()
        .find(|u| u.scope == scope && u.keys.covers(key))
        .map(|u| u.why)
}

/// A directive the files set that mmm accepts but does not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedDirective {
    /// The file it is written in.
    pub file: PathBuf,
    /// Its 1-based line.
    pub line: Option<usize>,
    /// mysql-mmm's name of the entry (`monitor->bin_path`, `host->db1->bin_path`).
    pub name: String,
    /// Why it has no effect.
    pub why: &'static str,
}

/// Every accepted-but-unused directive set in `tree` (before templates are applied, so a
/// `<host default>` entry is named once), in the order the files were read and by line.
pub(crate) fn find(tree: &Tree) -> Vec<UnusedDirective> {
    let mut found = Vec::new();
    collect(&mut found, Scope::Top, "", &tree.top);
    for (kind, section) in &tree.unique {
        collect(
            &mut found,
            Scope::Unique(*kind),
            &format!("{}->", kind.word()),
            section,
        );
    }
    for (kind, sections) in &tree.named {
        for (name, section) in sections {
            let path = format!("{}->{name}->", kind.word());
            collect(&mut found, Scope::Named(*kind), &path, section);
        }
    }
    let order = |loc: &Loc| {
        let file = tree.files.iter().position(|f| *f == loc.file);
        (file.unwrap_or(usize::MAX), loc.line.unwrap_or(0))
    };
    found.sort_by_key(|(loc, _)| order(loc));
    found.into_iter().map(|(_, directive)| directive).collect()
}

fn collect(found: &mut Vec<(Loc, UnusedDirective)>, scope: Scope, path: &str, section: &Section) {
    for (key, entry) in &section.entries {
        if let Some(why) = why(scope, key) {
            found.push((
                entry.at.clone(),
                UnusedDirective {
                    file: entry.at.file.clone(),
                    line: entry.at.line,
                    name: format!("{path}{key}"),
                    why,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_list_names_only_keys_the_rules_accept() {
        for unused in UNUSED {
            match unused.keys {
                Keys::One(key) => assert!(
                    super::super::rules::is_known(unused.scope, key),
                    "{key} is not accepted in {:?}",
                    unused.scope
                ),
                Keys::HostTools | Keys::All => {}
            }
        }
    }

    #[test]
    fn found_in_file_order_then_line_with_mysql_mmm_names() {
        let (main, common) = (Path::new("main.conf"), Path::new("common.conf"));
        let mut tree = Tree::new(Loc::file(main));
        tree.files = vec![main.to_path_buf(), common.to_path_buf()];
        tree.unique_mut(Kind::Monitor, Loc::line(main, 3)).set(
            "bin_path",
            "/x",
            Loc::line(main, 4),
        );
        tree.named_mut(Kind::Host, "default", Loc::line(common, 1))
            .set("bin_path", "/usr/lib/mysql-mmm", Loc::line(common, 2));
        tree.top.set("debug", "1", Loc::line(common, 9));
        tree.top.set("this", "db1", Loc::line(main, 1));
        let names: Vec<(String, Option<usize>)> =
            find(&tree).into_iter().map(|d| (d.name, d.line)).collect();
        assert_eq!(
            names,
            [
                ("monitor->bin_path".to_owned(), Some(4)),
                ("host->default->bin_path".to_owned(), Some(2)),
                ("debug".to_owned(), Some(9)),
            ]
        );
        assert_eq!(
            why(Scope::Named(Kind::Host), "ssh_user"),
            Some(TOOLS),
            "tools keys are unused"
        );
        assert_eq!(why(Scope::Named(Kind::Host), "ip"), None);
    }
}
