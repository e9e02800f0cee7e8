//! Handing leadership to another monitor (`mmm_control move_leader`, step-aside): openraft
//! 0.9 has no leader transfer, so the leader lets the successor catch up, holds its own
//! heartbeats and candidacy, and the successor campaigns until it wins or the window closes.

use crate::admin::Reply;
use crate::log::LogLine;

use super::elections::{Holder, Phase, Transfer};
use super::{Answer, CallId, Effect, Leader, NodeId, Now, Out, PeerAsk, RequestId};

impl Leader {
    /// openraft 0.9 has no leader transfer: the other followers hold their elections, this
    /// leader stops heartbeats and its own candidacy, and the successor campaigns until it
    /// wins or the window closes.
    pub(super) fn begin_transfer(&mut self, id: RequestId, to: NodeId, out: &mut Out) {
        let Some(node) = self.config.monitor_nodes.iter().find(|n| n.id == to) else {
            let text = format!("ERROR: Unknown monitor '{}'!", self.node_name(to));
            out.reply(id, Answer::Reply(Reply::err(text)));
            return;
        };
        let name = node.name.clone();
        if to == self.me {
            let text = format!("OK: '{name}' is the leader already.");
            out.reply(id, Answer::Reply(Reply::ok(text)));
            return;
        }
        let mut pending = std::collections::BTreeSet::new();
        for n in &self.config.monitor_nodes {
            if n.id != to && n.id != self.me {
                let call = out.call_id();
                out.effect(Effect::AskPeer {
                    id: call,
                    node: n.id,
                    ask: PeerAsk::HoldElections,
                });
                pending.insert(call);
            }
        }
        self.transfers.push(Transfer {
            request: id,
            target: to,
            name,
            phase: Phase::Holding { pending },
        });
    }

    /// Once the bystanders hold and this leader's last proposal is through (a transfer
    /// pauses new ones), waits for the successor to have the whole log: a candidate with
    /// less log cannot win the election it is about to start.
    pub(super) fn catch_up(&mut self, out: &mut Out) {
        let proposing = self.proposing();
        for t in &mut self.transfers {
            if matches!(&t.phase, Phase::Holding { pending } if pending.is_empty()) && !proposing {
                let wait = out.call_id();
                out.effect(Effect::AwaitCaughtUp {
                    id: wait,
                    node: t.target,
                });
                t.phase = Phase::CatchingUp { wait };
            }
        }
    }

    pub(super) fn caught_up(
        &mut self,
        call: CallId,
        result: Result<(), String>,
        now: Now,
        out: &mut Out,
    ) {
        let mut transfers = std::mem::take(&mut self.transfers);
        for t in &mut transfers {
            if t.phase == (Phase::CatchingUp { wait: call }) {
                match &result {
                    Ok(()) => self.start_moving(t, now, out),
                    Err(why) => {
                        t.phase = Phase::Moving {
                            ask: call,
                            why: Some(why.clone()),
                            deadline: now.mono,
                        }
                    }
                }
            }
        }
        self.transfers = transfers;
    }

    fn start_moving(&mut self, t: &mut Transfer, now: Now, out: &mut Out) {
        let deadline = now.mono + self.timing.transfer_window;
        self.elections
            .hold(Holder::Transfer(t.request), true, deadline);
        // Heartbeats stop before the successor is asked, so its election can succeed.
        self.elections.update(now.mono, out);
        let ask = out.call_id();
        out.effect(Effect::AskPeer {
            id: ask,
            node: t.target,
            ask: PeerAsk::Campaign,
        });
        t.phase = Phase::Moving {
            ask,
            why: None,
            deadline,
        };
    }

    pub(super) fn peer_answered(&mut self, call: CallId, result: Result<(), String>) {
        let mut transfers = std::mem::take(&mut self.transfers);
        for t in &mut transfers {
            match &mut t.phase {
                Phase::Holding { pending } => {
                    pending.remove(&call);
                }
                Phase::Moving { ask, why, .. } if *ask == call => *why = result.clone().err(),
                Phase::Moving { .. } | Phase::CatchingUp { .. } => {}
            }
        }
        self.transfers = transfers;
    }

    /// Answers every transfer that reached its successor or ran out of time.
    pub(super) fn finish_transfers(&mut self, now: Now, out: &mut Out) {
        let leader = self.raft.leader;
        let mut keep = Vec::new();
        for t in std::mem::take(&mut self.transfers) {
            let Phase::Moving { why, deadline, .. } = &t.phase else {
                keep.push(t);
                continue;
            };
            let reply = if leader == Some(t.target) {
                Reply::ok(format!("OK: Leadership transferred to '{}'.", t.name))
            } else if now.mono >= *deadline {
                let why = why.clone().unwrap_or_default();
                let text = format!(
                    "ERROR: Could not transfer leadership to '{}'. {why}",
                    t.name
                );
                Reply::err(text.trim_end().to_string())
            } else {
                keep.push(t);
                continue;
            };
            self.elections.release(Holder::Transfer(t.request));
            out.reply(t.request, Answer::Reply(reply));
        }
        self.transfers = keep;
    }

    pub(super) fn campaign_tick(&mut self, now: Now, out: &mut Out) {
        let leading = self.raft.leading;
        let Some(c) = self.campaign.as_mut() else {
            return;
        };
        if leading || now.mono >= c.until {
            self.campaign = None;
            return;
        }
        if !c.in_flight && now.mono >= c.next {
            c.in_flight = true;
            out.effect(Effect::Campaign);
        }
    }

    pub(super) fn campaigned(&mut self, result: Result<(), String>, now: Now, out: &mut Out) {
        let Some(c) = self.campaign.as_mut() else {
            return;
        };
        c.in_flight = false;
        match result {
            Ok(()) => c.next = now.mono + self.timing.campaign_retry,
            Err(e) => {
                self.campaign = None;
                out.log(LogLine::warn(format!("Campaign failed: {e}")));
            }
        }
    }
}
