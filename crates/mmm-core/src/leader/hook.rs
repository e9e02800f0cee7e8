//! The pre-failover hook: when the writer's host failed and is proven fenced, the leader runs
//! the operator's `pre_failover_hook` once before the role goes to another host. Exit 0 lets
//! the failover go on, any other exit vetoes it; a hook that does not finish (or cannot run)
//! gets `pre_failover_default`. The verdict becomes a fact that `decide` records in the
//! replicated state ([`crate::command::Change::RecordHookVerdict`]), so it is made once per
//! release: a later leader finds it recorded and never runs the hook for that release again.

use crate::config::{Config, HookDefault};
use crate::decide::hook_due;
use crate::log::LogLine;
use crate::state::{HookVerdict, WriterRelease};

use super::Out;
use super::io::{CallId, Effect, HookOutcome};

/// Most bytes of a hook's output kept in the verdict (and so in the replicated state).
const OUTPUT_LIMIT: usize = 300;

/// This leadership's run of the hook (one release at a time).
#[derive(Debug, Clone, Default)]
pub(crate) struct PreFailover {
    in_flight: Option<(CallId, u64)>,
    verdict: Option<(u64, HookVerdict)>,
}

impl PreFailover {
    /// Starts the hook for `rel` when it is due and not already run for that release.
    pub(crate) fn tick(&mut self, rel: Option<&WriterRelease>, config: &Config, out: &mut Out) {
        let Some(rel) = rel.filter(|r| hook_due(r, config)) else {
            return;
        };
        let done = self.verdict.as_ref().is_some_and(|(e, _)| *e == rel.epoch);
        if self.in_flight.is_some() || done {
            return;
        }
        let Some(bin) = config
            .monitor
            .as_ref()
            .and_then(|m| m.pre_failover_hook.as_ref())
        else {
            return;
        };
        let role = rel.role(config);
        let id = out.call_id();
        self.in_flight = Some((id, rel.epoch));
        out.log(LogLine::info(format!(
            "Running pre-failover hook '{} {} {}' before role '{role}' leaves host '{}'",
            bin.display(),
            rel.host,
            rel.epoch,
            rel.host
        )));
        out.effect(Effect::RunPreFailoverHook {
            id,
            host: rel.host.clone(),
            role: role.to_string(),
            epoch: rel.epoch,
            target: rel.target.clone().unwrap_or_default(),
        });
    }

    /// A run finished: its verdict waits for `decide` to record it.
    pub(crate) fn answered(&mut self, call: CallId, outcome: &HookOutcome, config: &Config) {
        let Some((_, epoch)) = self.in_flight.take_if(|(id, _)| *id == call) else {
            return;
        };
        let default = config
            .monitor
            .as_ref()
            .map_or(HookDefault::Proceed, |m| m.pre_failover_default);
        self.verdict = Some((epoch, verdict_of(outcome, default)));
    }

    /// The verdict of the latest finished run and the release epoch it is for.
    pub(crate) fn verdict(&self) -> Option<(u64, HookVerdict)> {
        self.verdict.clone()
    }
}

/// Exit 0 allows, another exit vetoes, no exit at all takes `default`.
fn verdict_of(outcome: &HookOutcome, default: HookDefault) -> HookVerdict {
    let output = clip(outcome.output.trim());
    match outcome.code {
        Some(code) => HookVerdict {
            allowed: code == 0,
            how: format!("exit {code}"),
            output,
        },
        None => {
            let word = match default {
                HookDefault::Proceed => "proceed",
                HookDefault::Abort => "abort",
            };
            HookVerdict {
                allowed: default == HookDefault::Proceed,
                how: format!("no exit code; pre_failover_default {word}"),
                output,
            }
        }
    }
}

/// `text` cut to [`OUTPUT_LIMIT`] bytes at a character boundary.
fn clip(text: &str) -> String {
    if text.len() <= OUTPUT_LIMIT {
        return text.to_string();
    }
    let mut end = OUTPUT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: Option<i32>, output: &str) -> HookOutcome {
        HookOutcome {
            code,
            output: output.to_string(),
        }
    }

    #[test]
    fn exit_zero_allows_other_exits_veto_and_no_exit_takes_the_default() {
        let ok = verdict_of(&outcome(Some(0), " fine\n"), HookDefault::Abort);
        assert!(ok.allowed);
        assert_eq!((ok.how.as_str(), ok.output.as_str()), ("exit 0", "fine"));
        let veto = verdict_of(&outcome(Some(3), "no"), HookDefault::Proceed);
        assert!(!veto.allowed);
        assert_eq!(veto.how, "exit 3");
        let hung = outcome(None, "killed after 10s without exiting");
        assert!(verdict_of(&hung, HookDefault::Proceed).allowed);
        let aborted = verdict_of(&hung, HookDefault::Abort);
        assert!(!aborted.allowed);
        assert_eq!(aborted.how, "no exit code; pre_failover_default abort");
    }

    #[test]
    fn long_output_is_clipped_at_a_character_boundary() {
        let text = "é".repeat(OUTPUT_LIMIT);
        let v = verdict_of(&outcome(Some(1), &text), HookDefault::Proceed);
        assert!(v.output.len() <= OUTPUT_LIMIT + '…'.len_utf8());
        assert!(v.output.ends_with('…'));
    }
}
