//! The only part of the loader that touches the file system: mysql-mmm's search path,
//! `include` resolution, and the refusal of files others may read or write.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigErrors};
use super::parser::{Includes, SourceFile};

/// The directories mysql-mmm searches for configuration files, in order.
pub const MMM_SEARCH_DIRS: [&str; 3] = ["/etc", "/etc/mmm", "/etc/mysql-mmm"];

/// A configuration file larger than this is refused rather than read.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How files are found and checked; [`LoadOptions::default`] is mysql-mmm's behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Directories searched, in order, for `include NAME` and default file names.
    pub search_dirs: Vec<PathBuf>,
    /// Refuse files that are world-readable or world-writable (they hold passwords).
    pub check_permissions: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            search_dirs: MMM_SEARCH_DIRS.iter().map(PathBuf::from).collect(),
            check_permissions: true,
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
        }
    }
}

/// `NAME` with `.conf` appended unless it already ends so (mysql-mmm's rule).
pub(crate) fn with_conf_suffix(name: &str) -> String {
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
    /// `conf.d/x`) is relative to `from`'s directory; a bare name is searched in the
    /// search dirs (mysql-mmm), then in `from`'s directory. `.conf` is appended if missing.
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
        let mut dirs = self.options.search_dirs.clone();
        dirs.push(if here.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            here.to_path_buf()
        });
        search(&file, &dirs)
    }
}

impl Includes for FsIncludes<'_> {
    fn include(&self, name: &str, from: &Path) -> Result<SourceFile, String> {
        let path = self.resolve(name, from)?;
        read(&path, self.options.check_permissions)
    }
}
