//! What the leader does with answers: a proposal committed or failed, an agent's reply to a
//! status push.

use crate::admin::Reply;
use crate::command::Outcome;
use crate::log::LogLine;

use super::startup::{Ctx, Startup};
use super::{AgentAnswer, Answer, CallFailure, CallId, Leader, Now, Origin, Out, Replica, current};

impl Leader {
    pub(super) fn committed(
        &mut self,
        proposal: CallId,
        outcome: &Outcome,
        replica: Replica,
        now: Now,
        out: &mut Out,
    ) {
        self.applied(replica, out);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        let Some((_, origin)) = term.proposal.take_if(|(id, _)| *id == proposal) else {
            return;
        };
        // The slot is free and the state moved on: the next decision may be due now.
        self.round_due = true;
        match (origin, &outcome.rejected) {
            (Origin::Decide, None) => {}
            (Origin::Decide, Some(why)) => {
                out.log(LogLine::warn(format!("Proposal refused by apply: {why}")));
            }
            (Origin::Admin { request, reply }, None) => out.reply(request, Answer::Reply(reply)),
            (Origin::Admin { request, .. }, Some(why)) => out.reply(
                request,
                Answer::Reply(Reply::err(format!(
                    "ERROR: The cluster state changed meanwhile ({why}). Please try again."
                ))),
            ),
            (Origin::Vote, Some(why)) => {
                term.startup = None;
                out.log(LogLine::warn(format!(
                    "Startup vote refused by apply: {why}"
                )));
            }
            (Origin::Vote, None) => self.begin_cleanup(now, out),
        }
        self.try_admin(now, out);
        self.push(now, out);
    }

    fn begin_cleanup(&mut self, now: Now, out: &mut Out) {
        let stamp = self.stamp();
        let state = current(&self.replica, &self.config, now);
        let Some(term) = self.term.as_mut() else {
            return;
        };
        let Some(Startup::Voting { skip }) = term.startup.take() else {
            return;
        };
        let mut ctx = Ctx {
            state: &state,
            config: &self.config,
            hosts: &mut term.hosts,
            stamp,
            now,
        };
        term.startup = Startup::committed(&skip, &mut ctx, out);
    }

    pub(super) fn proposal_failed(&mut self, proposal: CallId, error: &str, out: &mut Out) {
        let Some(term) = self.term.as_mut() else {
            return;
        };
        let Some((_, origin)) = term.proposal.take_if(|(id, _)| *id == proposal) else {
            return;
        };
        match origin {
            Origin::Decide => out.log(LogLine::warn(format!("Proposal not committed: {error}"))),
            Origin::Admin { request, .. } => out.reply(
                request,
                Answer::Unavailable(format!("no quorum: the change was not committed: {error}")),
            ),
            Origin::Vote => {
                term.startup = None;
                out.log(LogLine::warn(format!(
                    "Startup proposal not committed: {error}"
                )));
            }
        }
    }

    pub(super) fn agent_answered(
        &mut self,
        call: CallId,
        host: &str,
        result: &Result<AgentAnswer, CallFailure>,
        now: Now,
        out: &mut Out,
    ) {
        let stamp = self.stamp();
        let state = current(&self.replica, &self.config, now);
        let writer_role = self.config.active_master_role.as_deref();
        let Some(term) = self.term.as_mut() else {
            return;
        };
        if term.requests.pinged(call, result.is_ok()) {
            self.try_admin(now, out);
            return;
        }
        let ctx = (now, &self.timing, writer_role);
        let pushed = term.hosts.answer(call, host, result, ctx, out);
        if let Some(startup) = term.startup.take() {
            let mut ctx = Ctx {
                state: &state,
                config: &self.config,
                hosts: &mut term.hosts,
                stamp,
                now,
            };
            term.startup = startup.answered((call, host, result), pushed, &mut ctx, out);
        }
        if self.gate_open() && self.transfers.is_empty() {
            self.propose_vote(now, out);
        }
    }
}
