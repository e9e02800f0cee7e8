//! Reads configuration text (and the files it includes) into a [`Tree`], collecting every
//! syntax error with its file and line instead of stopping at the first.

use std::path::{Path, PathBuf};

use super::error::{ConfigError, Loc};
use super::rules::{self, Kind, Naming, Scope};
use super::syntax::{self, Line};
use super::tree::Tree;

/// How deep `include` may nest before it is treated as a mistake.
const MAX_INCLUDE_DEPTH: usize = 16;

/// How many files one load may read in all (includes repeated through many paths would
/// otherwise multiply without bound).
const MAX_FILES: usize = 256;

/// One configuration file's text, as the caller read it (the core reads no files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path shown in messages.
    pub path: PathBuf,
    /// The file's identity for cycle detection (its canonical path when it has one).
    pub identity: PathBuf,
    /// The contents.
    pub text: String,
}

impl SourceFile {
    /// Text known by `path`, which is also its identity.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let path = path.into();
        SourceFile {
            identity: path.clone(),
            path,
            text: text.into(),
        }
    }
}

/// Finds and reads the files `include` lines name; the daemons' loader implements it on the
/// file system, so the parser stays free of I/O.
pub trait Includes {
    /// Reads the file that `include name` in the file `from` refers to, or says why not.
    fn include(&self, name: &str, from: &Path) -> Result<SourceFile, String>;
}

/// Refuses every `include`: for configuration text held in memory, which has no directory.
pub struct NoIncludes;

impl Includes for NoIncludes {
    fn include(&self, _name: &str, _from: &Path) -> Result<SourceFile, String> {
        Err("text given in memory can't include files (load it from a file instead)".to_owned())
    }
}

/// Where the parser stands inside the current file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Current {
    Top,
    Unique(Kind),
    Named(Kind, String),
    /// Inside a section that was rejected: its lines are skipped without more errors.
    Skip,
}

impl Current {
    fn scope(&self) -> Scope {
        match self {
            Current::Top | Current::Skip => Scope::Top,
            Current::Unique(kind) => Scope::Unique(*kind),
            Current::Named(kind, _) => Scope::Named(*kind),
        }
    }

    fn describe(&self) -> String {
        match self {
            Current::Top | Current::Skip => "the top level".to_owned(),
            Current::Unique(kind) => format!("<{}>", kind.word()),
            Current::Named(kind, name) => format!("<{} {name}>", kind.word()),
        }
    }
}

/// Parses `main` and everything it includes; returns the tree and all syntax errors found.
pub(crate) fn parse(main: SourceFile, includes: &dyn Includes) -> (Tree, Vec<ConfigError>) {
    let mut parser = Parser {
        tree: Tree::new(Loc::file(&main.path)),
        errors: Vec::new(),
        stack: Vec::new(),
        files_read: 0,
        includes,
    };
    parser.file(&main);
    (parser.tree, parser.errors)
}

struct Parser<'a> {
    tree: Tree,
    errors: Vec<ConfigError>,
    /// Files being parsed, outermost first (for include cycles).
    stack: Vec<SourceFile>,
    /// Files parsed so far, the main one included.
    files_read: usize,
    includes: &'a dyn Includes,
}

impl Parser<'_> {
    fn file(&mut self, source: &SourceFile) {
        self.files_read += 1;
        self.tree.files.push(source.path.clone());
        self.stack.push(source.clone());
        let mut current = Current::Top;
        for (index, raw) in source.text.lines().enumerate() {
            self.line(&source.path, index + 1, raw, &mut current);
        }
        self.stack.pop();
    }

    fn error(&mut self, file: &Path, line: usize, message: String) {
        self.errors.push(ConfigError::at(file, line, message));
    }

    fn line(&mut self, file: &Path, n: usize, raw: &str, current: &mut Current) {
        let quoted = file.display();
        match syntax::classify(raw) {
            Line::Nothing => {}
            Line::Close => {
                if *current == Current::Top {
                    self.error(
                        file,
                        n,
                        format!("Closing tag without an open section in '{quoted}' on line {n}!"),
                    );
                }
                *current = Current::Top;
            }
            Line::Open { kind, name, empty } => {
                if matches!(current, Current::Unique(_) | Current::Named(..)) {
                    let inside = current.describe();
                    self.error(
                        file,
                        n,
                        format!(
                            "Section <{kind}> opened inside {inside} in '{quoted}' on line {n}! \
                             (missing closing tag?)"
                        ),
                    );
                }
                *current = self.open(file, n, kind, name, empty);
            }
            Line::BadTag(why) => {
                let tag = raw.trim();
                self.error(
                    file,
                    n,
                    format!("Invalid section tag '{tag}' in '{quoted}' on line {n}: {why}"),
                );
            }
            Line::Directive {
                key: "include",
                value,
            } => self.include(file, n, value, current),
            Line::Directive { .. } if *current == Current::Skip => {}
            Line::Directive { key, value } => self.directive(file, n, key, value, current),
        }
    }

    fn open(
        &mut self,
        file: &Path,
        n: usize,
        word: &str,
        name: Option<&str>,
        empty: bool,
    ) -> Current {
        let quoted = file.display();
        let Some(kind) = Kind::from_word(word) else {
            self.error(
                file,
                n,
                format!("Invalid section {word} in '{quoted}' on line {n}!"),
            );
            return if empty { Current::Top } else { Current::Skip };
        };
        let at = Loc::line(file, n);
        let opened = match (kind.naming(), name) {
            (Naming::Named, None) => {
                self.error(
                    file,
                    n,
                    format!("No section name specified for named section {word} in '{quoted}' on line {n}!"),
                );
                Current::Skip
            }
            (Naming::Unique, Some(_)) => {
                self.error(
                    file,
                    n,
                    format!("Section name specified for unique section {word} in '{quoted}' on line {n}!"),
                );
                Current::Skip
            }
            (_, Some(name)) => {
                self.tree.named_mut(kind, name, at);
                Current::Named(kind, name.to_owned())
            }
            (_, None) => {
                self.tree.unique_mut(kind, at);
                Current::Unique(kind)
            }
        };
        if empty { Current::Top } else { opened }
    }

    fn directive(&mut self, file: &Path, n: usize, key: &str, value: &str, current: &Current) {
        let quoted = file.display();
        let scope = current.scope();
        if Kind::from_word(key).is_some() {
            self.error(
                file,
                n,
                format!(
                    "'{key}' should be a section instead of a variable in '{quoted}' on line {n}!"
                ),
            );
            return;
        }
        if !rules::is_known(scope, key) {
            let hint = unknown_key_hint(scope, key, value);
            self.error(
                file,
                n,
                format!("Unknown variable {key} in '{quoted}' on line {n}!{hint}"),
            );
            return;
        }
        if value.is_empty() {
            self.error(
                file,
                n,
                format!(
                    "Invalid config line in file '{quoted}' on line {n}! ('{key}' needs a value)"
                ),
            );
            return;
        }
        let at = Loc::line(file, n);
        let section = match current {
            Current::Top | Current::Skip => &mut self.tree.top,
            Current::Unique(kind) => self.tree.unique_mut(*kind, at.clone()),
            Current::Named(kind, name) => self.tree.named_mut(*kind, name, at.clone()),
        };
        section.set(key, value, at);
    }

    fn include(&mut self, file: &Path, n: usize, value: &str, current: &Current) {
        let quoted = file.display();
        if *current != Current::Top {
            let inside = current.describe();
            self.error(
                file,
                n,
                format!("'include' is only allowed outside sections, not in {inside}, in '{quoted}' on line {n}!"),
            );
            return;
        }
        if value.is_empty() || value.contains(char::is_whitespace) {
            self.error(
                file,
                n,
                format!("Invalid config line in file '{quoted}' on line {n}! ('include' takes one file name)"),
            );
            return;
        }
        if self.files_read >= MAX_FILES {
            // Reported once; the includes after it are skipped silently.
            if self.files_read == MAX_FILES {
                self.files_read += 1;
                self.error(
                    file,
                    n,
                    format!("More than {MAX_FILES} files included, in '{quoted}' on line {n}!"),
                );
            }
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.error(
                file,
                n,
                format!(
                    "Includes nested more than {MAX_INCLUDE_DEPTH} deep in '{quoted}' on line {n}!"
                ),
            );
            return;
        }
        let source = match self.includes.include(value, file) {
            Ok(source) => source,
            Err(why) => {
                self.error(
                    file,
                    n,
                    format!("Can't include '{value}' in '{quoted}' on line {n}: {why}"),
                );
                return;
            }
        };
        if let Some(start) = self
            .stack
            .iter()
            .position(|open| open.identity == source.identity)
        {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|open| open.path.display().to_string())
                .chain(std::iter::once(source.path.display().to_string()))
                .collect();
            self.error(
                file,
                n,
                format!(
                    "Include cycle in '{quoted}' on line {n}: {}",
                    chain.join(" -> ")
                ),
            );
            return;
        }
        self.file(&source);
    }
}

/// Explains a likely cause of an unknown key: a key glued to its value (the line has no
/// other value, or only a trailing comment), or a key that belongs in another section.
fn unknown_key_hint(scope: Scope, key: &str, value: &str) -> String {
    let may_be_glued = value.is_empty() || value.starts_with('#');
    let glued = rules::keys(scope)
        .iter()
        .chain(if scope == Scope::Named(Kind::Host) {
            rules::HOST_TOOLS_KEYS
        } else {
            &[]
        })
        .filter(|known| may_be_glued && key.len() > known.len() && key.starts_with(**known))
        .max_by_key(|known| known.len());
    if let Some(known) = glued {
        let rest = &key[known.len()..];
        let shown = if value.is_empty() {
            rest.to_owned()
        } else {
            format!("{rest} {value}")
        };
        return format!(" (missing space between '{known}' and its value '{shown}'?)");
    }
    match rules::home_of(key) {
        Some(home) => format!(" ('{key}' belongs {home})"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// In-memory files for parser tests.
    struct Files(BTreeMap<&'static str, &'static str>);

    impl Includes for Files {
        fn include(&self, name: &str, _from: &Path) -> Result<SourceFile, String> {
            let text = self.0.get(name).ok_or_else(|| "no such file".to_owned())?;
            Ok(SourceFile {
                path: name.into(),
                identity: name.into(),
                text: (*text).to_owned(),
            })
        }
    }

    fn parse_text(text: &str, files: &[(&'static str, &'static str)]) -> (Tree, Vec<String>) {
        let main = SourceFile {
            path: "main.conf".into(),
            identity: "main.conf".into(),
            text: text.into(),
        };
        let (tree, errors) = parse(main, &Files(files.iter().copied().collect()));
        (tree, errors.iter().map(ToString::to_string).collect())
    }

    fn value<'t>(tree: &'t Tree, kind: Kind, name: &str, key: &str) -> Option<&'t str> {
        let section = tree.named(kind).iter().find(|(n, _)| n == name)?;
        section.1.get(key).map(|e| e.value.as_str())
    }

    #[test]
    fn sections_keys_and_merging() {
        let (tree, errors) = parse_text(
            "debug 1\n<host db1>\n ip 10.0.0.1\n</host>\n<host db1>\nip 10.0.0.9\nmode master\n</x>\n<socket/>\n<check mysql/>\n",
            &[],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(tree.top.get("debug").map(|e| e.value.as_str()), Some("1"));
        assert_eq!(value(&tree, Kind::Host, "db1", "ip"), Some("10.0.0.9"));
        assert_eq!(value(&tree, Kind::Host, "db1", "mode"), Some("master"));
        assert!(tree.unique(Kind::Socket).is_some());
        assert!(tree.has_named(Kind::Check, "mysql"));
    }

    #[test]
    fn every_syntax_error_has_file_and_line() {
        let (_, errors) = parse_text(
            "this\n<hots db1>\nip 1\n</hots>\n<host>\n<socket s>\nfoo bar\n</socket>\n<host db1 x>\n</host>\n",
            &[],
        );
        assert_eq!(
            errors,
            [
                "main.conf:1: Invalid config line in file 'main.conf' on line 1! ('this' needs a value)",
                "main.conf:2: Invalid section hots in 'main.conf' on line 2!",
                "main.conf:5: No section name specified for named section host in 'main.conf' on line 5!",
                "main.conf:6: Section name specified for unique section socket in 'main.conf' on line 6!",
                "main.conf:9: Invalid section tag '<host db1 x>' in 'main.conf' on line 9: \
                 a section tag is '<type>' or '<type name>'",
                "main.conf:10: Closing tag without an open section in 'main.conf' on line 10!",
            ]
        );
    }

    #[test]
    fn unknown_keys_get_hints() {
        let (_, errors) = parse_text(
            "<host default>\npid_path/var/run/x.pid\n</host>\n<role writer>\nmodeexclusive #c\n</role>\nping_ips 1.2.3.4\nhost db1\n",
            &[],
        );
        assert_eq!(
            errors,
            [
                "main.conf:2: Unknown variable pid_path/var/run/x.pid in 'main.conf' on line 2! \
                 (missing space between 'pid_path' and its value '/var/run/x.pid'?)",
                "main.conf:5: Unknown variable modeexclusive in 'main.conf' on line 5! \
                 (missing space between 'mode' and its value 'exclusive #c'?)",
                "main.conf:7: Unknown variable ping_ips in 'main.conf' on line 7! \
                 ('ping_ips' belongs in the unnamed <monitor> section)",
                "main.conf:8: 'host' should be a section instead of a variable in 'main.conf' on line 8!",
            ]
        );
    }

    #[test]
    fn nested_section_is_reported_and_parsing_goes_on() {
        let (tree, errors) = parse_text("<host db1>\nip 1\n<host db2>\nip 2\n</host>\n", &[]);
        assert_eq!(
            errors,
            [
                "main.conf:3: Section <host> opened inside <host db1> in 'main.conf' on line 3! (missing closing tag?)"
            ]
        );
        assert_eq!(value(&tree, Kind::Host, "db2", "ip"), Some("2"));
    }

    #[test]
    fn includes_use_the_included_files_lines() {
        let (tree, errors) = parse_text(
            "include common\n<host db1>\ninclude other\n</host>\ninclude\ninclude missing\n",
            &[("common", "# c\n<host db2>\nbogus 1\nip 2\n</host>\n")],
        );
        assert_eq!(
            errors,
            [
                "common:3: Unknown variable bogus in 'common' on line 3!",
                "main.conf:3: 'include' is only allowed outside sections, not in <host db1>, in 'main.conf' on line 3!",
                "main.conf:5: Invalid config line in file 'main.conf' on line 5! ('include' takes one file name)",
                "main.conf:6: Can't include 'missing' in 'main.conf' on line 6: no such file",
            ]
        );
        assert_eq!(value(&tree, Kind::Host, "db2", "ip"), Some("2"));
    }

    #[test]
    fn glued_hint_only_when_the_rest_of_the_line_is_empty_or_a_comment() {
        let (_, errors) = parse_text("<host db1>\nipaddr 10.0.0.1\nipaddr\n</host>\n", &[]);
        assert_eq!(
            errors,
            [
                "main.conf:2: Unknown variable ipaddr in 'main.conf' on line 2!",
                "main.conf:3: Unknown variable ipaddr in 'main.conf' on line 3! \
                 (missing space between 'ip' and its value 'addr'?)",
            ]
        );
    }

    #[test]
    fn repeated_includes_are_bounded() {
        let (_, errors) = parse_text(
            "include a\n",
            &[
                ("a", "include b\ninclude b\ninclude b\ninclude b\n"),
                ("b", "include c\ninclude c\ninclude c\ninclude c\n"),
                ("c", "include d\ninclude d\ninclude d\ninclude d\n"),
                ("d", "include e\ninclude e\ninclude e\ninclude e\n"),
                ("e", "debug 1\n"),
            ],
        );
        assert!(!errors.is_empty());
        assert!(
            errors[0].contains("More than 256 files included"),
            "{errors:?}"
        );
    }

    #[test]
    fn include_cycles_are_errors() {
        let (_, errors) = parse_text(
            "include a\n",
            &[("a", "include b\n"), ("b", "\n\ninclude a\n")],
        );
        assert_eq!(errors, ["b:3: Include cycle in 'b' on line 3: a -> b -> a"]);
    }
}
