//! Golden scenario scripts: `tests/scenarios/*.scn`, run against the real leader machine
//! ([`mmm_core::leader::Leader`]); the runner plays Raft, the other monitors and the agents.
//!
//! A script is a list of input lines; the runner echoes each one and appends what it
//! produced: MMM log lines (`2012/08/23 17:03:10 FATAL …`, a multi-line message continued
//! with `+ `), replies (`= …`), state dumps (`| …`) and traced effects (`> …`). The
//! transcript must equal the file. `MMM_BLESS=1` rewrites the files (review the diff
//! before committing). Inputs:
//!
//! * `config FILE` — MMM config text from `tests/scenarios/FILE`, loaded as the monitor
//!   loads it; `option KEY SECONDS` sets a monitor duration (auto_set_online,
//!   flap_duration, wait_for_other_master, agent_lease, agent_timeout) or `flap_count N`.
//! * `monitors N quorum Q` — N monitors, each with its own trackers and table; this
//!   monitor (the leader) is monitor 1.
//! * `at YYYY/MM/DD HH:MM:SS` or `at +S` — the clock.
//! * `host H STATE [role(ip) …]` — initial state (before the run), `mode MODE` likewise;
//!   `unstarted` — a new cluster (the first tick runs the startup vote); `stored LINE` — one
//!   line of mysql-mmm's status file (`host|STATE|role(ip),…`), the stored side of that vote.
//! * `check[@M] HOST CHECK RESULT…` — one raw result through monitor M's tracker (default 1);
//!   `checks[@M] HOST|all RESULT…` — the same result for all four checks.
//! * `network@M up|down` — a monitor's own network.
//! * `agent H reachable|unreachable|confirm|uptime SECONDS|error TEXT|error none` — the
//!   agent's facts; it answers the latest status it was pushed again with them. An agent
//!   takes the roles it is pushed but keeps the writer until `confirm`. At startup it
//!   answers `agent H says STATE [role(ip) …]` and `agent H system writable|read_only
//!   [role(ip) …] [master IP]`.
//! * `leader new` (a new leadership of this monitor: monitors stop reporting until
//!   `fresh`, or `fresh@M` for one), `leader lost NAME`, `quorum lost|fresh`.
//! * `transfer NAME`, `peer hold`, `peer campaign` — leader-transfer requests.
//! * `trace log|calls|raft…`, `trace off` — also print the leader's own log lines, its
//!   agent calls, its Raft switches and transfer messages.
//! * `tick` — every monitor reports, then one round of the leader. `admin WORDS…` — an
//!   mmm_control command. `show`.

mod agents;
mod clock;
mod runner;

use std::fmt::Write as _;

use runner::Runner;

fn is_output(line: &str) -> bool {
    line.starts_with("= ")
        || line == "="
        || line.starts_with("| ")
        || line.starts_with("> ")
        || line.starts_with("+ ")
        || (line.len() > 4
            && line.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && line.as_bytes()[4] == b'/')
}

/// Runs one script text; returns the transcript.
pub fn transcript(text: &str) -> Result<String, String> {
    let mut r = Runner::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if is_output(line) {
            continue;
        }
        let _ = writeln!(r.out, "{line}");
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        r.run(line)
            .map_err(|e| format!("line {}: {e}: {line}", n + 1))?;
    }
    Ok(r.out)
}

fn diff(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out = String::new();
    let first = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let from = first.saturating_sub(3);
    let _ = writeln!(out, "first difference at line {}:", first + 1);
    for (i, l) in w.iter().enumerate().skip(from).take(12) {
        let _ = writeln!(out, "  want {:>4}: {l}", i + 1);
    }
    for (i, l) in g.iter().enumerate().skip(from).take(12) {
        let _ = writeln!(out, "  got  {:>4}: {l}", i + 1);
    }
    out
}

#[test]
fn golden_scenarios() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenario dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "scenario scripts missing");
    let bless = std::env::var_os("MMM_BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read scenario");
        let got = match transcript(&text) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        let want: String = text
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        if got != want {
            if bless {
                std::fs::write(f, &got).expect("bless");
            } else {
                failures.push(format!("{}:\n{}", f.display(), diff(&want, &got)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scenario mismatch (MMM_BLESS=1 rewrites):\n{}",
        failures.join("\n")
    );
}
