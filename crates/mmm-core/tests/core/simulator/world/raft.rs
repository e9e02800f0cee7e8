//! The simulated Raft: elections, deposals, and committing what the leader proposes.

use super::*;

impl World {
    /// Monitor `m` wins an election now (a new term).
    pub(super) fn elect(&mut self, m: usize) {
        self.raft.term += 1;
        self.raft.leader = Some(m);
        let term = self.raft.term;
        self.note(format!("mon{} leads in term {term}", m + 1));
        for i in 0..self.monitors.len() {
            let leading = i == m;
            if leading {
                self.monitors[i].reported.clear();
            }
            let replica = self.replica();
            self.feed(i, Event::Applied(replica));
            self.feed(
                i,
                Event::Leadership {
                    leading,
                    term,
                    leader: Some(m as u64 + 1),
                },
            );
            self.feed(i, Event::QuorumFreshness { fresh: leading });
        }
    }

    /// The leader loses its quorum: it hears of it within the freshness window and of the
    /// new term a little later; a successor is elected after an election timeout.
    pub fn depose(&mut self) {
        let Some(old) = self.raft.leader.take() else {
            return;
        };
        self.stats.leader_changes += 1;
        let quorum_ms = u64::try_from(self.timing.quorum_age.as_millis()).unwrap_or(600);
        let stale = self
            .now
            .plus(Duration::from_millis(self.rng.below(quorum_ms + 1)));
        let learns = stale.plus(Duration::from_millis(self.rng.below(2000)));
        let next = self.rng.below(self.monitors.len() as u64) as usize;
        let elected = self
            .now
            .plus(Duration::from_millis(300 + self.rng.below(301)));
        let term = self.raft.term + 1;
        self.note(format!(
            "mon{} deposed; mon{} will lead term {term}",
            old + 1,
            next + 1
        ));
        let later = &mut self.raft.later;
        later.push((
            stale,
            old,
            Later::Event(Box::new(Event::QuorumFreshness { fresh: false })),
        ));
        if old != next {
            later.push((
                learns.max(elected),
                old,
                Later::Event(Box::new(Event::Leadership {
                    leading: false,
                    term,
                    leader: Some(next as u64 + 1),
                })),
            ));
        }
        later.push((elected, next, Later::Elected(term)));
    }

    pub(super) fn raft_step(&mut self) -> Result<(), String> {
        let now = self.now;
        let mut later = std::mem::take(&mut self.raft.later);
        later.sort_by_key(|(at, _, _)| *at);
        let (ready, keep): (Vec<_>, Vec<_>) = later.into_iter().partition(|(at, _, _)| *at <= now);
        self.raft.later = keep;
        for (_, m, what) in ready {
            match what {
                Later::Event(ev) => self.feed(m, *ev),
                Later::Elected(term) => {
                    if self.raft.leader.is_none() && self.raft.term + 1 == term {
                        self.elect(m);
                    }
                }
            }
        }
        let pending = std::mem::take(&mut self.raft.pending);
        let (ready, keep): (Vec<_>, Vec<_>) = pending.into_iter().partition(|p| p.at <= now);
        self.raft.pending = keep;
        for p in ready {
            self.commit(p)?;
        }
        Ok(())
    }

    pub(super) fn commit(&mut self, p: Proposal) -> Result<(), String> {
        let leads = self.raft.leader == Some(p.from) && self.raft.term == p.term;
        if !leads {
            self.note(format!("mon{} proposal not committed", p.from + 1));
            self.feed(
                p.from,
                Event::ProposalFailed {
                    proposal: p.id,
                    error: "not the leader".into(),
                },
            );
            return Ok(());
        }
        let before = self.raft.state.clone();
        let mut checker = std::mem::take(&mut self.checker);
        let checked = checker.before_commit(self, p.from, &p.commands);
        self.checker = checker;
        checked.map_err(|e| format!("{e}\n(commands {:?})", p.commands))?;
        let config = self.config.clone();
        let at = p.commands.first().map_or(self.now, |c| c.at);
        let state = self
            .raft
            .state
            .get_or_insert_with(|| ClusterState::new(&config, at));
        let outcome = apply_proposal(state, &p.commands, &config);
        self.raft.index += 1;
        self.checker.after_commit(
            before.as_ref(),
            self.raft.state.as_ref(),
            &p.commands,
            &outcome,
            &config,
        )?;
        for c in &p.commands {
            let lines: Vec<&str> = c.lines.iter().map(|l| l.text.as_str()).collect();
            self.note(format!("commit {:?}: {}", c.change, lines.join(" / ")));
        }
        let replica = self.replica();
        for m in 0..self.monitors.len() {
            if m == p.from {
                let ev = Event::Committed {
                    proposal: p.id,
                    outcome: outcome.clone(),
                    replica: replica.clone(),
                };
                self.feed(m, ev);
            } else {
                self.feed(m, Event::Applied(replica.clone()));
            }
        }
        Ok(())
    }
}
