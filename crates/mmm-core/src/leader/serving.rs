//! The requests a monitor answers: election holds and campaigns on any monitor, the rest
//! only on a leader with a fresh quorum — mmm_control commands (parsed, then in line for the
//! one proposal slot), check rows and leader transfers.

use crate::admin::{AdminRequest, Reply, admin};
use crate::log::LogLine;

use super::elections::{Campaign, Holder};
use super::io::{Answer, Effect, Now, Request, RequestId};
use super::requests::{Waiting, check_rows};
use super::{Leader, Origin, Out, current};

impl Leader {
    pub(super) fn request(&mut self, id: RequestId, request: Request, now: Now, out: &mut Out) {
        match request {
            Request::HoldElections => {
                let until = now.mono + self.timing.transfer_window;
                self.elections.hold(Holder::Bystander, false, until);
                // Raft is told before the answer goes out: whoever reads "Holding." finds
                // this monitor's candidacy already off.
                self.elections.update(now.mono, out);
                out.reply(id, Answer::Reply(Reply::ok("OK: Holding.")));
            }
            Request::Campaign => {
                self.campaign = Some(Campaign {
                    until: now.mono + self.timing.transfer_window,
                    next: now.mono,
                    in_flight: false,
                });
                out.reply(id, Answer::Reply(Reply::ok("OK: Campaigning.")));
                self.campaign_tick(now, out);
            }
            other => {
                if let Err(why) = self.serving() {
                    out.reply(id, Answer::Unavailable(why.into()));
                    return;
                }
                self.leader_request(id, other, now, out);
            }
        }
    }

    /// Whether this monitor may serve leader requests now, or why not.
    fn serving(&self) -> Result<(), &'static str> {
        if self.term.is_none() {
            return Err("no quorum: this monitor is not the leader");
        }
        if !self.raft.quorum_fresh {
            return Err("no quorum: this monitor leads but has not heard from a majority");
        }
        Ok(())
    }

    fn leader_request(&mut self, id: RequestId, request: Request, now: Now, out: &mut Out) {
        let Some(term) = self.term.as_mut() else {
            return;
        };
        match request {
            Request::Command(args) => match AdminRequest::parse(&args) {
                Err(reply) => out.reply(id, Answer::Reply(reply)),
                Ok(request) => {
                    let w = Waiting {
                        id,
                        request,
                        reachable: true,
                        deadline: now.mono + self.timing.forward_timeout,
                    };
                    term.requests.admit(w, &self.config, out);
                    self.try_admin(now, out);
                }
            },
            Request::Checks { host, check } => {
                term.refresh_merged(&self.timing, now);
                let rows = check_rows(&self.config, &term.merged, &host, &check);
                out.reply(id, Answer::Checks(rows));
            }
            Request::Transfer { to } => self.begin_transfer(id, to, out),
            Request::HoldElections | Request::Campaign => {}
        }
    }

    /// Runs the first waiting command if the proposal slot is free; true when it took it.
    pub(super) fn try_admin(&mut self, now: Now, out: &mut Out) -> bool {
        let state = current(&self.replica, &self.config, now);
        let Some(term) = self.term.as_mut() else {
            return false;
        };
        if !self.transfers.is_empty() {
            // A leader transfer pauses proposals; the command waits (or times out).
            return false;
        }
        while term.proposal.is_none() {
            let Some(w) = term.requests.next() else {
                return false;
            };
            term.refresh_merged(&self.timing, now);
            let decided = admin(
                &state,
                &term.merged,
                &w.request,
                w.reachable,
                now.wall,
                &self.config,
            );
            match decided {
                Ok((commands, reply)) if commands.is_empty() => {
                    out.reply(w.id, Answer::Reply(reply));
                }
                Ok((commands, reply)) => {
                    let pid = out.call_id();
                    term.proposal = Some((
                        pid,
                        Origin::Admin {
                            request: w.id,
                            reply,
                        },
                    ));
                    out.effect(Effect::Propose { id: pid, commands });
                    return true;
                }
                Err(v) => {
                    out.log(LogLine::error(format!("{v}; command refused")));
                    out.reply(w.id, Answer::Reply(Reply::err(format!("ERROR: {v}"))));
                }
            }
        }
        false
    }
}
