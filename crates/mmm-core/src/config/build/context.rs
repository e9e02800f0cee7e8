//! The validation context: which program is loading, the errors found so far, and helpers
//! that read one key of a section with mysql-mmm's messages.

use super::super::error::{ConfigError, Loc};
use super::super::model::Program;
use super::super::rules::Kind;
use super::super::tree::{Entry, Section};

/// Every program: a key required by all of them.
pub(super) const ALL: &[Program] = &[
    Program::Monitor,
    Program::Agent,
    Program::Control,
    Program::Tools,
];

/// Validation state shared by the section builders.
pub(super) struct Ctx {
    /// The program whose rules apply.
    pub(super) program: Program,
    /// The main file (for errors about missing top-level entries).
    pub(super) main: Loc,
    errors: Vec<ConfigError>,
}

/// One section under validation, with mysql-mmm's name for it in messages (`host->db1`).
pub(super) struct View<'t> {
    /// Prefix of entry names in messages; empty for the top level.
    pub(super) path: String,
    /// The section's directives.
    pub(super) section: &'t Section,
}

impl<'t> View<'t> {
    /// The top level.
    pub(super) fn top(section: &'t Section) -> Self {
        View {
            path: String::new(),
            section,
        }
    }

    /// An unnamed section (`monitor`, `socket`).
    pub(super) fn unique(kind: Kind, section: &'t Section) -> Self {
        View {
            path: format!("{}->", kind.word()),
            section,
        }
    }

    /// A named section (`host->db1`).
    pub(super) fn named(kind: Kind, name: &str, section: &'t Section) -> Self {
        View {
            path: format!("{}->{name}->", kind.word()),
            section,
        }
    }

    /// mysql-mmm's name of `key` in this section (`host->db1->ip`).
    pub(super) fn entry_name(&self, key: &str) -> String {
        format!("{}{key}", self.path)
    }

    /// The directive `key`, if set.
    pub(super) fn get(&self, key: &str) -> Option<&'t Entry> {
        self.section.get(key)
    }

    /// Where a missing key of this section is reported: the section header, or the main
    /// file for the top level.
    pub(super) fn missing_at(&self) -> &Loc {
        &self.section.at
    }
}

impl Ctx {
    /// A fresh context for `program` loading `main`.
    pub(super) fn new(program: Program, main: Loc) -> Self {
        Ctx {
            program,
            main,
            errors: Vec::new(),
        }
    }

    /// Whether the loading program is one of `programs`.
    pub(super) fn needs(&self, programs: &[Program]) -> bool {
        programs.contains(&self.program)
    }

    /// Records an error at `at`.
    pub(super) fn error(&mut self, at: &Loc, message: impl Into<String>) {
        self.errors.push(ConfigError::at_loc(at, message));
    }

    /// Records mysql-mmm's "Required config entry 'NAME' is missing" at `at`.
    pub(super) fn missing(&mut self, at: &Loc, name: &str) {
        self.error(at, format!("Required config entry '{name}' is missing"));
    }

    /// Records mysql-mmm's message for a value outside the allowed set.
    pub(super) fn not_allowed(&mut self, entry: &Entry, name: &str, value: &str, allowed: &[&str]) {
        let allowed = allowed
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(", ");
        self.error(
            &entry.at,
            format!(
                "Config entry '{name}' has invalid value '{value}' allowed values are: {allowed}"
            ),
        );
    }

    /// The directive `key` of `view`; when absent and the program is in `required`, records
    /// that it is missing.
    pub(super) fn text<'t>(
        &mut self,
        view: &View<'t>,
        key: &str,
        required: &[Program],
    ) -> Option<&'t Entry> {
        let entry = view.get(key);
        if entry.is_none() && self.needs(required) {
            self.missing(view.missing_at(), &view.entry_name(key));
        }
        entry
    }

    /// The directive `key` of `view` parsed with `parse`; records a missing required key or
    /// a value that does not parse (at the directive's line).
    pub(super) fn parse<T>(
        &mut self,
        view: &View<'_>,
        key: &str,
        required: &[Program],
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let entry = self.text(view, key, required)?;
        match parse(&entry.value) {
            Ok(value) => Some(value),
            Err(why) => {
                self.error(
                    &entry.at,
                    format!(
                        "Config entry '{}' has invalid value '{}': {why}",
                        view.entry_name(key),
                        entry.value
                    ),
                );
                None
            }
        }
    }

    /// Like [`Ctx::parse`] for an optional key with a default (also used after an error,
    /// which is already recorded).
    pub(super) fn parse_or<T>(
        &mut self,
        view: &View<'_>,
        key: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        self.parse(view, key, &[], parse).unwrap_or(default)
    }

    /// The configuration if nothing was wrong, else every error.
    pub(super) fn finish<T>(self, value: T) -> Result<T, Vec<ConfigError>> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}
