//! Helpers for tests that run the whole system: the built programs and a way to watch a child's
//! output line by line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use mmm_lab::cluster::Binaries;

/// The `mmm-lab` binary of this package.
pub fn mmm_lab_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mmm-lab"))
}

/// The directory holding `mmm-lab` and the agent, monitor and mmmctl built by
/// [`mmm_lab::build_binaries`] (once per test process).
pub fn bin_dir() -> PathBuf {
    let dir = binaries()
        .mond
        .parent()
        .map(Path::to_path_buf)
        .expect("the programs' directory");
    assert_eq!(
        mmm_lab_bin().parent(),
        Some(dir.as_path()),
        "mmm-lab and the programs it runs are built into different directories"
    );
    dir
}

/// The three programs of the system, built.
pub fn binaries() -> Binaries {
    mmm_lab::build_binaries().expect("build mmm-agentd, mmm-mond and mmmctl")
}

/// Lines a child prints on stdout, collected by a reader thread.
pub struct Lines {
    rx: Receiver<String>,
    /// Every line seen so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `child`'s piped stdout.
    pub fn of(child: &mut Child) -> Self {
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits until a line containing `needle` arrives; panics with everything seen after `limit`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no line with {needle:?} within {limit:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Collects the remaining lines until the child closes stdout.
    pub fn drain(&mut self) {
        while let Ok(line) = self.rx.recv_timeout(Duration::from_secs(30)) {
            self.seen.push(line);
        }
    }

    /// All lines so far as one text.
    pub fn text(&self) -> String {
        self.seen.join("\n")
    }
}

/// Names `ip netns list` shows that start with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
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

/// Whether a process with `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Waits up to `limit` until none of `pids` is alive; returns the ones still alive.
pub fn wait_dead(pids: &[u32], limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
