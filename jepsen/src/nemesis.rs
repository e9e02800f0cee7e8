//! Applying a schedule step's fault to the running cluster and undoing it. Every fault acts
//! only inside the lab: on its daemons and servers by pid, on its bridge's nftables rules and on
//! its hosts' links.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use mmm_lab::Netem;
use mmm_lab::cluster::Cluster;

use crate::schedule::{Direction, Nemesis, Signal};

/// The current holders a fault is aimed at, resolved when the step starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The host writing now.
    pub writer: String,
    /// The other master (where `move_role` sends the writer).
    pub other_master: String,
    /// The Raft leader now, if any.
    pub leader: Option<String>,
}

/// How to undo an applied fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Start these daemons again (they were killed or stopped).
    Start(Vec<String>),
    /// SIGCONT this daemon.
    Resume(String),
    /// Heal these two-way cuts.
    Heal(Vec<(String, String)>),
    /// Heal these one-way cuts (from, to).
    HealOneWay(Vec<(String, String)>),
    /// Remove delay and loss from this host.
    ClearNetem(String),
    /// Start this host's mysqld again.
    StartMysqld(String),
    /// SIGCONT this host's mysqld.
    ResumeMysqld(String),
}

/// Applies `n` aimed at `t`; returns what was done (for the history) and how to undo it.
pub fn apply(c: &mut Cluster, n: &Nemesis, t: &Targets) -> Result<(String, Undo)> {
    match n {
        Nemesis::LeaderMonitor { signal } => {
            let leader = t
                .leader
                .clone()
                .ok_or_else(|| anyhow!("no leader to hit"))?;
            let undo = signal_daemon(c, &leader, *signal)?;
            Ok((format!("{signal:?} leader monitor {leader}"), undo))
        }
        Nemesis::MonitorMinority { leader } => {
            let monitors = c.monitor_names();
            let cut = match (leader, &t.leader) {
                (true, Some(l)) => l.clone(),
                _ => monitors
                    .iter()
                    .find(|m| Some(*m) != t.leader.as_ref())
                    .cloned()
                    .ok_or_else(|| anyhow!("no monitor to cut"))?,
            };
            let pairs: Vec<(String, String)> = monitors
                .iter()
                .filter(|m| **m != cut)
                .map(|m| (cut.clone(), m.clone()))
                .collect();
            cut_pairs(c, &pairs)?;
            Ok((
                format!("{cut} cut from the other monitors"),
                Undo::Heal(pairs),
            ))
        }
        Nemesis::MonitorMajority => {
            let mut victims: Vec<String> = t.leader.iter().cloned().collect();
            for m in c.monitor_names() {
                if victims.len() < 2 && !victims.contains(&m) {
                    victims.push(m);
                }
            }
            for v in &victims {
                c.kill9(v).with_context(|| format!("kill -9 {v}"))?;
            }
            Ok((
                format!("kill -9 monitors {}", victims.join(", ")),
                Undo::Start(victims),
            ))
        }
        Nemesis::WriterIsolated => {
            let pairs: Vec<(String, String)> = c
                .monitor_names()
                .into_iter()
                .map(|m| (t.writer.clone(), m))
                .collect();
            cut_pairs(c, &pairs)?;
            Ok((
                format!("{} cut from every monitor", t.writer),
                Undo::Heal(pairs),
            ))
        }
        Nemesis::WriterAgent { signal, move_role } => {
            let undo = signal_daemon(c, &t.writer, *signal)?;
            let mut detail = format!("{signal:?} agent of {}", t.writer);
            if *move_role {
                let (ok, reply) = c.mmmctl_text(&["move_role", "writer", &t.other_master]);
                detail.push_str(&format!(
                    "; mmmctl move_role writer {} -> {}: {}",
                    t.other_master,
                    if ok { "exit 0" } else { "failed" },
                    reply.trim()
                ));
            }
            Ok((detail, undo))
        }
        Nemesis::WriterMysqld { signal } => {
            let db = c.topology_mut().db_mut(&t.writer)?;
            let undo = match signal {
                Signal::Stop => {
                    db.sigstop()?;
                    Undo::ResumeMysqld(t.writer.clone())
                }
                Signal::Kill | Signal::Term => {
                    db.kill9()?;
                    Undo::StartMysqld(t.writer.clone())
                }
            };
            Ok((format!("{signal:?} mysqld of {}", t.writer), undo))
        }
        Nemesis::OneWay { direction } => {
            let pairs: Vec<(String, String)> = c
                .monitor_names()
                .into_iter()
                .map(|m| match direction {
                    Direction::WriterToMonitors => (t.writer.clone(), m),
                    Direction::MonitorsToWriter => (m, t.writer.clone()),
                })
                .collect();
            for (from, to) in &pairs {
                c.lab().cut_one_way(&host(c, from)?, &host(c, to)?)?;
            }
            Ok((format!("one-way cuts {pairs:?}"), Undo::HealOneWay(pairs)))
        }
        Nemesis::Flaky(f) => {
            let target = if f.on_writer {
                t.writer.clone()
            } else {
                t.leader
                    .clone()
                    .ok_or_else(|| anyhow!("no leader to degrade"))?
            };
            let netem = Netem {
                delay: Duration::from_millis(u64::from(f.delay_ms)),
                jitter: Duration::from_millis(u64::from(f.jitter_ms)),
                reorder_pct: f.reorder_pct,
                loss_pct: f.loss_pct,
            };
            c.lab().shape(&host(c, &target)?, &netem)?;
            Ok((
                format!("{target} sends through {netem:?}"),
                Undo::ClearNetem(target),
            ))
        }
    }
}

/// Undoes a fault; returns what was done.
pub fn heal(c: &mut Cluster, undo: &Undo) -> Result<String> {
    match undo {
        Undo::Start(names) => {
            for n in names {
                if !c.is_running(n)? {
                    c.start(n).with_context(|| format!("starting {n}"))?;
                }
            }
            Ok(format!("started {}", names.join(", ")))
        }
        Undo::Resume(name) => {
            c.resume(name)?;
            Ok(format!("SIGCONT {name}"))
        }
        Undo::Heal(pairs) => {
            for (a, b) in pairs {
                c.lab().heal(&host(c, a)?, &host(c, b)?)?;
            }
            Ok(format!("healed {pairs:?}"))
        }
        Undo::HealOneWay(pairs) => {
            for (a, b) in pairs {
                c.lab().heal_one_way(&host(c, a)?, &host(c, b)?)?;
            }
            Ok(format!("healed one-way {pairs:?}"))
        }
        Undo::ClearNetem(name) => {
            c.lab().clear_netem(&host(c, name)?)?;
            Ok(format!("cleared delay and loss on {name}"))
        }
        Undo::StartMysqld(name) => {
            let db = c.topology_mut().db_mut(name)?;
            runtime()?.block_on(db.start_again())?;
            Ok(format!("started mysqld of {name}"))
        }
        Undo::ResumeMysqld(name) => {
            c.topology_mut().db_mut(name)?.sigcont()?;
            Ok(format!("SIGCONT mysqld of {name}"))
        }
    }
}

/// Heals everything the lab knows how to heal at once (after a failed step, and at the end).
pub fn heal_links(c: &Cluster) -> Result<()> {
    c.lab().heal_all()?;
    for h in c.lab().hosts() {
        c.lab().clear_netem(&h)?;
    }
    Ok(())
}

fn signal_daemon(c: &mut Cluster, name: &str, signal: Signal) -> Result<Undo> {
    match signal {
        Signal::Kill => {
            c.kill9(name)?;
            Ok(Undo::Start(vec![name.to_owned()]))
        }
        Signal::Term => {
            c.stop(name)?;
            Ok(Undo::Start(vec![name.to_owned()]))
        }
        Signal::Stop => {
            c.freeze(name)?;
            Ok(Undo::Resume(name.to_owned()))
        }
    }
}

fn cut_pairs(c: &Cluster, pairs: &[(String, String)]) -> Result<()> {
    for (a, b) in pairs {
        c.lab().cut(&host(c, a)?, &host(c, b)?)?;
    }
    Ok(())
}

fn host(c: &Cluster, name: &str) -> Result<mmm_lab::Host> {
    c.host(name).ok_or_else(|| anyhow!("no lab host {name}"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building a runtime")
}
