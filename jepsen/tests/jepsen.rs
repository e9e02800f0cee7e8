//! The chaos suite over the real system in the lab: the fixed CI schedule (the writer cut from
//! the monitors, the writer's agent killed or stopped then the writer moved by hand, two of three
//! monitors killed) with every checker judged against the strict expected-failure marks; and a
//! run killed with SIGKILL leaves no process, namespace or lab directory behind.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mmm_jepsen::runner::{RunConfig, run};
use mmm_jepsen::schedule::Schedule;
use mmm_jepsen::{KNOWN_FAILURES, check_and_report, default_results};

fn exe_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mmm-jepsen"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

#[test]
fn ci_schedule_keeps_every_property_except_the_marked_cases() {
    if !mmm_lab::lab_available("jepsen ci schedule") {
        return;
    }
    let schedule = Schedule::ci();
    let description = schedule.describe();
    println!("{description}");
    let dir = default_results(&exe_dir(), 0);
    let cfg = RunConfig {
        schedule,
        semi_sync: true,
        binaries: mmm_lab::build_binaries().expect("build mmm-agentd, mmm-mond and mmmctl"),
        results: dir.clone(),
        tag: "jepci".to_owned(),
        flap_detection: false,
    };
    let outcome = run(&cfg).expect("the run");
    let (judged, summary) =
        check_and_report(&outcome.history, KNOWN_FAILURES, &dir, &description).expect("report");
    println!("{summary}\nreport: {}", dir.display());
    let bad: Vec<String> = judged
        .iter()
        .filter(|j| !j.judgement.ok())
        .map(|j| {
            format!(
                "{}: {:?} — {}",
                j.verdict.checker, j.judgement, j.verdict.summary
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "checkers failed (report in {}):\n{}",
        dir.display(),
        bad.join("\n")
    );
}

/// Namespaces whose name starts with `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

#[test]
fn a_run_killed_with_sigkill_leaves_nothing_behind() {
    if !mmm_lab::lab_available("jepsen sigkill") {
        return;
    }
    let results = tempfile::tempdir().expect("results dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmm-jepsen"))
        .args([
            "--seed",
            "3",
            "--duration",
            "60s",
            "--nemesis",
            "flaky,writer-isolated",
        ])
        .arg("--results")
        .arg(results.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start mmm-jepsen");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(240);
    let (prefix, pids) = loop {
        let line = lines.next().expect("mmm-jepsen ended early").expect("read");
        println!("{line}");
        // "lab <prefix> up (pids [1, 2, …]); results in …"
        if let Some(rest) = line.strip_prefix("lab ") {
            let prefix = rest.split_whitespace().next().expect("prefix").to_owned();
            let list = rest
                .split_once('[')
                .and_then(|(_, r)| r.split_once(']'))
                .expect("pids")
                .0;
            let pids: Vec<u32> = list.split(", ").filter_map(|p| p.parse().ok()).collect();
            break (prefix, pids);
        }
        assert!(Instant::now() < deadline, "no lab line");
    };
    assert!(pids.len() >= 9, "{pids:?}");
    assert!(!namespaces(&prefix).is_empty());
    // Let the workloads and the sampler get going, then kill without warning.
    std::thread::sleep(Duration::from_secs(8));
    child.kill().expect("SIGKILL mmm-jepsen");
    child.wait().expect("reap");
    let gone = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "daemons outlived the killed run: {left:?}");
    let report = mmm_lab::cleanup_orphans().expect("cleanup");
    println!("{report:?}");
    assert!(
        namespaces(&prefix).is_empty(),
        "namespaces left: {:?}",
        namespaces(&prefix)
    );
    let tmp_left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .expect("tmp")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect();
    assert!(tmp_left.is_empty(), "lab directories left: {tmp_left:?}");
}
