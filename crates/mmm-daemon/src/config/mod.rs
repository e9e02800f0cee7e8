//! Reading mysql-mmm configuration files from disk for `mmm_core::config`, which reads none:
//! mysql-mmm's search path (`/etc`, `/etc/mmm`, `/etc/mysql-mmm`), `include` resolution,
//! `.conf` appended to bare names, and the refusal of files others may read or write.
//!
//! ```text
//! find_default(kind, cluster)   -> PathBuf   mmm_mon[_NAME].conf / mmm_agent[_NAME].conf
//! load(path, program)           -> Config    a file named on the command line
//! load_report(path, program, …) -> Loaded    the same plus the files read and unused directives
//! ```
//!
//! `include NAME` in a file given by path looks beside that file first, then on the search
//! path; in a file found on the search path it follows mysql-mmm's order (the search path,
//! then the including file's directory).

mod files;

use std::path::{Path, PathBuf};

use mmm_core::config::{
    self, Config, ConfigError, ConfigErrors, ConfigKind, Loaded, Program, SourceFile,
};

/// The directories mysql-mmm searches for configuration files, in order.
pub const MMM_SEARCH_DIRS: [&str; 3] = ["/etc", "/etc/mmm", "/etc/mysql-mmm"];

/// How files are found and checked; [`LoadOptions::default`] is mysql-mmm's behaviour for a
/// file named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Directories searched, in order, for `include NAME` and default file names.
    pub search_dirs: Vec<PathBuf>,
    /// Refuse files that are world-readable or world-writable (they hold passwords).
    pub check_permissions: bool,
    /// Whether `include NAME` looks in the including file's directory before the search
    /// path (a file given by path) or after it (a file found on the search path).
    pub includes_beside_first: bool,
    /// The monitor node this process is (`mmm-mond --this`): stands in for a missing
    /// `this_monitor` and overrides one in the files.
    pub this_monitor: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            search_dirs: MMM_SEARCH_DIRS.iter().map(PathBuf::from).collect(),
            check_permissions: true,
            includes_beside_first: true,
            this_monitor: None,
        }
    }
}

impl LoadOptions {
    /// mysql-mmm's search path with the permission check off — for tests and scripts
    /// whose files git checked out world-readable.
    pub fn without_permission_check() -> Self {
        LoadOptions {
            check_permissions: false,
            ..LoadOptions::default()
        }
    }

    /// Only `dirs` are searched; permissions are checked as `check_permissions` says.
    pub fn searching(
        dirs: impl IntoIterator<Item = impl Into<PathBuf>>,
        check_permissions: bool,
    ) -> Self {
        LoadOptions {
            search_dirs: dirs.into_iter().map(Into::into).collect(),
            check_permissions,
            includes_beside_first: true,
            this_monitor: None,
        }
    }

    /// These options loading as monitor node `name` (see [`LoadOptions::this_monitor`]).
    pub fn as_monitor(self, name: Option<&str>) -> Self {
        LoadOptions {
            this_monitor: name.map(str::to_owned),
            ..self
        }
    }

    /// These options for a main file that was found on the search path (mysql-mmm's include
    /// order: the search path first).
    pub fn for_found_file(self) -> Self {
        LoadOptions {
            includes_beside_first: false,
            ..self
        }
    }
}

/// Finds the default configuration file of `kind` (for cluster `cluster`, as given after
/// `@` on mysql-mmm's command lines) in `/etc`, `/etc/mmm`, `/etc/mysql-mmm`; the first
/// readable one wins.
pub fn find_default(kind: ConfigKind, cluster: Option<&str>) -> Result<PathBuf, ConfigErrors> {
    find_default_with(kind, cluster, &LoadOptions::default())
}

/// [`find_default`] searching `options.search_dirs`.
pub fn find_default_with(
    kind: ConfigKind,
    cluster: Option<&str>,
    options: &LoadOptions,
) -> Result<PathBuf, ConfigErrors> {
    let file = config::default_file_name(kind, cluster)?;
    files::search(&file, &options.search_dirs)
        .map_err(|why| ConfigErrors::single(ConfigError::in_file(&file, why)))
}

/// Loads the file at `path` (and what it includes) for `program`, with mysql-mmm's search
/// path for includes and its refusal of world-readable files.
pub fn load(path: &Path, program: Program) -> Result<Config, ConfigErrors> {
    load_with(path, program, &LoadOptions::default())
}

/// [`load`] with explicit search dirs, permission check and include order.
pub fn load_with(
    path: &Path,
    program: Program,
    options: &LoadOptions,
) -> Result<Config, ConfigErrors> {
    load_report(path, program, options).map(|loaded| loaded.config)
}

/// [`load_with`], also returning the files read in order and the accepted-but-unused
/// directives they set (what `mmmctl config check` prints).
pub fn load_report(
    path: &Path,
    program: Program,
    options: &LoadOptions,
) -> Result<Loaded, ConfigErrors> {
    let main = files::read_main(path, options)?;
    let includes = files::FsIncludes { options };
    config::load_source_as(main, program, &includes, options.this_monitor.as_deref())
}

/// Loads text held in memory whose `include` lines are read from disk as [`load_with`] reads
/// them; `origin` names the text in messages and is the base of relative includes.
pub fn load_text_with(
    text: &str,
    origin: &str,
    program: Program,
    options: &LoadOptions,
) -> Result<Config, ConfigErrors> {
    let path = PathBuf::from(origin);
    let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    let main = SourceFile {
        path,
        identity,
        text: text.to_owned(),
    };
    config::load_source(main, program, &files::FsIncludes { options }).map(|l| l.config)
}
