//! The file system side of loading: mysql-mmm's search path, `include` resolution, and the
//! refusal of files others may read or write.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use mmm_core::config::{ConfigError, ConfigErrors, Includes, SourceFile};

use super::LoadOptions;

/// A configuration file larger than this is refused rather than read.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// `NAME` with `.conf` appended unless it already ends so (mysql-mmm's rule).
fn with_conf_suffix(name: &str) -> String {
    if name.ends_with(".conf") {
        name.to_owned()
    } else {
        format!("{name}.conf")
    }
}

/// The first readable `file` in `dirs`, or mysql-mmm's message.
pub(crate) fn search(file: &str, dirs: &[PathBuf]) -> Result<PathBuf, String> {
    dirs.iter()
        .map(|dir| dir.join(file))
        .find(|candidate| is_readable_file(candidate))
        .ok_or_else(|| format!("No readable config file {file} in {}", join_dirs(dirs)))
}

fn join_dirs(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|dir| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_readable_file(path: &Path) -> bool {
    path.is_file() && fs::File::open(path).is_ok()
}

/// Reads one configuration file, refusing it (when asked) if others may read or write it.
pub(crate) fn read(path: &Path, check_permissions: bool) -> Result<SourceFile, String> {
    let shown = path.display();
    let metadata =
        fs::metadata(path).map_err(|e| format!("Can't read config file '{shown}': {e}"))?;
    if !metadata.is_file() {
        return Err(format!(
            "Can't read config file '{shown}': not a regular file"
        ));
    }
    if check_permissions {
        let mode = metadata.permissions().mode();
        if mode & 0o002 != 0 {
            return Err(format!(
                "Configuration file {shown} is world writable! It holds passwords: run 'chmod 640 {shown}'"
            ));
        }
        if mode & 0o004 != 0 {
            return Err(format!(
                "Configuration file {shown} is world readable! It holds passwords: run 'chmod 640 {shown}'"
            ));
        }
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!(
            "Can't read config file '{shown}': larger than {MAX_FILE_BYTES} bytes"
        ));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("Can't read config file '{shown}': {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "Can't read config file '{shown}': not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    let identity = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(SourceFile {
        path: path.to_path_buf(),
        identity,
        text,
    })
}

/// Reads the main file given on the command line, as a list of errors on failure.
pub(crate) fn read_main(path: &Path, options: &LoadOptions) -> Result<SourceFile, ConfigErrors> {
    read(path, options.check_permissions)
        .map_err(|why| ConfigErrors::single(ConfigError::in_file(path, why)))
}

/// Resolves `include` lines on the real file system.
pub(crate) struct FsIncludes<'o> {
    pub(crate) options: &'o LoadOptions,
}

impl FsIncludes<'_> {
    /// Where `include name` in file `from` points:
    /// an absolute path is used as is; a relative path with a directory part (`./x`,
    /// `conf.d/x`) is relative to `from`'s directory; a bare name is looked for in `from`'s
    /// directory and the search dirs, beside `from` first unless the options say otherwise.
    /// `.conf` is appended if missing.
    pub(crate) fn resolve(&self, name: &str, from: &Path) -> Result<PathBuf, String> {
        let file = with_conf_suffix(name);
        let here = from.parent().unwrap_or_else(|| Path::new(""));
        let path = Path::new(&file);
        if path.is_absolute() {
            return Ok(path.to_path_buf());
        }
        if file.contains('/') {
            return Ok(here.join(path));
        }
        let beside = if here.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            here.to_path_buf()
        };
        let mut dirs = self.options.search_dirs.clone();
        if self.options.includes_beside_first {
            dirs.insert(0, beside);
        } else {
            dirs.push(beside);
        }
        search(&file, &dirs)
    }
}

impl Includes for FsIncludes<'_> {
    fn include(&self, name: &str, from: &Path) -> Result<SourceFile, String> {
        let path = self.resolve(name, from)?;
        read(&path, self.options.check_permissions)
    }
}
