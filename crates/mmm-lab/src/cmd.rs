//! Running the system tools the lab drives (`ip`, `nft`, `tc`) with a deadline and captured output.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// How long any single administrative command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `program args…`, feeding `stdin` if given; returns stdout, or an error with stderr.
pub(crate) fn run_with_input(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let line = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::io(format!("starting `{line}`"), e))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| LabError::io(format!("writing stdin of `{line}`"), e))?;
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || read_all(stdout.as_mut()));
    let err_reader = std::thread::spawn(move || read_all(stderr.as_mut()));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::Timeout {
                    what: format!("`{line}`"),
                    timeout: COMMAND_TIMEOUT,
                });
            }
            Err(e) => return Err(LabError::io(format!("waiting for `{line}`"), e)),
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(LabError::Command {
            command: line,
            status: status.to_string(),
            stderr: err.trim().to_owned(),
        })
    }
}

/// Runs `program args…` without input.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String> {
    run_with_input(program, args, None)
}

fn read_all<R: Read>(pipe: Option<&mut R>) -> String {
    let mut buf = String::new();
    if let Some(p) = pipe {
        let _ = p.read_to_string(&mut buf);
    }
    buf
}
