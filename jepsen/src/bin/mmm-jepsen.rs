//! `mmm-jepsen`: runs a fault schedule against the real system in the lab and writes a report.
//!
//! `sudo target/debug/mmm-jepsen --seed 7 --duration 30m --nemesis all` draws a random schedule;
//! `--ci` runs the fixed CI schedule; `--check DIR` re-checks a recorded `history.jsonl`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use mmm_jepsen::history::History;
use mmm_jepsen::runner::{RunConfig, run};
use mmm_jepsen::schedule::{FAMILIES, Schedule};
use mmm_jepsen::{KNOWN_FAILURES, check_and_report, default_results};

#[derive(Debug, Parser)]
#[command(about = "Chaos runs of mmm in the lab: workloads, nemeses, checkers, report")]
struct Args {
    /// Seed of the random schedule (printed; the same seed, nemeses and duration replay it).
    #[arg(long)]
    seed: Option<u64>,
    /// Length of the random schedule, e.g. `90s`, `30m`, `2h`.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    duration: Duration,
    /// Nemesis families, comma-separated, or `all`.
    #[arg(long, default_value = "all", value_delimiter = ',')]
    nemesis: Vec<String>,
    /// Run the fixed CI schedule instead of a random one.
    #[arg(long, conflicts_with_all = ["seed", "nemesis"])]
    ci: bool,
    /// Asynchronous replication (lost writes and linearizability are then reported, not required).
    #[arg(long)]
    r#async: bool,
    /// Keep mysql-mmm's flap detection: a host failed more than 3 times within an hour then
    /// waits for `set_online`, so `convergence` can fail by design.
    #[arg(long)]
    flap_detection: bool,
    /// Results directory (default `target/jepsen/<time>-seed<seed>`).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Only check the `history.jsonl` in this directory again and rewrite its report.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seed", "ci"])]
    check: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("bad duration unit in {s:?} (use s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match real_main(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("mmm-jepsen: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: Args) -> Result<bool> {
    if let Some(dir) = &args.check {
        let h = History::read(&dir.join("history.jsonl"))?;
        let (judged, summary) = check_and_report(&h, KNOWN_FAILURES, dir, "")?;
        println!("{summary}");
        return Ok(judged.iter().all(|j| j.judgement.ok()));
    }
    if let Some(why) = mmm_lab::lab_unavailable() {
        anyhow::bail!("{why}");
    }
    let families: Vec<String> = if args.nemesis.iter().any(|n| n == "all") {
        FAMILIES.iter().map(|f| (*f).to_owned()).collect()
    } else {
        args.nemesis.clone()
    };
    let schedule = if args.ci {
        Schedule::ci()
    } else {
        let seed = args.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        Schedule::random(seed, &families, args.duration)?
    };
    let description = schedule.describe();
    println!("{description}");
    let exe = std::env::current_exe().context("locating this program")?;
    let exe_dir = exe
        .parent()
        .context("this program's directory")?
        .to_path_buf();
    let binaries = mmm_lab::build_binaries().context("building mmm-agentd, mmm-mond and mmmctl")?;
    let results = args
        .results
        .unwrap_or_else(|| default_results(&exe_dir, schedule.seed));
    let cfg = RunConfig {
        schedule,
        semi_sync: !args.r#async,
        binaries,
        results: results.clone(),
        tag: "jepsen".to_owned(),
        flap_detection: args.flap_detection,
    };
    let outcome = run(&cfg)?;
    let (judged, summary) =
        check_and_report(&outcome.history, KNOWN_FAILURES, &results, &description)?;
    println!("{summary}\nreport: {}", results.display());
    Ok(judged.iter().all(|j| j.judgement.ok()))
}
