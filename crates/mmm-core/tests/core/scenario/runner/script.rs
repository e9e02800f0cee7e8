//! The scenario language: each input line — set-up, monitor, hook, agent, Raft and trace
//! inputs, `show` — turned into events for the leader machine.

use super::*;

impl Runner {
    /// Runs one input line.
    pub fn run(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&cmd, args)) = words.split_first() else {
            return Ok(());
        };
        let (cmd, mon) = match cmd.split_once('@') {
            Some((c, m)) => (c, Some(m.parse::<usize>().map_err(|e| e.to_string())? - 1)),
            None => (cmd, None),
        };
        match cmd {
            "config" | "option" | "monitors" | "at" | "mode" | "host" | "unstarted" | "stored" => {
                self.setup(cmd, args)
            }
            "check" | "checks" | "network" | "fresh" => self.monitor_input(cmd, mon, args),
            "agent" => self.agent_input(args),
            "leader" | "quorum" | "transfer" | "peer" => self.raft_input(cmd, args),
            "trace" => self.trace_input(args),
            "hook" => self.hook_input(args),
            "tick" => {
                self.report()?;
                self.feed(Event::Tick)
            }
            "admin" => self.request(Request::Command(
                args.iter().map(|s| s.to_string()).collect(),
            )),
            "show" => self.show(),
            other => Err(format!("unknown input '{other}'")),
        }
    }

    pub(super) fn setup(&mut self, cmd: &str, args: &[&str]) -> Result<(), String> {
        match cmd {
            "config" => {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
                let text = std::fs::read_to_string(dir.join(args[0])).map_err(|e| e.to_string())?;
                let cfg = load_str(&text, args[0], Program::Monitor).map_err(|e| e.to_string())?;
                self.config = Some(cfg);
            }
            "option" => self.option(args)?,
            "monitors" => {
                let n: usize = args[0].parse().map_err(|_| "bad count")?;
                self.quorum = args[2].parse().map_err(|_| "bad quorum")?;
                self.monitors = (0..n).map(|_| Monitor::new()).collect();
            }
            "at" => {
                self.now = match args[0].strip_prefix('+') {
                    Some(s) => self
                        .now
                        .plus(Duration::from_secs_f64(s.parse().map_err(|_| "bad +secs")?)),
                    None => parse_time(&args.join(" ")).ok_or("bad time")?,
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
                self.state()?.mode = m;
            }
            "host" => self.host(args)?,
            "unstarted" => {
                self.state = None;
                self.dirty = true;
            }
            "stored" => {
                self.stored.push_str(&args.join(" "));
                self.stored.push('\n');
            }
            _ => unreachable!("setup input"),
        }
        Ok(())
    }

    pub(super) fn option(&mut self, args: &[&str]) -> Result<(), String> {
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
            "agent_lease" => m.agent_lease = d,
            "agent_timeout" => m.agent_timeout = d,
            other => return Err(format!("unknown option {other}")),
        }
        Ok(())
    }

    pub(super) fn host(&mut self, args: &[&str]) -> Result<(), String> {
        let st: HostState = args[1].parse().map_err(|e| format!("{e}"))?;
        let roles = parse_roles(&args[2..])?;
        let writer = self.cfg()?.active_master_role.clone();
        let w = roles
            .iter()
            .find(|r| Some(r.role.as_str()) == writer.as_deref())
            .cloned();
        let a = self.agent(args[0]);
        a.holds_writer = w.is_some();
        a.writer = w;
        let now = self.now;
        let h = self.state()?.host_mut(args[0]).ok_or("unknown host")?;
        h.state = st;
        h.roles = roles;
        h.roles.sort();
        h.last_state_change = now;
        h.online_since = (st == HostState::Online).then_some(now);
        Ok(())
    }

    pub(super) fn monitor_input(
        &mut self,
        cmd: &str,
        mon: Option<usize>,
        args: &[&str],
    ) -> Result<(), String> {
        let rest = |n: usize| args[n..].join(" ");
        match cmd {
            "check" => {
                let kind: CheckKind = args[1].parse().map_err(|e| format!("{e}"))?;
                self.observe(mon.unwrap_or(0), args[0], kind, &rest(2))?;
            }
            "checks" => {
                let hosts: Vec<String> = if args[0] == "all" {
                    self.cfg()?.hosts.iter().map(|h| h.name.clone()).collect()
                } else {
                    vec![args[0].to_string()]
                };
                let mons: Vec<usize> = match mon {
                    None => (0..self.monitors.len()).collect(),
                    Some(m) => vec![m],
                };
                for m in mons {
                    for h in &hosts {
                        for k in CheckKind::ALL {
                            self.observe(m, h, k, &rest(1))?;
                        }
                    }
                }
            }
            "network" => {
                let m = mon.unwrap_or(0);
                let ok = args[0] == "up";
                self.monitors
                    .get_mut(m)
                    .ok_or("no such monitor")?
                    .network_ok = ok;
                if m == 0 {
                    self.feed(Event::Network { ok })?;
                }
            }
            "fresh" => {
                for (i, m) in self.monitors.iter_mut().enumerate() {
                    if mon.is_none_or(|n| n == i) {
                        m.reporting = true;
                    }
                }
            }
            _ => unreachable!("monitor input"),
        }
        Ok(())
    }

    /// `hook exit N [output…]` or `hook hang` (killed at the timeout, no exit code).
    pub(super) fn hook_input(&mut self, args: &[&str]) -> Result<(), String> {
        self.hook = match args {
            ["exit", code, output @ ..] => HookOutcome {
                code: Some(code.parse().map_err(|_| "bad exit")?),
                output: output.join(" "),
            },
            ["hang"] => HookOutcome {
                code: None,
                output: "killed after 10s without exiting".into(),
            },
            _ => return Err("hook exit N [output] | hook hang".into()),
        };
        Ok(())
    }

    pub(super) fn agent_input(&mut self, args: &[&str]) -> Result<(), String> {
        let host = args.first().ok_or("agent needs a host")?.to_string();
        let what = args.get(1).copied().unwrap_or_default();
        let rest = args.get(2..).unwrap_or_default();
        let a = self.agent(&host);
        match what {
            "reachable" => a.reachable = true,
            "unreachable" => a.reachable = false,
            "confirm" => a.holds_writer = false,
            "sql" => a.sql_up = rest.first() == Some(&"ok"),
            "killhost" => {
                a.kill_exit = rest
                    .first()
                    .and_then(|s| s.parse().ok())
                    .ok_or("bad exit")?;
                return Ok(());
            }
            "uptime" => {
                let s: u64 = rest
                    .first()
                    .and_then(|s| s.parse().ok())
                    .ok_or("bad uptime")?;
                a.uptime = Some(Duration::from_secs(s));
            }
            "error" => {
                a.errors = match rest.join(" ").as_str() {
                    "none" => Vec::new(),
                    e => vec![e.to_string()],
                };
            }
            "says" => {
                a.says.state = Some(rest[0].parse().map_err(|e| format!("{e}"))?);
                a.says.roles = parse_roles(&rest[1..])?;
                return Ok(());
            }
            "system" => {
                a.system = parse_system(rest)?;
                return Ok(());
            }
            _ => return Err("bad agent fact".into()),
        }
        self.reanswer(&host)
    }

    pub(super) fn raft_input(&mut self, cmd: &str, args: &[&str]) -> Result<(), String> {
        match (cmd, args.first().copied()) {
            ("leader", Some("new")) => {
                self.leadership(false, None)?;
                self.term += 1;
                self.leadership(true, Some(ME))?;
                for m in &mut self.monitors {
                    m.reporting = false;
                }
            }
            ("leader", Some("lost")) => {
                let to = args.get(1).map(|n| self.node_id(n)).transpose()?;
                self.term += 1;
                self.leadership(false, to)?;
            }
            ("quorum", Some(q)) => self.feed(Event::QuorumFreshness {
                fresh: q == "fresh",
            })?,
            ("transfer", Some(name)) => {
                let to = self.node_id(name)?;
                self.request(Request::Transfer { to })?;
            }
            ("peer", Some("hold")) => self.request(Request::HoldElections)?,
            ("peer", Some("campaign")) => self.request(Request::Campaign)?,
            _ => return Err(format!("bad {cmd} input")),
        }
        Ok(())
    }

    pub(super) fn leadership(&mut self, leading: bool, leader: Option<u64>) -> Result<(), String> {
        let term = self.term;
        self.feed(Event::Leadership {
            leading,
            term,
            leader,
        })
    }

    pub(super) fn node_id(&self, name: &str) -> Result<u64, String> {
        self.cfg()?
            .monitor_nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.id)
            .ok_or_else(|| format!("unknown monitor {name}"))
    }

    pub(super) fn trace_input(&mut self, args: &[&str]) -> Result<(), String> {
        for a in args {
            match *a {
                "log" => self.trace.log = true,
                "calls" => self.trace.calls = true,
                "raft" => self.trace.raft = true,
                "off" => self.trace = Trace::default(),
                other => return Err(format!("unknown trace {other}")),
            }
        }
        Ok(())
    }

    pub(super) fn show(&mut self) -> Result<(), String> {
        let st = self.state()?.clone();
        self.dirty = false;
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
                "| writer released from {} at epoch {} (target {}, {})",
                r.host,
                r.epoch,
                r.target.as_deref().unwrap_or("-"),
                r.proof
                    .map_or_else(|| "not proven fenced".to_string(), |p| p.to_string())
            );
            if let Some(config) = &self.config {
                let held = mmm_core::render::writer_held(r, config);
                let _ = writeln!(self.out, "| # Warning: {held}");
            }
        }
        Ok(())
    }
}

fn parse_roles(words: &[&str]) -> Result<Vec<RoleIp>, String> {
    words
        .iter()
        .map(|r| match r.trim_end_matches(')').split_once('(') {
            Some((role, ip)) => Ok(RoleIp::new(role, ip.parse().map_err(|_| "bad ip")?)),
            None => Ok(RoleIp::bare(*r)),
        })
        .collect()
}

/// `writable|read_only [role(ip)…] [master IP]`.
fn parse_system(words: &[&str]) -> Result<mmm_core::leader::SystemView, String> {
    let writable = match words.first() {
        Some(&"writable") => true,
        Some(&"read_only") => false,
        _ => return Err("system: writable or read_only".into()),
    };
    let (roles, master) = match words.iter().position(|w| *w == "master") {
        Some(i) => (&words[1..i], words.get(i + 1)),
        None => (&words[1..], None),
    };
    Ok(mmm_core::leader::SystemView {
        writable,
        present: parse_roles(roles)?,
        master_ip: master
            .map(|m| m.parse())
            .transpose()
            .map_err(|_| "bad ip")?,
    })
}
