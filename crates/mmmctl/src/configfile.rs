//! Reading mysql-mmm config files for mmmctl: locating `mmm_mon[_CLUSTER].conf`, loading it
//! as the control program, and `config check`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mmm_core::config::{self, Config, ConfigKind, Loaded, Program};
use mmm_daemon::config::{self as files, LoadOptions};

use crate::outcome::Failure;

/// A monitor config file and how it was found (which decides the include order).
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The file.
    pub path: PathBuf,
    /// Found on mysql-mmm's search path rather than named with `--config`.
    pub found: bool,
}

/// The first readable monitor config on mysql-mmm's search path.
pub fn default_path(cluster: Option<&str>) -> Result<ConfigFile, Failure> {
    let path = files::find_default(ConfigKind::Monitor, cluster).map_err(|errors| {
        Failure::Usage(format!(
            "{errors}\nName the file with --config FILE, or a monitor with --monitor HOST:PORT."
        ))
    })?;
    Ok(ConfigFile { path, found: true })
}

fn options(found: bool) -> LoadOptions {
    if found {
        LoadOptions::default().for_found_file()
    } else {
        LoadOptions::default()
    }
}

/// Loads `file` as mmm_control would (needs `<monitor>` or monitor nodes, and `<socket>`).
pub fn load_control(file: &ConfigFile) -> Result<Config, Failure> {
    files::load_with(&file.path, Program::Control, &options(file.found)).map_err(|errors| {
        Failure::Usage(format!(
            "{errors}\nERROR: Can't use config file '{}'. Fix the lines above, or name a monitor with --monitor HOST:PORT.",
            file.path.display()
        ))
    })
}

/// `config check`: the files read in order, the effective configuration and the directives
/// that are accepted but have no effect; or the `FILE:LINE: message` lines.
pub fn check(path: &Path, program: Program) -> Result<String, Failure> {
    let loaded = files::load_report(path, program, &options(false))
        .map_err(|errors| Failure::Usage(errors.to_string()))?;
    Ok(check_report(&loaded, program))
}

fn check_report(loaded: &Loaded, program: Program) -> String {
    let mut text = String::from("# files read, in order:\n");
    for file in &loaded.files {
        let _ = writeln!(text, "#   {}", file.display());
    }
    text.push_str(&config::describe(&loaded.config, program));
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if loaded.unused.is_empty() {
        text.push_str("# no accepted-but-unused directives\n");
    } else {
        text.push_str("# accepted but unused (these directives have no effect in mmm):\n");
        for u in &loaded.unused {
            let at = match u.line {
                Some(line) => format!("{}:{line}", u.file.display()),
                None => u.file.display().to_string(),
            };
            let _ = writeln!(text, "#   {at}: {}: {}", u.name, u.why);
        }
    }
    text
}
