//! The benchmark's smoke test: the `mmm-bench` program itself, one run of the fast kill -9
//! failover in the lab (real daemons, MariaDB, VIPs), and a check that its JSON report holds
//! values measured from real events — a finite, positive failover time, a detection and a
//! decision taken from the monitors' log lines in order, no acknowledged write lost.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The case the smoke test runs (`mmm-bench --list` names them all).
const CASE: &str = "kill-mysqld-fast";

#[test]
fn one_fast_failover_run_is_measured_from_real_events() {
    if !mmm_lab::lab_available("bench smoke test") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("report.json");
    let status = Command::new(env!("CARGO_BIN_EXE_mmm-bench"))
        .args(["--runs", "1", "--case", CASE, "--out"])
        .arg(&out)
        .status()
        .expect("running mmm-bench");
    assert!(status.success(), "mmm-bench failed: {status}");
    let report = read(&out);
    assert_eq!(report["build_profile"], "debug");
    assert_eq!(report["runs_per_case"], 1);
    assert!(report["machine"]["cores"].as_u64().is_some_and(|c| c > 0));
    let case = &report["cases"][0];
    assert_eq!(case["name"], CASE);
    let run = &case["runs"][0];
    assert!(run["error"].is_null(), "the run failed: {}", run["error"]);
    let value = run["value_ms"].as_f64().expect("a failover time");
    assert!(value.is_finite() && value > 0.0, "failover time {value}");
    assert_eq!(run["failover"], true);
    assert_ne!(run["writer_after"], run["writer_before"]);
    assert_eq!(run["lost_writes"], 0, "acknowledged writes lost");
    let detected = milestone(run, "detected");
    let decided = milestone(run, "decided");
    let first_ack = milestone(run, "first_ack");
    assert!(
        0.0 < detected && detected <= decided && decided <= first_ack,
        "milestones out of order: detected {detected}, decided {decided}, first ack {first_ack}"
    );
    assert!(
        (first_ack - value).abs() < 1e-6,
        "first ack {first_ack} ≠ value {value}"
    );
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the JSON report");
    serde_json::from_str(&text).expect("the report is JSON")
}

/// Milliseconds from the kill to milestone `name` of `run`.
fn milestone(run: &Value, name: &str) -> f64 {
    run["milestones"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == name)
        .and_then(|m| m["at_ms"].as_f64())
        .unwrap_or_else(|| panic!("milestone {name} missing in {run}"))
}
