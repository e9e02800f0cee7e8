//! Reading mysql-mmm config files for mmmctl: locating `mmm_mon[_CLUSTER].conf`, loading it
//! as the control program, and `config check`.

use std::path::{Path, PathBuf};

use mmm_core::config::{Config, Program};

use crate::outcome::Failure;

/// mysql-mmm's config directories, searched in order.
pub const SEARCH_DIRS: [&str; 3] = ["/etc", "/etc/mmm", "/etc/mysql-mmm"];

/// `mmm_mon.conf`, or `mmm_mon_CLUSTER.conf` with a cluster name.
pub fn file_name(cluster: Option<&str>) -> String {
    match cluster {
        Some(c) => format!("mmm_mon_{c}.conf"),
        None => "mmm_mon.conf".to_string(),
    }
}

/// The first readable monitor config on mysql-mmm's search path.
pub fn default_path(cluster: Option<&str>) -> Result<PathBuf, Failure> {
    let name = file_name(cluster);
    for dir in SEARCH_DIRS {
        let candidate = Path::new(dir).join(&name);
        if std::fs::File::open(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(Failure::Usage(format!(
        "ERROR: No readable {name} in {}.\nName the file with --config FILE, or a monitor with --monitor HOST:PORT.",
        SEARCH_DIRS.join(", ")
    )))
}

/// Loads `path` as mmm_control would (needs `<monitor>` or monitor nodes, and `<socket>`).
pub fn load_control(path: &Path) -> Result<Config, Failure> {
    load(path, Program::Control).map_err(|lines| {
        Failure::Usage(format!(
            "{lines}\nERROR: Can't use config file '{}'. Fix the lines above, or name a monitor with --monitor HOST:PORT.",
            path.display()
        ))
    })
}

/// Loads and validates `path` for `program`; on failure, the `FILE:LINE: message` lines.
pub fn load(path: &Path, program: Program) -> Result<Config, String> {
    let _ = program;
    Err(format!(
        "{}: config loading is not available in this build",
        path.display()
    ))
}

/// `config check`: the effective configuration, or the error lines.
pub fn check(path: &Path, program: Program) -> Result<String, Failure> {
    let cfg = load(path, program).map_err(Failure::Usage)?;
    let _ = cfg;
    Ok(String::new())
}
