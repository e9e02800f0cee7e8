//! mysql-mmm configuration files: parsing, templates, includes, per-program validation.
//!
//! The format is mysql-mmm 2.2.1's (`key value` lines, `<host db1>` sections, `<host
//! default>` templates, comma lists, `include`), validated per program with its wording,
//! plus mmm's optional extensions: fractional seconds, named `<monitor NAME>` sections with
//! `this_monitor`, and the lease / quorum / catch-up directives. Every error carries the
//! file and, when one applies, the line.
//!
//! ```text
//! load(path, program)            -> Config      a file named on the command line
//! find_default(kind, cluster)    -> PathBuf     mmm_mon[_NAME].conf / mmm_agent[_NAME].conf
//! load_str(text, origin, program)               in-memory text (tests, scripts)
//! describe(&config, program)     -> String      the effective cluster, for `mmmctl config check`
//! ```

mod build;
mod defaults;
mod describe;
mod error;
mod files;
mod lookup;
pub mod model;
mod parser;
mod rules;
mod syntax;
mod tree;
mod value;

use std::path::{Path, PathBuf};

pub use defaults::*;
pub use describe::describe;
pub use error::{ConfigError, ConfigErrors};
pub use files::{LoadOptions, MMM_SEARCH_DIRS};
pub use model::*;

use parser::SourceFile;

/// Which default file a program reads (mysql-mmm's naming).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKind {
    /// `mmm_agent.conf`, read by the agent.
    Agent,
    /// `mmm_mon.conf`, read by the monitor and by mmmctl.
    Monitor,
    /// `mmm_tools.conf`, read by the backup/clone tools.
    Tools,
}

impl ConfigKind {
    /// The file name for this kind, with the multi-cluster suffix when `cluster` is given
    /// (`mmm_mon_NAME.conf`). A leading `@` on the cluster name is ignored.
    pub fn file_name(self, cluster: Option<&str>) -> String {
        let base = match self {
            ConfigKind::Agent => "mmm_agent",
            ConfigKind::Monitor => "mmm_mon",
            ConfigKind::Tools => "mmm_tools",
        };
        match cluster.map(|name| name.strip_prefix('@').unwrap_or(name)) {
            Some(name) => format!("{base}_{name}.conf"),
            None => format!("{base}.conf"),
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
    let file = kind.file_name(cluster);
    if let Some(name) = cluster.map(|name| name.strip_prefix('@').unwrap_or(name))
        && !syntax::is_section_name(name)
    {
        return Err(ConfigErrors::single(ConfigError::in_file(
            &file,
            format!("Invalid cluster name '{name}': use letters, digits, '_' and '-'"),
        )));
    }
    files::search(&file, &options.search_dirs)
        .map_err(|why| ConfigErrors::single(ConfigError::in_file(&file, why)))
}

/// Loads the file at `path` (and what it includes) for `program`, with mysql-mmm's search
/// path for includes and its refusal of world-readable files.
pub fn load(path: &Path, program: Program) -> Result<Config, ConfigErrors> {
    load_with(path, program, &LoadOptions::default())
}

/// [`load`] with explicit search dirs and permission check.
pub fn load_with(
    path: &Path,
    program: Program,
    options: &LoadOptions,
) -> Result<Config, ConfigErrors> {
    let main = files::read_main(path, options)?;
    load_source(main, program, options)
}

/// Loads configuration text held in memory; `origin` names it in messages and is the
/// base of relative includes. Includes are resolved and checked as by [`load`].
pub fn load_str(text: &str, origin: &str, program: Program) -> Result<Config, ConfigErrors> {
    load_str_with(text, origin, program, &LoadOptions::default())
}

/// [`load_str`] with explicit search dirs and permission check.
pub fn load_str_with(
    text: &str,
    origin: &str,
    program: Program,
    options: &LoadOptions,
) -> Result<Config, ConfigErrors> {
    let path = PathBuf::from(origin);
    let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    load_source(
        SourceFile {
            path,
            identity,
            text: text.to_owned(),
        },
        program,
        options,
    )
}

fn load_source(
    main: SourceFile,
    program: Program,
    options: &LoadOptions,
) -> Result<Config, ConfigErrors> {
    let (tree, errors) = parser::parse(main, &files::FsIncludes { options });
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    build::build(tree, program).map_err(ConfigErrors)
}
