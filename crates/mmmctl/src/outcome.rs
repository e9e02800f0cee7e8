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
    /// No quorum, but a monitor's last known state was printed, marked stale (exit 3; the
    /// message is the whole output and goes to stdout).
    Stale(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Refused(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) | Failure::Stale(_) => 3,
        })
    }

    /// The message printed for this failure.
    pub fn message(&self) -> &str {
        match self {
            Failure::Refused(m)
            | Failure::Usage(m)
            | Failure::Unreachable(m)
            | Failure::Stale(m) => m,
        }
    }

    /// The failure as mmmctl's JSON error document (JSON.md): the first line as `error`,
    /// the hints after it as `details`, the exit code and what kind of failure it is.
    pub fn to_json(&self) -> String {
        let message = self.message().trim_end();
        let (first, rest) = message.split_once('\n').unwrap_or((message, ""));
        let details: Vec<&str> = rest
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let (kind, code) = match self {
            Failure::Refused(_) => ("refused", 1),
            Failure::Usage(_) => ("usage", 2),
            Failure::Unreachable(_) => ("unreachable", 3),
            Failure::Stale(_) => ("stale", 3),
        };
        let doc = serde_json::json!({
            "version": crate::views::JSON_VERSION,
            "error": first,
            "details": details,
            "kind": kind,
            "exit_code": code,
        });
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "null".into());
        text.push('\n');
        text
    }

    /// What goes to stdout and what to stderr. Refused replies go to stdout like
    /// mmm_control's, and so does a stale state; for an unreachable monitor the `ERROR:` line goes to stdout (where
    /// mmm_control printed it) and the hints to stderr; usage errors go to stderr.
    pub fn split_output(&self) -> (&str, &str) {
        match self {
            Failure::Refused(m) | Failure::Stale(m) => (m, ""),
            Failure::Usage(m) => ("", m),
            Failure::Unreachable(m) => match m.split_once('\n') {
                Some((first, rest)) => (&m[..first.len() + 1], rest),
                None => (m, ""),
            },
        }
    }
}
