//! The post-change hook: for every committed epoch after it was configured, the leader runs
//! the operator's `post_change_hook` once with the epoch's history lines and the roles as they
//! are now. `decide` records the start of each run in the replicated state before the leader
//! runs it ([`crate::command::PostChangeStep::Begin`], stamped with this leader's term) and its
//! end after, so no epoch's hook is started twice: a leader that finds a run begun in another
//! term finishes it as not known to have run instead of running it again.

use crate::config::Config;
use crate::state::ClusterState;

use super::Out;
use super::io::{CallId, Effect, HookOutcome};

/// This leadership's run of the hook (one epoch at a time).
#[derive(Debug, Clone, Default)]
pub(crate) struct PostChange {
    in_flight: Option<(CallId, u64)>,
    ran: Option<(u64, String)>,
}

impl PostChange {
    /// Runs the hook for the epoch the replicated state says this leader (of `term`) began,
    /// unless it already ran it.
    pub(crate) fn tick(&mut self, state: &ClusterState, term: u64, config: &Config, out: &mut Out) {
        let Some((epoch, began_in)) = state.post_change.and_then(|c| c.started) else {
            return;
        };
        let done = self.ran.as_ref().is_some_and(|(e, _)| *e == epoch);
        let running = self.in_flight.is_some_and(|(_, e)| e == epoch);
        if began_in != term || done || running {
            return;
        }
        if config
            .monitor
            .as_ref()
            .is_none_or(|m| m.post_change_hook.is_none())
        {
            return;
        }
        let id = out.call_id();
        self.in_flight = Some((id, epoch));
        out.effect(Effect::RunPostChangeHook {
            id,
            epoch,
            changes: lines_of(state, epoch),
            roles: roles_now(state),
            writer: state.active_master(config).unwrap_or_default().to_string(),
        });
    }

    /// A run finished: `decide` records its end next.
    pub(crate) fn answered(&mut self, call: CallId, outcome: &HookOutcome) {
        let Some((_, epoch)) = self.in_flight.take_if(|(id, _)| *id == call) else {
            return;
        };
        let how = outcome.code.map_or_else(
            || format!("no exit code: {}", outcome.output.trim()),
            |c| format!("exit {c}"),
        );
        self.ran = Some((epoch, how));
    }

    /// The epoch whose run this leadership saw end, and how.
    pub(crate) fn ran(&self) -> Option<(u64, String)> {
        self.ran.clone()
    }
}

/// The history lines of `epoch`, one per line.
fn lines_of(state: &ClusterState, epoch: u64) -> String {
    let lines: Vec<&str> = state
        .history
        .iter()
        .filter(|h| h.epoch == epoch)
        .map(|h| h.line.as_str())
        .collect();
    lines.join("\n")
}

/// Every host's state and roles now: `db1=ONLINE:writer(10.0.0.100),reader(10.0.0.101) db2=…`.
fn roles_now(state: &ClusterState) -> String {
    let hosts: Vec<String> = state
        .hosts
        .iter()
        .map(|h| {
            let roles: Vec<String> = h.roles.iter().map(ToString::to_string).collect();
            format!("{}={}:{}", h.name, h.state, roles.join(","))
        })
        .collect();
    hosts.join(" ")
}

#[cfg(test)]
mod tests {
    use crate::command::{Change, PostChangeStep, apply};
    use crate::decide::{Inputs, decide};
    use crate::state::{ClusterState, PostChangeCursor};
    use crate::time::Timestamp;

    fn steps(
        state: &ClusterState,
        inputs: &Inputs,
        config: &crate::config::Config,
    ) -> Vec<PostChangeStep> {
        let now = Timestamp::from_secs(100);
        decide(state, inputs, now, config)
            .expect("decides")
            .into_iter()
            .filter_map(|c| match c.change {
                Change::PostChange(step) => Some(step),
                _ => None,
            })
            .collect()
    }

    fn setup(cursor: Option<PostChangeCursor>) -> (crate::config::Config, ClusterState) {
        let mut config = crate::testing::config(&[]);
        if let Some(m) = config.monitor.as_mut() {
            m.post_change_hook = Some("/usr/lib/mmm/post-change".into());
        }
        let mut state = ClusterState::new(&config, Timestamp::from_secs(0));
        state.started = true;
        state.epoch = 4;
        state.post_change = cursor;
        (config, state)
    }

    fn command(at: Timestamp, change: Change) -> crate::command::Command {
        crate::command::Command {
            at,
            change,
            lines: Vec::new(),
        }
    }

    fn inputs(term: u64, ran: Option<(u64, &str)>) -> Inputs {
        Inputs {
            fresh: true,
            term,
            post_change_ran: ran.map(|(e, how)| (e, how.to_string())),
            ..Inputs::default()
        }
    }

    #[test]
    fn a_new_hook_starts_after_the_current_epoch_and_then_begins_the_next_one() {
        let (config, state) = setup(None);
        assert_eq!(
            steps(&state, &inputs(1, None), &config),
            [PostChangeStep::Skip { to: 4 }]
        );
        let (config, state) = setup(Some(PostChangeCursor {
            finished: 2,
            started: None,
        }));
        assert_eq!(
            steps(&state, &inputs(1, None), &config),
            [PostChangeStep::Begin { epoch: 3, term: 1 }]
        );
        let (config, state) = setup(Some(PostChangeCursor {
            finished: 4,
            started: None,
        }));
        assert!(
            steps(&state, &inputs(1, None), &config).is_empty(),
            "nothing new"
        );
    }

    #[test]
    fn a_run_is_finished_by_the_leader_that_saw_it_end_or_as_not_run_by_a_successor() {
        let begun = Some(PostChangeCursor {
            finished: 3,
            started: Some((4, 1)),
        });
        let (config, state) = setup(begun);
        assert!(
            steps(&state, &inputs(1, None), &config).is_empty(),
            "still running"
        );
        assert_eq!(
            steps(&state, &inputs(1, Some((4, "exit 0"))), &config),
            [PostChangeStep::Finish {
                epoch: 4,
                ran: true,
                how: "exit 0".into()
            }]
        );
        assert_eq!(
            steps(&state, &inputs(2, None), &config),
            [PostChangeStep::Finish {
                epoch: 4,
                ran: false,
                how: String::new()
            }],
            "a successor never runs it again"
        );
    }

    #[test]
    fn without_the_hook_the_cursor_is_forgotten() {
        let (mut config, state) = setup(Some(PostChangeCursor {
            finished: 2,
            started: None,
        }));
        if let Some(m) = config.monitor.as_mut() {
            m.post_change_hook = None;
        }
        assert_eq!(
            steps(&state, &inputs(1, None), &config),
            [PostChangeStep::Reset]
        );
        let (mut config, state) = setup(None);
        if let Some(m) = config.monitor.as_mut() {
            m.post_change_hook = None;
        }
        assert!(steps(&state, &inputs(1, None), &config).is_empty());
    }

    #[test]
    fn steps_out_of_order_are_refused() {
        let (config, mut state) = setup(Some(PostChangeCursor {
            finished: 3,
            started: Some((4, 1)),
        }));
        let at = Timestamp::from_secs(100);
        for step in [
            PostChangeStep::Begin { epoch: 4, term: 2 },
            PostChangeStep::Skip { to: 4 },
            PostChangeStep::Finish {
                epoch: 3,
                ran: true,
                how: String::new(),
            },
        ] {
            let cmd = command(at, Change::PostChange(step.clone()));
            assert!(apply(&mut state, &cmd, &config).is_err(), "{step:?}");
        }
        let (config, mut state) = setup(Some(PostChangeCursor {
            finished: 4,
            started: None,
        }));
        let beyond = Change::PostChange(PostChangeStep::Begin { epoch: 5, term: 1 });
        let cmd = command(at, beyond);
        assert!(apply(&mut state, &cmd, &config).is_err(), "no epoch 5 yet");
    }
}
