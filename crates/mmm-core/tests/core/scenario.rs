//! Golden scenario scripts: `tests/scenarios/*.scn`.
//!
//! A script is a list of input lines; the runner echoes each one and appends what it
//! produced: MMM log lines (`2012/08/23 17:03:10 FATAL …`), admin replies (`= …`) and state
//! dumps (`| …`). The transcript must equal the file. `MMM_BLESS=1` rewrites the files
//! (review the diff before committing). Inputs:
//!
//! * `config FILE` — MMM config text from `tests/scenarios/FILE`, loaded as the monitor
//!   loads it; `option KEY SECONDS` sets a monitor
//!   duration (auto_set_online, flap_duration, wait_for_other_master) or `flap_count N`.
//! * `monitors N quorum Q` — N monitors, each with its own trackers and table.
//! * `at YYYY/MM/DD HH:MM:SS` or `at +S` — the clock.
//! * `host H STATE [role(ip) …]` — initial state (before the run), `mode MODE` likewise.
//! * `check[@M] HOST CHECK RESULT…` — one raw result through monitor M's tracker (default 1);
//!   `checks[@M] HOST|all RESULT…` — the same result for all four checks.
//! * `network@M up|down` — a monitor's own network.
//! * `agent H reachable|unreachable|confirm|uptime SECONDS`.
//! * `leader new` (leader_since = now, not fresh, empty merged table), `fresh`.
//! * `tick` — merge, decide, apply. `admin WORDS…` — an mmm_control command. `show`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use mmm_core::admin::{AdminRequest, admin};
use mmm_core::checks::{CheckKind, CheckResult, CheckTable, MonitorTable, Tracker, merge};
use mmm_core::command::apply_all;
use mmm_core::config::{Config, Program, load_str};
use mmm_core::decide::{AgentFacts, Inputs, decide};
use mmm_core::log::{LocalDateTime, LogLine, format_mmm};
use mmm_core::state::{ClusterState, HostState, Mode, RoleIp};
use mmm_core::time::Timestamp;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn parse_time(s: &str) -> Option<Timestamp> {
    let (date, time) = s.split_once(' ')?;
    let d: Vec<i64> = date
        .split('/')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let days = days_from_civil(*d.first()?, *d.get(1)?, *d.get(2)?);
    let secs = days * 86_400 + t.first()? * 3600 + t.get(1)? * 60 + t.get(2)?;
    Some(Timestamp::from_secs(u64::try_from(secs).ok()?))
}

fn local(ts: Timestamp) -> LocalDateTime {
    let secs = i64::try_from(ts.as_secs()).unwrap_or(0);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    LocalDateTime {
        year: y as i32,
        month: m as u8,
        day: d as u8,
        hour: (r / 3600) as u8,
        minute: (r % 3600 / 60) as u8,
        second: (r % 60) as u8,
    }
}

struct Monitor {
    trackers: BTreeMap<(String, CheckKind), Tracker>,
    table: CheckTable,
    network_ok: bool,
}

struct Runner {
    config: Option<Config>,
    state: Option<ClusterState>,
    monitors: Vec<Monitor>,
    quorum: usize,
    now: Timestamp,
    merged: CheckTable,
    agents: BTreeMap<String, AgentFacts>,
    leader_since: Timestamp,
    fresh: bool,
    out: String,
}

fn is_output(line: &str) -> bool {
    line.starts_with("= ")
        || line == "="
        || line.starts_with("| ")
        || (line.len() > 4
            && line.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && line.as_bytes()[4] == b'/')
}

impl Runner {
    fn new() -> Self {
        Runner {
            config: None,
            state: None,
            monitors: vec![Monitor {
                trackers: BTreeMap::new(),
                table: CheckTable::new(),
                network_ok: true,
            }],
            quorum: 1,
            now: Timestamp::from_secs(0),
            merged: CheckTable::new(),
            agents: BTreeMap::new(),
            leader_since: Timestamp::from_secs(0),
            fresh: true,
            out: String::new(),
        }
    }

    fn cfg(&self) -> &Config {
        self.config.as_ref().expect("config first")
    }

    fn state(&mut self) -> &mut ClusterState {
        if self.state.is_none() {
            let mut st = ClusterState::new(self.cfg(), self.now);
            st.started = true;
            self.state = Some(st);
        }
        self.state.as_mut().expect("state")
    }

    fn log(&mut self, lines: &[LogLine]) {
        for l in lines {
            let _ = writeln!(self.out, "{}", format_mmm(local(self.now), l));
        }
    }

    fn facts(&mut self, host: &str) -> &mut AgentFacts {
        self.agents.entry(host.to_string()).or_insert(AgentFacts {
            reachable: true,
            uptime_ms: None,
            confirmed_not_writer_epoch: None,
            writer_ran_out_epoch: None,
        })
    }

    fn observe(&mut self, m: usize, host: &str, check: CheckKind, raw: &str) {
        let result = CheckResult::parse(raw);
        let trap = check.config(&self.cfg().checks).trap_period;
        let now = self.now;
        let mon = &mut self.monitors[m];
        let tr = mon.trackers.entry((host.to_string(), check)).or_default();
        let o = tr.observe(host, check, &result, mon.network_ok, trap, now);
        if let Some(ok) = o.report {
            mon.table.record(host, check, ok, &result.message, now);
        }
        self.log(&o.lines);
    }

    fn merge(&mut self) {
        let tables: Vec<MonitorTable> = self
            .monitors
            .iter()
            .enumerate()
            .map(|(i, m)| MonitorTable {
                monitor: format!("mon{}", i + 1),
                network_ok: m.network_ok,
                observed_at: self.now,
                table: m.table.clone(),
            })
            .collect();
        self.merged = merge(
            &tables,
            self.quorum,
            Duration::from_secs(30),
            &self.merged,
            self.now,
        );
    }

    fn inputs(&self) -> Inputs {
        let mut agents = self.agents.clone();
        for h in &self.cfg().hosts {
            agents.entry(h.name.clone()).or_insert(AgentFacts {
                reachable: true,
                uptime_ms: None,
                confirmed_not_writer_epoch: None,
                writer_ran_out_epoch: None,
            });
        }
        Inputs {
            checks: self.merged.clone(),
            agents,
            leader_since: self.leader_since,
            fresh: self.fresh,
        }
    }

    fn run(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&cmd, args)) = words.split_first() else {
            return Ok(());
        };
        let (cmd, mon) = match cmd.split_once('@') {
            Some((c, m)) => (c, m.parse::<usize>().map_err(|e| e.to_string())? - 1),
            None => (cmd, 0),
        };
        let rest = |n: usize| words[n..].join(" ");
        match cmd {
            "config" => {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
                let text = std::fs::read_to_string(dir.join(args[0])).map_err(|e| e.to_string())?;
                let cfg = load_str(&text, args[0], Program::Monitor).map_err(|e| e.to_string())?;
                self.config = Some(cfg);
            }
            "option" => {
                let m = self
                    .config
                    .as_mut()
                    .and_then(|c| c.monitor.as_mut())
                    .ok_or("no monitor")?;
                let v: f64 = args[1].parse().map_err(|_| "bad number")?;
                let d = Duration::from_secs_f64(v);
                match args[0] {
                    "auto_set_online" => m.auto_set_online = d,
                    "flap_duration" => m.flap_duration = d,
                    "flap_count" => m.flap_count = v as u32,
                    "wait_for_other_master" => m.wait_for_other_master = d,
                    other => return Err(format!("unknown option {other}")),
                }
            }
            "monitors" => {
                let n: usize = args[0].parse().map_err(|_| "bad count")?;
                self.quorum = args[2].parse().map_err(|_| "bad quorum")?;
                self.monitors = (0..n)
                    .map(|_| Monitor {
                        trackers: BTreeMap::new(),
                        table: CheckTable::new(),
                        network_ok: true,
                    })
                    .collect();
            }
            "at" => {
                self.now = match args[0].strip_prefix('+') {
                    Some(s) => self
                        .now
                        .plus(Duration::from_secs(s.parse().map_err(|_| "bad +secs")?)),
                    None => parse_time(&rest(1)).ok_or("bad time")?,
                };
            }
            "mode" => {
                let m = match args[0] {
                    "ACTIVE" => Mode::Active,
                    "MANUAL" => Mode::Manual,
                    "WAIT" => Mode::Wait,
                    "PASSIVE" => Mode::Passive,
                    _ => return Err("bad mode".into()),
                };
                self.state().mode = m;
            }
            "host" => {
                let st: HostState = args[1].parse().map_err(|e| format!("{e}"))?;
                let roles: Vec<RoleIp> = args[2..]
                    .iter()
                    .map(|r| {
                        let (role, ip) =
                            r.trim_end_matches(')').split_once('(').ok_or("bad role")?;
                        Ok(RoleIp::new(role, ip.parse().map_err(|_| "bad ip")?))
                    })
                    .collect::<Result<_, String>>()?;
                let now = self.now;
                let h = self.state().host_mut(args[0]).ok_or("unknown host")?;
                h.state = st;
                h.roles = roles;
                h.roles.sort();
                h.last_state_change = now;
                h.online_since = (st == HostState::Online).then_some(now);
            }
            "check" => {
                let kind: CheckKind = args[1].parse().map_err(|e| format!("{e}"))?;
                self.observe(mon, args[0], kind, &rest(3));
            }
            "checks" => {
                let hosts: Vec<String> = if args[0] == "all" {
                    self.cfg().hosts.iter().map(|h| h.name.clone()).collect()
                } else {
                    vec![args[0].to_string()]
                };
                let mons: Vec<usize> = if cmd == words[0] {
                    (0..self.monitors.len()).collect()
                } else {
                    vec![mon]
                };
                for m in mons {
                    for h in &hosts {
                        for k in CheckKind::ALL {
                            self.observe(m, h, k, &rest(2));
                        }
                    }
                }
            }
            "network" => self.monitors[mon].network_ok = args[0] == "up",
            "agent" => {
                let epoch = self.state().epoch;
                let f = self.facts(args[0]);
                match args[1] {
                    "reachable" => f.reachable = true,
                    "unreachable" => f.reachable = false,
                    "confirm" => f.confirmed_not_writer_epoch = Some(epoch),
                    "uptime" => {
                        f.uptime_ms = Some(args[2].parse::<u64>().map_err(|_| "bad uptime")? * 1000)
                    }
                    _ => return Err("bad agent fact".into()),
                }
            }
            "leader" => {
                self.leader_since = self.now;
                self.fresh = false;
                self.merged = CheckTable::new();
            }
            "fresh" => self.fresh = true,
            "tick" => {
                self.merge();
                let inputs = self.inputs();
                let now = self.now;
                let cfg = self.cfg().clone();
                let st = self.state().clone();
                let cmds = decide(&st, &inputs, now, &cfg);
                let applied =
                    apply_all(self.state(), &cmds, &cfg).map_err(|e| format!("rejected: {e}"))?;
                for a in applied {
                    self.log(&a.lines);
                }
            }
            "admin" => {
                self.merge();
                let req_words: Vec<String> = args.iter().map(|s| s.to_string()).collect();
                let reply = match AdminRequest::parse(&req_words) {
                    Err(r) => r,
                    Ok(req) => {
                        let target = match &req {
                            AdminRequest::SetOnline(h) | AdminRequest::SetOffline(h) => {
                                Some(h.clone())
                            }
                            AdminRequest::MoveRole { host, .. } => Some(host.clone()),
                            _ => None,
                        };
                        let reachable =
                            target.is_none_or(|h| self.agents.get(&h).is_none_or(|f| f.reachable));
                        let cfg = self.cfg().clone();
                        let st = self.state().clone();
                        let (cmds, reply) =
                            admin(&st, &self.merged, &req, reachable, self.now, &cfg);
                        let applied = apply_all(self.state(), &cmds, &cfg)
                            .map_err(|e| format!("rejected: {e}"))?;
                        for a in applied {
                            self.log(&a.lines);
                        }
                        reply
                    }
                };
                for l in reply.text.trim_end().lines() {
                    let _ = writeln!(self.out, "{}", format!("= {l}").trim_end());
                }
            }
            "show" => {
                let st = self.state().clone();
                let _ = writeln!(self.out, "| mode {} epoch {}", st.mode, st.epoch);
                for h in &st.hosts {
                    let roles: Vec<String> = h.roles.iter().map(ToString::to_string).collect();
                    let flags = format!(
                        "{}{}",
                        if h.flapping { " flapping" } else { "" },
                        if h.agent_down { " agent_down" } else { "" }
                    );
                    let _ = writeln!(
                        self.out,
                        "| {} {}{} [{}]",
                        h.name,
                        h.state,
                        flags,
                        roles.join(", ")
                    );
                }
                if let Some(r) = &st.writer_release {
                    let _ = writeln!(
                        self.out,
                        "| writer released from {} at epoch {} (target {})",
                        r.host,
                        r.epoch,
                        r.target.as_deref().unwrap_or("-")
                    );
                }
            }
            other => return Err(format!("unknown input '{other}'")),
        }
        Ok(())
    }
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
