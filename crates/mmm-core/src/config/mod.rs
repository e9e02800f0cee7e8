//! mysql-mmm configuration: parsing, templates, includes, per-program validation.
//!
//! The format is mysql-mmm 2.2.1's (`key value` lines, `<host db1>` sections, `<host
//! default>` templates, comma lists, `include`), validated per program with its wording,
//! plus mmm's optional extensions: fractional seconds, named `<monitor NAME>` sections with
//! `this_monitor`, and the lease / quorum / catch-up directives. Every error carries the
//! file and, when one applies, the line.
//!
//! This module reads no files: the caller hands in the main file's text and an [`Includes`]
//! that reads what `include` lines name (`mmm_daemon::config` does both on the file system,
//! with mysql-mmm's search path and its permission check).
//!
//! ```text
//! load_source(main, program, includes) -> Loaded   text plus whatever it includes
//! load_str(text, origin, program)      -> Config   in-memory text that includes nothing
//! describe(&config, program)           -> String   the effective cluster, for `config check`
//! ```

mod build;
mod defaults;
mod describe;
mod error;
mod lookup;
pub mod model;
mod parser;
mod rules;
mod syntax;
mod tree;
mod unused;
mod value;

use std::path::PathBuf;

pub use defaults::*;
pub use describe::describe;
pub use error::{ConfigError, ConfigErrors};
pub use model::*;
pub use parser::{Includes, NoIncludes, SourceFile};
pub use unused::UnusedDirective;

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

/// `kind`'s file name for `cluster` (as given after `@` on mysql-mmm's command lines), or an
/// error when the cluster name could escape the configuration directory.
pub fn default_file_name(kind: ConfigKind, cluster: Option<&str>) -> Result<String, ConfigErrors> {
    let file = kind.file_name(cluster);
    if let Some(name) = cluster.map(|name| name.strip_prefix('@').unwrap_or(name))
        && !syntax::is_section_name(name)
    {
        return Err(ConfigErrors::single(ConfigError::in_file(
            &file,
            format!("Invalid cluster name '{name}': use letters, digits, '_' and '-'"),
        )));
    }
    Ok(file)
}

/// A loaded configuration with what `mmmctl config check` reports about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// The files read, in the order they were read (the main file first).
    pub files: Vec<PathBuf>,
    /// Directives the files set that mmm accepts but does not act on.
    pub unused: Vec<UnusedDirective>,
}

/// Parses `main` and every file it includes (read through `includes`) and validates the
/// result for `program`.
pub fn load_source(
    main: SourceFile,
    program: Program,
    includes: &dyn Includes,
) -> Result<Loaded, ConfigErrors> {
    load_source_as(main, program, includes, None)
}

/// [`load_source`] for the monitor node `this_monitor` when given: it stands in for a
/// missing `this_monitor` directive and overrides one in the files (`mmm-mond --this`);
/// errors about it are reported against `--this`.
pub fn load_source_as(
    main: SourceFile,
    program: Program,
    includes: &dyn Includes,
    this_monitor: Option<&str>,
) -> Result<Loaded, ConfigErrors> {
    let (mut tree, errors) = parser::parse(main, includes);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    if let Some(name) = this_monitor {
        let at = error::Loc::file(std::path::Path::new("--this"));
        tree.top.set("this_monitor", name, at);
    }
    let files = tree.files.clone();
    let unused = unused::find(&tree);
    let config = build::build(tree, program).map_err(ConfigErrors)?;
    Ok(Loaded {
        config,
        files,
        unused,
    })
}

/// Loads configuration text held in memory; `origin` names it in messages. It reads nothing
/// from disk, so an `include` line is an error.
pub fn load_str(text: &str, origin: &str, program: Program) -> Result<Config, ConfigErrors> {
    load_source(SourceFile::new(origin, text), program, &NoIncludes).map(|loaded| loaded.config)
}
