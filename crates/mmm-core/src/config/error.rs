//! Errors of loading a configuration: each one names the file and, when one applies, the line.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found while reading or validating the configuration files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file the problem is in (the main file for a missing top-level entry).
    pub file: PathBuf,
    /// 1-based line of the offending directive, when there is one.
    pub line: Option<usize>,
    /// What is wrong, in mysql-mmm's wording where mysql-mmm had one.
    pub message: String,
}

impl ConfigError {
    /// An error pinned to a line of a file.
    pub fn at(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.into(),
            line: Some(line),
            message: message.into(),
        }
    }

    /// An error about a whole file (no single line is to blame).
    pub fn in_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }

    /// An error at a recorded location.
    pub(crate) fn at_loc(loc: &Loc, message: impl Into<String>) -> Self {
        ConfigError {
            file: loc.file.clone(),
            line: loc.line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every problem found in one load, in the order they were found; never empty when returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// A list holding a single error.
    pub fn single(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Where a directive or section header was read: file and optional 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) file: PathBuf,
    pub(crate) line: Option<usize>,
}

impl Loc {
    /// A line of a file.
    pub(crate) fn line(file: &Path, line: usize) -> Self {
        Loc {
            file: file.to_path_buf(),
            line: Some(line),
        }
    }

    /// A whole file.
    pub(crate) fn file(file: &Path) -> Self {
        Loc {
            file: file.to_path_buf(),
            line: None,
        }
    }
}
