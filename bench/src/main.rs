//! `mmm-bench`: runs the failover benchmark's cases in the lab (as root), prints the tables and
//! writes the JSON report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use mmm_bench::cases::idle::{IDLE_CASES, IdleCase};
use mmm_bench::cases::{CASES, Case, Settings, run_case};
use mmm_bench::recorder::{SAMPLE_EVERY, WRITE_EVERY};
use mmm_bench::report::{Report, breakdown_table, cases_table, idle_table};
use mmm_bench::{build_daemons, machine};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "mmm-bench",
    about = "mmm's failover benchmark over real daemons and MariaDB in the lab (needs root)"
)]
struct Cli {
    /// Runs per timed case (and measuring windows per idle case); at least 10 for numbers worth
    /// quoting, fewer for a quick check.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    runs: u16,
    /// Only these cases (repeat or separate with commas); see --list.
    #[arg(long, value_delimiter = ',')]
    case: Vec<String>,
    /// Print the case names and exit.
    #[arg(long)]
    list: bool,
    /// Where the JSON report goes (default: target/bench/<unix time>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write every run's recorded events as JSON lines into this directory.
    #[arg(long)]
    timelines: Option<PathBuf>,
    /// Length of one idle measuring window, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    idle_window: u16,
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmm-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if cli.list {
        for c in CASES {
            println!("{:<22} {} ({})", c.name, c.title, (c.profile)().name);
        }
        for c in IDLE_CASES {
            println!(
                "{:<22} idle CPU and RSS, {} database hosts",
                c.name, c.db_hosts
            );
        }
        return Ok(());
    }
    let (timed, idle) = select(&cli.case)?;
    if let Some(why) = mmm_lab::lab_unavailable() {
        bail!("{why}");
    }
    let exe_dir = std::env::current_exe()
        .context("finding this program")?
        .parent()
        .context("this program has no directory")?
        .to_path_buf();
    let out = cli.out.clone().unwrap_or_else(|| default_out(&exe_dir));
    let binaries = build_daemons()?;
    let runs = usize::from(cli.runs);
    let settings = Settings {
        runs,
        binaries: binaries.clone(),
        timelines: cli.timelines.clone(),
        ids: Arc::new(AtomicU64::new(1)),
    };
    let mut report = new_report(runs);
    println!(
        "mmm-bench: {} · {} cores · Linux {} · {} build · mmm {} · load {:.2} {:.2} {:.2}",
        report.machine.cpu_model,
        report.machine.cores,
        report.machine.kernel,
        report.build_profile,
        report.mmm_commit,
        report.load_avg_start[0],
        report.load_avg_start[1],
        report.load_avg_start[2]
    );
    for case in timed {
        println!("== {} ({}, {runs} runs)", case.name, (case.profile)().name);
        let result = run_case(case, &settings);
        println!("{}", cases_table(std::slice::from_ref(&result)));
        report.cases.push(result);
        save(&mut report, &out)?;
    }
    let window = Duration::from_secs(u64::from(cli.idle_window));
    for case in idle {
        println!("== {} ({runs} windows of {window:?})", case.name);
        let result =
            mmm_bench::cases::idle::run(case, &binaries, runs, window, settings.ids.clone());
        println!("{}", idle_table(&result));
        report.idle.push(result);
        save(&mut report, &out)?;
    }
    print_report(&report);
    println!("JSON report: {}", out.display());
    Ok(())
}

/// The timed and idle cases `names` pick (all when empty).
fn select(names: &[String]) -> Result<(Vec<&'static Case>, Vec<&'static IdleCase>)> {
    if names.is_empty() {
        return Ok((CASES.iter().collect(), IDLE_CASES.iter().collect()));
    }
    let mut timed = Vec::new();
    let mut idle = Vec::new();
    for n in names {
        if let Some(c) = CASES.iter().find(|c| c.name == n) {
            timed.push(c);
        } else if let Some(c) = IDLE_CASES.iter().find(|c| c.name == n) {
            idle.push(c);
        } else {
            bail!("unknown case `{n}` (see --list)");
        }
    }
    Ok((timed, idle))
}

fn new_report(runs: usize) -> Report {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    Report {
        version: 1,
        date: machine::now_rfc3339(),
        finished: String::new(),
        machine: machine::Machine::this(),
        load_avg_start: machine::load_average(),
        load_avg_end: machine::load_average(),
        build_profile: machine::build_profile().to_owned(),
        mmm_commit: machine::commit(repo),
        runs_per_case: runs,
        write_every_ms: WRITE_EVERY.as_millis(),
        connect_timeout_ms: mmm_lab::workload::Target::new(std::net::Ipv4Addr::LOCALHOST, 0)
            .connect_timeout
            .as_millis(),
        sample_every_ms: SAMPLE_EVERY.as_millis(),
        percentiles: format!(
            "nearest rank: the q-th percentile of n sorted values is the value at rank ceil(q*n); \
             p99 only from {} values on (below, it would be the maximum)",
            mmm_bench::stats::P99_MIN_VALUES
        ),
        cases: Vec::new(),
        idle: Vec::new(),
    }
}

/// Writes the report so far (after every case, so an interrupted benchmark keeps its results).
fn save(report: &mut Report, out: &Path) -> Result<()> {
    report.finished = machine::now_rfc3339();
    report.load_avg_end = machine::load_average();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

fn print_report(r: &Report) {
    println!(
        "\nmmm failover benchmark · {} → {} · {} ({} cores, {} MiB) · Linux {} · {} build · mmm {}",
        r.date,
        r.finished,
        r.machine.cpu_model,
        r.machine.cores,
        r.machine.memory_mib,
        r.machine.kernel,
        r.build_profile,
        r.mmm_commit
    );
    println!(
        "load average at start {:.2} {:.2} {:.2}, at end {:.2} {:.2} {:.2}; a write every {} ms \
         ({} ms connect deadline), samples every {} ms; {}\n",
        r.load_avg_start[0],
        r.load_avg_start[1],
        r.load_avg_start[2],
        r.load_avg_end[0],
        r.load_avg_end[1],
        r.load_avg_end[2],
        r.write_every_ms,
        r.connect_timeout_ms,
        r.sample_every_ms,
        r.percentiles
    );
    if !r.cases.is_empty() {
        println!("{}", cases_table(&r.cases));
        for c in r.cases.iter().filter(|c| !c.breakdown.is_empty()) {
            println!("{}", breakdown_table(c));
        }
    }
    for i in &r.idle {
        println!("{}", idle_table(i));
    }
}

/// `target/bench/<unix seconds>.json` in the target directory holding `exe_dir`.
fn default_out(exe_dir: &Path) -> PathBuf {
    mmm_lab::cluster::results_path(exe_dir, "bench", ".json")
}
