//! Unit tests of the leader machine's request and push bookkeeping.

use std::time::Duration;

use super::*;
use crate::command::Outcome;
use crate::state::HostState;
use crate::time::Timestamp;

fn at(s: u64) -> Now {
    Now::at(Timestamp::from_secs(1_000 + s))
}

/// A leading machine with a fresh quorum over a started cluster, db1 ONLINE.
fn leading() -> Leader {
    let config = Arc::new(crate::testing::config(&[]));
    let timing = Timing::new(
        &config,
        1,
        Duration::from_millis(600),
        Duration::from_secs(3),
    );
    let mut l = Leader::new(config.clone(), 1, timing);
    let mut state = ClusterState::new(&config, at(0).wall);
    state.started = true;
    if let Some(h) = state.host_mut("db1") {
        h.state = HostState::Online;
    }
    for ev in [
        Event::Network { ok: true },
        Event::QuorumFreshness { fresh: true },
        Event::Applied(Replica {
            index: 1,
            state: Some(state),
        }),
        Event::Leadership {
            leading: true,
            term: 1,
            leader: Some(1),
        },
    ] {
        l.step(ev, at(0));
    }
    l
}

fn calls(effects: &[Effect]) -> Vec<(CallId, String, AgentCall)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call { id, host, call } => Some((*id, host.clone(), call.clone())),
            _ => None,
        })
        .collect()
}

fn replies(effects: &[Effect]) -> Vec<(RequestId, Answer)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { id, answer } => Some((*id, answer.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_request_gets_one_reply_also_when_leadership_ends_meanwhile() {
    let mut l = leading();
    let fx = l.step(
        Event::Request {
            id: RequestId(7),
            request: Request::Command(vec!["set_offline".into(), "db1".into()]),
        },
        at(1),
    );
    let called = calls(&fx);
    let [(ping, ref host, AgentCall::Ping)] = called[..] else {
        panic!("mysql-mmm pings the target first: {fx:?}");
    };
    assert_eq!(host, "db1");
    let fx = l.step(
        Event::Leadership {
            leading: false,
            term: 2,
            leader: Some(2),
        },
        at(1),
    );
    let r = replies(&fx);
    assert!(
        matches!(&r[..], [(RequestId(7), Answer::Unavailable(_))]),
        "{r:?}"
    );
    // The ping's late answer proposes nothing and replies nothing more.
    let fx = l.step(
        Event::AgentAnswered {
            call: ping,
            host: "db1".into(),
            result: Ok(AgentAnswer::Pong),
        },
        at(2),
    );
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::Reply { .. } | Effect::Propose { .. })),
        "{fx:?}"
    );
}

#[test]
fn nothing_is_pushed_once_the_quorum_is_stale_even_when_an_answer_arrives() {
    let mut l = leading();
    let fx = l.step(Event::Tick, at(1));
    let pushes = calls(&fx);
    assert!(!pushes.is_empty(), "a fresh leader pushes at once: {fx:?}");
    l.step(Event::QuorumFreshness { fresh: false }, at(1));
    for (id, host, _) in pushes {
        let report = StatusReport {
            epoch: 0,
            ..StatusReport::default()
        };
        let fx = l.step(
            Event::AgentAnswered {
                call: id,
                host,
                result: Ok(AgentAnswer::Status(report)),
            },
            at(3),
        );
        assert!(calls(&fx).is_empty(), "{fx:?}");
    }
    assert!(calls(&l.step(Event::Tick, at(4))).is_empty());
}

#[test]
fn one_proposal_at_a_time_and_commands_wait_their_turn() {
    let mut l = leading();
    let fx = l.step(
        Event::Request {
            id: RequestId(1),
            request: Request::Command(vec!["set_manual".into()]),
        },
        at(1),
    );
    let [Effect::Propose { id: first, .. }] = &fx[..] else {
        panic!("{fx:?}");
    };
    let fx = l.step(
        Event::Request {
            id: RequestId(2),
            request: Request::Command(vec!["set_passive".into()]),
        },
        at(1),
    );
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Propose { .. })),
        "{fx:?}"
    );
    // The first commits: its reply goes out and the second command takes the slot.
    let mut state = l.replica().state.clone().expect("state");
    state.mode = Mode::Manual;
    let outcome = Outcome {
        rejected: None,
        lines: Vec::new(),
        at: at(1).wall,
        epoch: 0,
        changed: false,
    };
    let fx = l.step(
        Event::Committed {
            proposal: *first,
            outcome,
            replica: Replica {
                index: 2,
                state: Some(state),
            },
        },
        at(1),
    );
    let r = replies(&fx);
    assert!(
        matches!(&r[..], [(RequestId(1), Answer::Reply(reply))] if reply.ok),
        "{fx:?}"
    );
    assert!(
        fx.iter().any(|e| matches!(e, Effect::Propose { .. })),
        "{fx:?}"
    );
}

fn report(uptime_s: u64) -> Result<AgentAnswer, CallFailure> {
    Ok(AgentAnswer::Status(StatusReport {
        epoch: 0,
        uptime: Some(Duration::from_secs(uptime_s)),
        ..StatusReport::default()
    }))
}

fn observed(ok: bool, s: u64) -> Event {
    let mut table = CheckTable::new();
    let msg = if ok { "OK" } else { "ERROR: down" };
    table.record("db1", CheckKind::Mysql, ok, msg, at(s).wall);
    Event::Observations {
        monitor: 1,
        table: crate::checks::MonitorTable {
            monitor: "mon1".into(),
            network_ok: true,
            observed_at: at(s).wall,
            table,
        },
    }
}

#[test]
fn a_round_is_due_after_news_and_not_after_routine_answers() {
    let mut l = leading();
    let pushes = calls(&l.step(Event::Tick, at(1)));
    assert!(!pushes.is_empty(), "{pushes:?}");
    assert!(!l.round_due(), "a round was just run");
    // The first answers say the agents are reachable: news.
    for (id, host, _) in &pushes {
        l.step(
            Event::AgentAnswered {
                call: *id,
                host: host.clone(),
                result: report(100),
            },
            at(1),
        );
    }
    assert!(l.round_due());
    l.step(Event::Tick, at(1));
    assert!(!l.round_due());
    // The periodic re-push's answers only renew the uptime: nothing is due.
    let pushes = calls(&l.step(Event::Tick, at(5)));
    assert!(!pushes.is_empty(), "status_interval passed: {pushes:?}");
    for (id, host, _) in &pushes {
        l.step(
            Event::AgentAnswered {
                call: *id,
                host: host.clone(),
                result: report(104),
            },
            at(5),
        );
    }
    assert!(!l.round_due());
    // A monitor's first table is news, the same verdicts again are not, a flip is.
    l.step(observed(true, 6), at(6));
    assert!(l.round_due());
    l.step(Event::Tick, at(6));
    l.step(observed(true, 7), at(7));
    assert!(!l.round_due());
    l.step(observed(false, 8), at(8));
    assert!(l.round_due());
    // An agent call that fails changes what the leader knows: due.
    l.step(Event::Tick, at(8));
    let pushes = calls(&l.step(Event::Tick, at(12)));
    let (id, host, _) = pushes.first().expect("a re-push").clone();
    l.step(
        Event::AgentAnswered {
            call: id,
            host,
            result: Err(CallFailure::Unreachable("timed out".into())),
        },
        at(12),
    );
    assert!(l.round_due());
    // Not leading: never due.
    l.step(
        Event::Leadership {
            leading: false,
            term: 2,
            leader: Some(2),
        },
        at(13),
    );
    assert!(!l.round_due());
}
