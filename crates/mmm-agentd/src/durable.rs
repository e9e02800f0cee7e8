//! Small files that must survive a crash whole: written to a temporary name, fsynced, renamed
//! over the old one, and the directory fsynced, so a crash leaves the old or the new content,
//! never a torn one.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Replaces `dir/name` with `content` durably.
pub fn write_atomically(dir: &Path, name: &str, content: &str) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    fs::File::open(dir).and_then(|d| d.sync_all())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_atomically(dir.path(), "f", "one\n").expect("write");
        write_atomically(dir.path(), "f", "two\n").expect("rewrite");
        assert_eq!(
            fs::read_to_string(dir.path().join("f")).expect("read"),
            "two\n"
        );
        assert!(!dir.path().join("f.tmp").exists());
    }
}
