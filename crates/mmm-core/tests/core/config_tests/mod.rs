//! The mysql-mmm configuration core: syntax, templates, per-program validation, extensions,
//! the seed configs and `describe`. The core reads no files: these tests read the fixtures
//! themselves and hand them in (the file-system loader with its search path, include
//! resolution and permission check is tested in mmm-daemon).

mod describe;
mod extensions;
mod monitors;
mod no_panic;
mod seeds;
mod syntax;
mod validation;

mod common;

use std::path::{Path, PathBuf};

use mmm_core::config::{self, Config, ConfigErrors, Includes, Program, SourceFile};

pub(crate) use common::*;

/// Every program.
pub(crate) const PROGRAMS: [Program; 4] = [
    Program::Monitor,
    Program::Agent,
    Program::Control,
    Program::Tools,
];

/// Loads `text` as the file `test.conf`.
pub(crate) fn load_text(text: &str, program: Program) -> Result<Config, ConfigErrors> {
    config::load_str(text, "test.conf", program)
}

/// A fixture file as the core's input (the test reads it; the core reads nothing).
fn read_source(path: &Path) -> Result<SourceFile, String> {
    std::fs::read_to_string(path)
        .map(|text| SourceFile::new(path, text))
        .map_err(|e| format!("Can't read config file '{}': {e}", path.display()))
}

/// `include NAME` read from one fixture directory, `.conf` appended as mysql-mmm does.
pub(crate) struct FixtureDir(pub(crate) PathBuf);

impl Includes for FixtureDir {
    fn include(&self, name: &str, _from: &Path) -> Result<SourceFile, String> {
        let file = if name.ends_with(".conf") {
            name.to_owned()
        } else {
            format!("{name}.conf")
        };
        read_source(&self.0.join(file))
    }
}

/// Loads `text` (named `origin`) whose includes are read from `include_dir`.
pub(crate) fn load_text_including(
    text: &str,
    origin: &str,
    include_dir: &Path,
    program: Program,
) -> Result<Config, ConfigErrors> {
    let main = SourceFile::new(origin, text);
    config::load_source(main, program, &FixtureDir(include_dir.to_path_buf()))
        .map(|loaded| loaded.config)
}

/// Loads the file `main` whose includes are read from `include_dir`.
pub(crate) fn load_fixture_at(
    main: &Path,
    include_dir: &Path,
    program: Program,
) -> Result<Config, ConfigErrors> {
    let main = read_source(main).unwrap_or_else(|e| panic!("fixture: {e}"));
    config::load_source(main, program, &FixtureDir(include_dir.to_path_buf()))
        .map(|loaded| loaded.config)
}

/// Loads `tests/config/<dir>/<file>`, whose includes come from `<dir>`.
pub(crate) fn load_fixture(
    dir: &str,
    file: &str,
    program: Program,
) -> Result<Config, ConfigErrors> {
    let dir = fixture(dir);
    load_fixture_at(&dir.join(file), &dir, program)
}
