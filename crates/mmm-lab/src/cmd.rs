//! Running the system tools the lab drives (`ip`, `nft`, `tc`) with a deadline and captured output.

use std::process::Command;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::process::output_with_deadline;

/// How long any single administrative command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `program args…`, feeding `stdin` if given; returns stdout, or an error with stderr.
pub(crate) fn run_with_input(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let line = format!("`{program} {}`", args.join(" "));
    let mut command = Command::new(program);
    command.args(args);
    let out = output_with_deadline(command, &line, COMMAND_TIMEOUT, stdin)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LabError::Command {
            command: line,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Runs `program args…` without input.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String> {
    run_with_input(program, args, None)
}
