//! Building the system's programs before a test runs them, so a test never runs binaries left
//! from an earlier build of other sources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::cluster::Binaries;
use crate::error::{LabError, Result};

/// Builds `mmm-agentd`, `mmm-mond` and `mmmctl` with cargo, into the target directory and profile
/// of the running executable (a test at `<target>/<profile>/deps/<test>-<hash>`, or a workspace
/// program such as `mmm-jepsen` at `<target>/<profile>/<program>`), and returns their paths.
/// Runs the build once per process; a failed build is an error, never a fallback to what happens
/// to be in the target directory. Every lab test, the chaos suite and the benchmarks get the
/// daemons here, so one run compiles them once.
///
/// The build is `cargo test --no-run --workspace`: the very build `cargo nextest run --workspace`
/// (and `cargo test --workspace`) did before starting the tests, so there it only checks that
/// everything is fresh and links the programs into place, instead of compiling the dependencies
/// again with another feature set (`cargo build -p …` resolves features differently).
pub fn build_binaries() -> Result<Binaries> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| cargo_build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| LabError::Unsupported(e.clone()))
        .and_then(|dir| {
            let bins = Binaries::in_dir(dir);
            bins.check()?;
            Ok(bins)
        })
}

fn cargo_build() -> Result<PathBuf> {
    let exe =
        std::env::current_exe().map_err(|e| LabError::io("finding the running program", e))?;
    let (target_dir, profile_dir) = target_layout(&exe, |dir| dir.join(".fingerprint").is_dir())?;
    // `debug` holds both the dev and the test profile; `cargo test` picks the test profile.
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => None,
        Some(name) => Some(name.to_owned()),
        None => return Err(layout_error(&exe)),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .args(["test", "--no-run", "--workspace", "--manifest-path"])
        .arg(&workspace)
        .arg("--target-dir")
        .arg(&target_dir);
    if let Some(profile) = &profile {
        command.args(["--profile", profile]);
    }
    // Cargo sets these for the test process; build scripts that track them (ring tracks
    // CARGO_MANIFEST_DIR) would see a change and rebuild half the dependency tree.
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(set_by_cargo_for_tests) {
            command.env_remove(&key);
        }
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

/// Whether `key` is one of the variables cargo (or nextest, which mimics it) sets for a running
/// test rather than one a user sets to configure cargo.
fn set_by_cargo_for_tests(key: &str) -> bool {
    const EXACT: [&str; 9] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    EXACT.contains(&key) || key.starts_with("CARGO_PKG_") || key.starts_with("CARGO_BIN_EXE_")
}

/// `(<target>, <target>/<profile>)` of a test executable at `<target>/<profile>/deps/<file>`, or of
/// a program at `<target>/<profile>/<file>` (a directory `is_profile_dir` accepts: cargo keeps
/// `.fingerprint/` in each profile directory).
fn target_layout(exe: &Path, is_profile_dir: impl Fn(&Path) -> bool) -> Result<(PathBuf, PathBuf)> {
    let dir = exe.parent().ok_or_else(|| layout_error(exe))?;
    let profile_dir = if dir.file_name().and_then(|n| n.to_str()) == Some("deps") {
        dir.parent().ok_or_else(|| layout_error(exe))?
    } else if is_profile_dir(dir) {
        dir
    } else {
        return Err(layout_error(exe));
    };
    let target_dir = profile_dir.parent().ok_or_else(|| layout_error(exe))?;
    Ok((target_dir.to_path_buf(), profile_dir.to_path_buf()))
}

fn layout_error(exe: &Path) -> LabError {
    LabError::Unsupported(format!(
        "{} is neither a test executable inside <target>/<profile>/deps/ nor a program inside \
         <target>/<profile>/, so the lab cannot tell where to build mmm-agentd, mmm-mond and \
         mmmctl",
        exe.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_test_s_own_cargo_variables_are_dropped() {
        for key in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_BIN_EXE_mmm-lab",
            "OUT_DIR",
        ] {
            assert!(set_by_cargo_for_tests(key), "{key}");
        }
        for key in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "CARGO",
            "PATH",
        ] {
            assert!(!set_by_cargo_for_tests(key), "{key}");
        }
    }

    #[test]
    fn the_target_and_profile_come_from_the_test_executable() {
        let no_profile = |_: &Path| false;
        let (target, profile) =
            target_layout(Path::new("/w/target/debug/deps/e2e-0123abcd"), no_profile)
                .expect("layout");
        assert_eq!(target, Path::new("/w/target"));
        assert_eq!(profile, Path::new("/w/target/debug"));
        assert!(target_layout(Path::new("/w/target/debug/e2e"), no_profile).is_err());
        assert!(target_layout(Path::new("e2e"), no_profile).is_err());
        let release = |dir: &Path| dir == Path::new("/w/target/release");
        let (target, profile) =
            target_layout(Path::new("/w/target/release/mmm-jepsen"), release).expect("layout");
        assert_eq!(target, Path::new("/w/target"));
        assert_eq!(profile, Path::new("/w/target/release"));
    }
}
