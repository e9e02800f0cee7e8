//! The network between the monitors and the agents: every message is delayed, some are
//! lost or duplicated, and random delays reorder them. A call finishes with the first reply
//! that reaches its caller or, at its deadline (`agent_timeout`), as unreachable — the
//! gRPC semantics the daemon has.

use std::collections::BTreeMap;
use std::time::Duration;

use mmm_core::leader::{AgentAnswer, AgentCall, CallFailure, CallId};
use mmm_core::time::Timestamp;

use super::Rng;

/// How the network misbehaves.
#[derive(Debug, Clone, Copy)]
pub struct Weather {
    /// Longest one-way delay. Kept below half the call bound: a request always reaches the
    /// agent while its caller still waits (deliveries far beyond the bound come from frozen
    /// agents, see `World`).
    pub max_delay: Duration,
    /// Per mille of messages lost.
    pub loss: u64,
    /// Per mille of messages delivered twice.
    pub duplicate: u64,
}

/// A message on its way.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Monitor `from`'s call reaches `host`'s agent.
    Request {
        from: usize,
        id: CallId,
        host: String,
        call: AgentCall,
    },
    /// The agent's answer reaches monitor `to`.
    Reply {
        to: usize,
        id: CallId,
        host: String,
        result: Result<AgentAnswer, CallFailure>,
    },
}

#[derive(Debug, Clone)]
struct Pending {
    host: String,
    deadline: Timestamp,
}

/// Messages in flight and calls waiting for their answer.
#[derive(Debug, Default)]
pub struct Net {
    queue: Vec<(Timestamp, u64, Msg)>,
    seq: u64,
    calls: BTreeMap<(usize, CallId), Pending>,
    pub lost: u64,
    pub duplicated: u64,
}

/// A finished call, for its caller.
pub struct Done {
    pub to: usize,
    pub id: CallId,
    pub host: String,
    pub result: Result<AgentAnswer, CallFailure>,
}

impl Net {
    fn send(&mut self, msg: Msg, now: Timestamp, w: &Weather, rng: &mut Rng) {
        if rng.chance(w.loss) {
            self.lost += 1;
            return;
        }
        let copies = if rng.chance(w.duplicate) {
            self.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let ms = rng.below(u64::try_from(w.max_delay.as_millis()).unwrap_or(0) + 1);
            self.seq += 1;
            self.queue
                .push((now.plus(Duration::from_millis(ms)), self.seq, msg.clone()));
        }
    }

    /// Monitor `from` calls `host`'s agent; `reachable` is false when the link is cut.
    pub fn call(
        &mut self,
        from: usize,
        id: CallId,
        host: &str,
        call: AgentCall,
        reachable: bool,
        ctx: (Timestamp, Duration, &Weather, &mut Rng),
    ) {
        let (now, timeout, w, rng) = ctx;
        self.calls.insert(
            (from, id),
            Pending {
                host: host.to_string(),
                deadline: now.plus(timeout),
            },
        );
        if reachable {
            let msg = Msg::Request {
                from,
                id,
                host: host.to_string(),
                call,
            };
            self.send(msg, now, w, rng);
        }
    }

    /// An agent answers (the reply travels back like any message).
    pub fn answer(
        &mut self,
        to: usize,
        id: CallId,
        host: &str,
        result: Result<AgentAnswer, CallFailure>,
        ctx: (Timestamp, &Weather, &mut Rng),
    ) {
        let (now, w, rng) = ctx;
        let msg = Msg::Reply {
            to,
            id,
            host: host.to_string(),
            result,
        };
        self.send(msg, now, w, rng);
    }

    /// Messages due by `now`, in delivery order.
    pub fn due(&mut self, now: Timestamp) -> Vec<Msg> {
        self.queue.sort_by_key(|(at, seq, _)| (*at, *seq));
        let split = self.queue.partition_point(|(at, _, _)| *at <= now);
        self.queue.drain(..split).map(|(_, _, m)| m).collect()
    }

    /// A reply reached its caller: the call's answer, unless it already finished.
    pub fn finish(&mut self, to: usize, id: CallId) -> bool {
        self.calls.remove(&(to, id)).is_some()
    }

    /// Calls whose deadline passed without a reply.
    pub fn expired(&mut self, now: Timestamp) -> Vec<Done> {
        let gone: Vec<(usize, CallId)> = self
            .calls
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(k, _)| *k)
            .collect();
        gone.into_iter()
            .filter_map(|(to, id)| {
                let p = self.calls.remove(&(to, id))?;
                Some(Done {
                    to,
                    id,
                    result: Err(CallFailure::Unreachable(format!(
                        "no answer from the agent on '{}' in time",
                        p.host
                    ))),
                    host: p.host,
                })
            })
            .collect()
    }
}
