//! The configuration as read, before types: sections of `key → value` with the place each
//! value came from. Later directives override earlier ones; a section seen twice is merged.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::Loc;
use super::rules::{CHECK_NAMES, Kind};

/// One directive's value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The value text (lists are split later).
    pub(crate) value: String,
    /// File and line of the directive.
    pub(crate) at: Loc,
}

/// A section's directives (or the top level's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    /// Where the section was first opened (the main file for the top level).
    pub(crate) at: Loc,
    /// Directives by key; the last occurrence wins.
    pub(crate) entries: BTreeMap<String, Entry>,
}

impl Section {
    /// An empty section opened at `at`.
    pub(crate) fn new(at: Loc) -> Self {
        Section {
            at,
            entries: BTreeMap::new(),
        }
    }

    /// The value of `key`, if set.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Sets `key`, replacing an earlier value.
    pub(crate) fn set(&mut self, key: &str, value: &str, at: Loc) {
        self.entries.insert(
            key.to_owned(),
            Entry {
                value: value.to_owned(),
                at,
            },
        );
    }
}

/// Every section of a configuration, named ones in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tree {
    /// Top-level directives.
    pub(crate) top: Section,
    /// Unnamed sections (`<monitor>`, `<socket>`).
    pub(crate) unique: BTreeMap<Kind, Section>,
    /// Named sections by type, in file order.
    pub(crate) named: BTreeMap<Kind, Vec<(String, Section)>>,
    /// The files parsed, in the order they were read (the main file first).
    pub(crate) files: Vec<PathBuf>,
}

impl Tree {
    /// An empty tree whose top level belongs to `main`.
    pub(crate) fn new(main: Loc) -> Self {
        Tree {
            top: Section::new(main),
            unique: BTreeMap::new(),
            named: BTreeMap::new(),
            files: Vec::new(),
        }
    }

    /// The unnamed section of `kind`, created at `at` if new.
    pub(crate) fn unique_mut(&mut self, kind: Kind, at: Loc) -> &mut Section {
        self.unique.entry(kind).or_insert_with(|| Section::new(at))
    }

    /// The named section `kind name`, created at `at` if new.
    pub(crate) fn named_mut(&mut self, kind: Kind, name: &str, at: Loc) -> &mut Section {
        let list = self.named.entry(kind).or_default();
        let index = match list.iter().position(|(n, _)| n == name) {
            Some(index) => index,
            None => {
                list.push((name.to_owned(), Section::new(at)));
                list.len() - 1
            }
        };
        &mut list[index].1
    }

    /// The unnamed section of `kind`, if declared.
    pub(crate) fn unique(&self, kind: Kind) -> Option<&Section> {
        self.unique.get(&kind)
    }

    /// The named sections of `kind` in file order.
    pub(crate) fn named(&self, kind: Kind) -> &[(String, Section)] {
        self.named.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the named section `kind name` exists.
    #[cfg(test)]
    pub(crate) fn has_named(&self, kind: Kind, name: &str) -> bool {
        self.named(kind).iter().any(|(n, _)| n == name)
    }

    /// Creates the four checks if absent (mysql-mmm's `create_if_empty`), before templates.
    pub(crate) fn create_missing_checks(&mut self) {
        let at = self.top.at.clone();
        for name in CHECK_NAMES {
            self.named_mut(Kind::Check, name, at.clone());
        }
    }

    /// Applies `<TYPE default>` templates: every other section of that type gets each
    /// template key it lacks; the template itself is removed.
    pub(crate) fn apply_templates(&mut self) {
        for (kind, list) in self.named.iter_mut() {
            if !kind.has_template() {
                continue;
            }
            let Some(index) = list.iter().position(|(name, _)| name == "default") else {
                continue;
            };
            let (_, template) = list.remove(index);
            for (_, section) in list.iter_mut() {
                for (key, entry) in &template.entries {
                    section
                        .entries
                        .entry(key.clone())
                        .or_insert_with(|| entry.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn loc(line: usize) -> Loc {
        Loc::line(Path::new("t.conf"), line)
    }

    #[test]
    fn named_sections_keep_first_appearance_order_and_merge() {
        let mut tree = Tree::new(Loc::file(Path::new("t.conf")));
        tree.named_mut(Kind::Host, "db2", loc(1))
            .set("ip", "10.0.0.2", loc(2));
        tree.named_mut(Kind::Host, "db1", loc(3))
            .set("ip", "10.0.0.1", loc(4));
        tree.named_mut(Kind::Host, "db2", loc(5))
            .set("ip", "10.0.0.22", loc(6));
        let names: Vec<_> = tree
            .named(Kind::Host)
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["db2", "db1"]);
        let db2 = &tree.named(Kind::Host)[0].1;
        assert_eq!(db2.at, loc(1));
        assert_eq!(db2.get("ip").map(|e| e.value.as_str()), Some("10.0.0.22"));
        assert_eq!(db2.get("ip").map(|e| e.at.clone()), Some(loc(6)));
    }

    #[test]
    fn templates_fill_missing_keys_and_disappear() {
        let mut tree = Tree::new(Loc::file(Path::new("t.conf")));
        tree.named_mut(Kind::Host, "db1", loc(1))
            .set("mysql_port", "3307", loc(2));
        let default = tree.named_mut(Kind::Host, "default", loc(3));
        default.set("mysql_port", "3308", loc(4));
        default.set("agent_user", "agent", loc(5));
        tree.named_mut(Kind::Role, "default", loc(6))
            .set("mode", "balanced", loc(7));
        tree.apply_templates();
        let hosts = tree.named(Kind::Host);
        assert_eq!(hosts.len(), 1);
        let db1 = &hosts[0].1;
        assert_eq!(
            db1.get("mysql_port").map(|e| e.value.as_str()),
            Some("3307")
        );
        assert_eq!(db1.get("agent_user").map(|e| e.at.clone()), Some(loc(5)));
        assert!(
            tree.has_named(Kind::Role, "default"),
            "roles have no template"
        );
    }
}
