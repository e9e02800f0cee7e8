//! Building the system's programs before a test runs them, so a test never runs binaries left
//! from an earlier build of other sources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::cluster::Binaries;
use crate::error::{LabError, Result};

/// The packages whose programs a lab cluster runs.
const PACKAGES: [&str; 3] = ["mmm-agentd", "mmm-mond", "mmmctl"];

/// Builds `mmm-agentd`, `mmm-mond` and `mmmctl` with cargo, into the target directory and profile
/// of the running test executable (`<target>/<profile>/deps/<test>-<hash>`), and returns their
/// paths. Runs the build once per process; a failed build is an error, never a fallback to what
/// happens to be in the target directory.
pub fn build_binaries() -> Result<Binaries> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| cargo_build().map_err(|e| e.to_string()))
        .as_ref()
        .map(|dir| Binaries::in_dir(dir))
        .map_err(|e| LabError::Unsupported(e.clone()))
}

fn cargo_build() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| LabError::io("finding the test binary", e))?;
    let (target_dir, profile_dir) = target_layout(&exe)?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(name) => name.to_owned(),
        None => return Err(layout_error(&exe)),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&workspace)
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--profile", &profile]);
    for package in PACKAGES {
        command.args(["-p", package]);
    }
    let line = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| LabError::io(format!("running {line}"), e))?;
    if status.success() {
        Ok(profile_dir)
    } else {
        Err(LabError::Command {
            command: line,
            status: status.to_string(),
            stderr: "see the build output above".to_owned(),
        })
    }
}

/// `(<target>, <target>/<profile>)` of a test executable at `<target>/<profile>/deps/<file>`.
fn target_layout(exe: &Path) -> Result<(PathBuf, PathBuf)> {
    let deps = exe.parent().ok_or_else(|| layout_error(exe))?;
    if deps.file_name().and_then(|n| n.to_str()) != Some("deps") {
        return Err(layout_error(exe));
    }
    let profile_dir = deps.parent().ok_or_else(|| layout_error(exe))?;
    let target_dir = profile_dir.parent().ok_or_else(|| layout_error(exe))?;
    Ok((target_dir.to_path_buf(), profile_dir.to_path_buf()))
}

fn layout_error(exe: &Path) -> LabError {
    LabError::Unsupported(format!(
        "{} is not a test executable inside <target>/<profile>/deps/, so the lab cannot tell \
         where to build mmm-agentd, mmm-mond and mmmctl",
        exe.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_and_profile_come_from_the_test_executable() {
        let (target, profile) =
            target_layout(Path::new("/w/target/debug/deps/e2e-0123abcd")).expect("layout");
        assert_eq!(target, Path::new("/w/target"));
        assert_eq!(profile, Path::new("/w/target/debug"));
        assert!(target_layout(Path::new("/w/target/debug/e2e")).is_err());
        assert!(target_layout(Path::new("e2e")).is_err());
    }
}
