//! Reading mysql-mmm config files for mmmctl: locating `mmm_mon[_CLUSTER].conf`, loading it
//! as the control program, and `config check`.

use std::path::{Path, PathBuf};

use mmm_core::config::{self, Config, ConfigKind, Program};

use crate::outcome::Failure;

/// The first readable monitor config on mysql-mmm's search path.
pub fn default_path(cluster: Option<&str>) -> Result<PathBuf, Failure> {
    config::find_default(ConfigKind::Monitor, cluster).map_err(|errors| {
        Failure::Usage(format!(
            "{errors}\nName the file with --config FILE, or a monitor with --monitor HOST:PORT."
        ))
    })
}

/// Loads `path` as mmm_control would (needs `<monitor>` or monitor nodes, and `<socket>`).
pub fn load_control(path: &Path) -> Result<Config, Failure> {
    config::load(path, Program::Control).map_err(|errors| {
        Failure::Usage(format!(
            "{errors}\nERROR: Can't use config file '{}'. Fix the lines above, or name a monitor with --monitor HOST:PORT.",
            path.display()
        ))
    })
}

/// `config check`: the effective configuration, or the `FILE:LINE: message` lines.
pub fn check(path: &Path, program: Program) -> Result<String, Failure> {
    let cfg = config::load(path, program).map_err(|errors| Failure::Usage(errors.to_string()))?;
    let mut text = config::describe(&cfg, program);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}
