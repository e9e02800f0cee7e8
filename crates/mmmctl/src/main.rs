//! mmmctl: the operator CLI of mmm, a drop-in for mysql-mmm's `mmm_control`.
//!
//! It finds the monitors from `mmm_mon[_CLUSTER].conf` (or `--config`, `--monitor`), calls
//! the Control gRPC service of whichever monitor leads, and prints mmm_control's exact text,
//! or versioned JSON with `--json` (see JSON.md). Exit codes: 0 success, 1 refused by the
//! monitor, 2 usage or config error, 3 no monitor reachable or no quorum.

mod cli;
mod client;
mod configfile;
mod monitors;
mod outcome;
mod run;
mod timefmt;
mod views;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use mmm_core::config::Program;

use crate::cli::{Cli, Command, CompletionShell, ConfigCommand, ProgramArg};
use crate::outcome::Failure;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let json = cli::wants_json(&args);
    let cli = match Cli::try_parse_from(cli::rewrite_cluster_arg(args)) {
        Ok(cli) => cli,
        Err(e) if json && e.use_stderr() => {
            let text = e.render().to_string();
            let failure = Failure::Usage(text.trim_start_matches("error: ").to_owned());
            print_err(&failure.to_json());
            return failure.exit_code();
        }
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    // Read before any thread exists (the runtime below starts none, but be safe).
    let offset = timefmt::local_offset();
    match execute(&cli, offset) {
        Ok(text) => {
            print_out(&text);
            ExitCode::SUCCESS
        }
        // With --json every failure but a monitor's refusal and a stale state (whose JSON
        // document is on stdout) is a JSON document on stderr.
        Err(failure)
            if cli.global.json && !matches!(failure, Failure::Refused(_) | Failure::Stale(_)) =>
        {
            print_err(&failure.to_json());
            failure.exit_code()
        }
        Err(failure) => {
            let (out, err) = failure.split_output();
            print_out(out);
            if !out.is_empty() && !out.ends_with('\n') {
                print_out("\n");
            }
            if !err.is_empty() {
                print_err(err);
                if !err.ends_with('\n') {
                    print_err("\n");
                }
            }
            failure.exit_code()
        }
    }
}

fn print_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn execute(cli: &Cli, offset: time::UtcOffset) -> Result<String, Failure> {
    match &cli.command {
        // mmm_control printed the monitor's help reply plus a newline.
        Command::Help => Ok(format!("{}\n", mmm_core::render::help_text())),
        Command::Completions { shell } => Ok(completions(*shell)),
        Command::Config(ConfigCommand::Check { program, file }) => {
            let program = match program {
                ProgramArg::Monitor => Program::Monitor,
                ProgramArg::Agent => Program::Agent,
                ProgramArg::Control => Program::Control,
            };
            configfile::check(file, program)
        }
        command => {
            // One crypto provider for the whole process (rustls with ring), before any TLS use.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let targets = monitors::targets(&cli.global)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    Failure::Unreachable(format!("ERROR: Can't start the async runtime: {e}"))
                })?;
            runtime.block_on(run::remote(command, &cli.global, &targets, offset))
        }
    }
}

fn completions(shell: CompletionShell) -> String {
    let mut command = Cli::command();
    let mut buf: Vec<u8> = Vec::new();
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, "mmmctl", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
