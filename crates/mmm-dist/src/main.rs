//! mmm-dist: writes what the Debian package ships besides the binaries — a man page per
//! binary and mmmctl's shell completions — from the binaries' own clap definitions, so the
//! pages can't drift from `--help`.
//!
//! The three command lines are compiled in from their crates' `cli.rs` files, which depend on
//! std and clap only. `scripts/build-deb` runs `mmm-dist pages target/release/dist` before
//! `cargo deb`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::CommandFactory;

// Only the definitions are used here; the binaries read the parsed fields.
#[path = "../../mmm-agentd/src/cli.rs"]
#[allow(dead_code)]
mod agentd_cli;
#[path = "../../mmmctl/src/cli.rs"]
#[allow(dead_code)]
mod mmmctl_cli;
#[path = "../../mmm-mond/src/cli.rs"]
#[allow(dead_code)]
mod mond_cli;

/// The section the pages go to: all three are system administration programs.
const SECTION: &str = "8";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "pages" => write_all(Path::new(dir)),
        _ => bail!("usage: mmm-dist pages DIR   (writes DIR/man/*.8 and DIR/completions/*)"),
    }
}

/// The binaries' command definitions, by program name.
fn commands() -> Vec<clap::Command> {
    vec![
        mond_cli::Cli::command(),
        agentd_cli::Cli::command(),
        mmmctl_cli::Cli::command(),
    ]
}

fn write_all(dir: &Path) -> anyhow::Result<()> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    for command in commands() {
        write_man(&man, command)?;
    }
    write_completions(&completions, mmmctl_cli::Cli::command())
}

/// `NAME.8`, plus `NAME-SUB.8` for each subcommand (`mmmctl-show.8`, `mmmctl-cluster-status.8`…).
fn write_man(dir: &Path, command: clap::Command) -> anyhow::Result<()> {
    let mut command = command
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true);
    // Building fills in each subcommand's display name (`mmmctl-cluster-status`).
    command.build();
    write_pages(dir, command)
}

fn write_pages(dir: &Path, command: clap::Command) -> anyhow::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(dir, sub.clone())?;
    }
    let name = command
        .get_display_name()
        .unwrap_or(command.get_name())
        .to_owned();
    clap_mangen::Man::new(command)
        .section(SECTION)
        .manual("mmm")
        .generate_to(dir)
        .with_context(|| format!("writing the man page of {name} to {}", dir.display()))?;
    Ok(())
}

fn write_completions(dir: &Path, mut command: clap::Command) -> anyhow::Result<()> {
    use clap_complete::Shell;
    let name = command.get_name().to_owned();
    for (shell, file) in [
        (Shell::Bash, format!("{name}.bash")),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut command, &name, &mut buf);
        let path: PathBuf = dir.join(file);
        fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
