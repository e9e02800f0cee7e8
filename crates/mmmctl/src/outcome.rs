//! How a command ends: what to print and which exit code mmmctl returns.

use std::process::ExitCode;

/// A failure that decides mmmctl's exit code. The message is printed as is.
#[derive(Debug)]
pub enum Failure {
    /// The monitor answered and refused the command (exit 1).
    Refused(String),
    /// Bad arguments or an unusable config (exit 2).
    Usage(String),
    /// No monitor answered, or none had a quorum (exit 3).
    Unreachable(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Refused(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
        })
    }

    /// What goes to stdout and what to stderr. Refused replies go to stdout like
    /// mmm_control's; for an unreachable monitor the `ERROR:` line goes to stdout (where
    /// mmm_control printed it) and the hints to stderr; usage errors go to stderr.
    pub fn split_output(&self) -> (&str, &str) {
        match self {
            Failure::Refused(m) => (m, ""),
            Failure::Usage(m) => ("", m),
            Failure::Unreachable(m) => match m.split_once('\n') {
                Some((first, rest)) => (&m[..first.len() + 1], rest),
                None => (m, ""),
            },
        }
    }
}
