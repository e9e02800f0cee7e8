//! Running the binary and a runtime for fake monitors.

use std::process::Command;

/// Exit code, stdout and stderr of one mmmctl run.
#[derive(Default)]
pub struct Run {
    /// Process exit code.
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

/// Runs mmmctl with `args`, in UTC+8 (the seeds' time zone) and without a usable default
/// config search (HOME-independent: the search dirs are absolute and absent here).
pub fn mmmctl(args: &[&str]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_mmmctl")).args(args))
}

/// [`mmmctl`] run in the working directory `dir`.
pub fn mmmctl_in(dir: &std::path::Path, args: &[&str]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_mmmctl"))
        .args(args)
        .current_dir(dir))
}

fn run(command: &mut Command) -> Run {
    let out = command
        .env("TZ", "Asia/Shanghai")
        .output()
        .expect("run mmmctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A multi-threaded runtime that serves fake monitors while the test thread runs mmmctl.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
