//! Three in-process monitors with fake agents: election, status pushes, leader kill,
//! restart from disk, minority partition, follower forwarding, observation quorum.

mod fake_agent;
mod harness;
mod http;

use std::time::{Duration, Instant};

use harness::MonCluster;
use mmm_core::checks::CheckKind;
use mmm_core::state::HostState;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
}

fn has_writer(roles: &[String]) -> bool {
    roles.iter().any(|r| r.starts_with("writer("))
}

#[test]
fn leader_pushes_fenced_statuses_and_followers_forward_control() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        c.bring_online().await;
        let leader = c.wait_leader(Duration::from_secs(5)).await;
        let follower = c.followers()[0];

        // The agent of db1 got the writer role, stamped with the epoch and the lease.
        let db1 = &c.agents["db1"];
        let deadline = Instant::now() + Duration::from_secs(5);
        while !has_writer(&db1.roles()) {
            assert!(
                Instant::now() < deadline,
                "db1 never received the writer role"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let epoch = c.monitor(leader).node().with_state(|m| m.epoch());
        let last = db1.calls().last().cloned().expect("a call");
        assert_eq!(last.lease_ms, 2000, "lease is agent_lease");
        assert_eq!(last.leader_id, leader);
        assert!(last.epoch > 0 && last.epoch <= epoch);

        // Re-pushed every status_interval (0.3 s) even without change.
        let before = db1.calls().len();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let renewals = db1.calls().len() - before;
        assert!(renewals >= 2, "only {renewals} renewals in 1 s");

        // A follower answers Show and History with the leader's view.
        let via_leader = c.show(leader).await.expect("show leader");
        let via_follower = c.show(follower).await.expect("show follower");
        assert_eq!(via_leader, via_follower);
        assert_eq!(via_follower.mode, "ACTIVE");
        let db1_view = via_follower
            .hosts
            .iter()
            .find(|h| h.name == "db1")
            .expect("db1");
        assert_eq!(
            mmm_proto::convert::state_from_wire(db1_view.state),
            Ok(HostState::Online)
        );
        assert!(db1_view.roles.iter().any(|r| r.role == "writer"));
        let hist = c
            .client(follower)
            .await
            .history(mmm_proto::pb::HistoryRequest { limit: 0 })
            .await
            .expect("history")
            .into_inner();
        assert!(
            hist.entries
                .iter()
                .any(|e| e.line == "Admin changed state of 'db1' from AWAITING_RECOVERY to ONLINE"),
            "history: {:?}",
            hist.entries
        );
        // Refusals carry mmm_control's wording through the follower.
        let r = c
            .command(follower, &["set_online", "db9"])
            .await
            .expect("answered");
        assert!(!r.ok);
        assert_eq!(r.text, "ERROR: Unknown host name 'db9'!");
        let r = c.command(follower, &["mode"]).await.expect("answered");
        assert_eq!(r.text, "ACTIVE");
        c.shutdown().await;
    });
}

#[test]
fn killed_leader_is_replaced_and_statuses_flow_within_a_second() {
    rt().block_on(async {
        let mut c = MonCluster::start(3).await;
        c.bring_online().await;
        let old = c.wait_leader(Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        c.kill(old).await;
        let deadline = t0 + Duration::from_secs(5);
        let (elapsed, new_leader) = loop {
            let hit = c
                .agents
                .values()
                .flat_map(|a| a.calls())
                .filter(|call| call.at > t0 && call.leader_id != old && call.accepted)
                .min_by_key(|call| call.at);
            if let Some(call) = hit {
                break (call.at - t0, call.leader_id);
            }
            assert!(
                Instant::now() < deadline,
                "no status from a new leader within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        println!(
            "leader {old} killed; new leader {new_leader} pushed its first status after {elapsed:?}"
        );
        // A follower found the leader's port refusing connections and stood for election as
        // soon as the leader lease allowed.
        let early: u64 = (1..=3)
            .filter(|id| *id != old)
            .map(|id| c.monitor(id).counters().leader_gone_campaigns())
            .sum();
        assert!(
            early >= 1,
            "no follower campaigned early after the leader died"
        );
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        // The new leader demoted nothing: db1 still holds the writer.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let l = c.wait_leader(Duration::from_secs(2)).await;
        let roles = c
            .monitor(l)
            .node()
            .with_state(|m| m.cluster().map(|s| s.roles_of("db1").to_vec()));
        assert!(roles.unwrap_or_default().iter().any(|r| r.role == "writer"));
        assert!(has_writer(&c.agents["db1"].roles()));
        c.shutdown().await;
    });
}

#[test]
fn restart_from_disk_keeps_state_and_epoch() {
    rt().block_on(async {
        let mut c = MonCluster::start(3).await;
        c.bring_online().await;
        let l = c.wait_leader(Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (epoch, hosts) = c.monitor(l).node().with_state(|m| {
            let s = m.cluster().expect("state");
            (
                s.epoch,
                s.hosts
                    .iter()
                    .map(|h| (h.name.clone(), h.state, h.roles.clone()))
                    .collect::<Vec<_>>(),
            )
        });
        for id in 1..=3 {
            c.kill(id).await;
        }
        for id in 1..=3 {
            c.start_monitor(id).await;
        }
        let l = c.wait_leader(Duration::from_secs(10)).await;
        let (epoch2, hosts2, started) = c.monitor(l).node().with_state(|m| {
            let s = m.cluster().expect("state restored");
            (
                s.epoch,
                s.hosts
                    .iter()
                    .map(|h| (h.name.clone(), h.state, h.roles.clone()))
                    .collect::<Vec<_>>(),
                s.started,
            )
        });
        assert!(started);
        assert!(epoch2 >= epoch, "epoch went back from {epoch} to {epoch2}");
        assert_eq!(hosts, hosts2);
        // Agents keep getting statuses at an epoch no lower than before.
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let calls: Vec<_> = c.agents["db1"]
            .calls()
            .into_iter()
            .filter(|x| x.at > t0)
            .collect();
        assert!(!calls.is_empty());
        assert!(calls.iter().all(|x| x.accepted && x.epoch >= epoch));
        c.shutdown().await;
    });
}

#[test]
fn partitioned_minority_leader_changes_nothing_and_stops_renewing() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        c.bring_online().await;
        let old = c.wait_leader(Duration::from_secs(5)).await;
        let others: Vec<u64> = (1..=3).filter(|i| *i != old).collect();
        let old_epoch = c.monitor(old).node().with_state(|m| m.epoch());
        let t_iso = Instant::now();
        c.partition.isolate(old, others.clone());

        // The minority answers promptly with "no quorum" (once it noticed), never hangs.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let t = Instant::now();
        let err = c
            .command(old, &["set_offline", "db3"])
            .await
            .expect_err("minority must refuse");
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(err.message().contains("no quorum"), "{err:?}");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "answer took {:?}",
            t.elapsed()
        );
        // `show` too, unless the caller accepts the minority's last state, marked stale.
        let err = c.show(old).await.expect_err("no fresh show without quorum");
        assert!(err.message().starts_with("no quorum"), "{err:?}");
        let stale = c.show_as(old, true).await.expect("stale show");
        assert!(stale.stale, "{stale:?}");
        assert!(stale.stale_reason.starts_with("no quorum"), "{stale:?}");
        assert_eq!(stale.answered_by, format!("mon{old}"));
        assert_eq!(stale.epoch, old_epoch);
        assert_eq!(stale.hosts.len(), 3, "{stale:?}");

        // The majority elects a new leader that keeps pushing.
        let deadline = Instant::now() + Duration::from_secs(5);
        let new = loop {
            if let Some(n) = others
                .iter()
                .copied()
                .find(|id| c.monitor(*id).node().is_leader())
            {
                break n;
            }
            assert!(Instant::now() < deadline, "majority elected nobody");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;

        // Nothing the old leader sent after it lost its quorum (quorum_age, Raft's election
        // timeout bound, plus the call bound) was accepted, and its state did not change.
        let cutoff =
            t_iso + mmm_core::config::ELECTION_TIMEOUT_MAX + Duration::from_millis(500 + 200);
        for a in c.agents.values() {
            for call in a.calls() {
                if call.leader_id == old && call.at > cutoff {
                    panic!(
                        "old leader {old} still pushed to {} at {:?} after isolation",
                        a.host,
                        call.at - t_iso
                    );
                }
            }
        }
        assert_eq!(c.monitor(old).node().with_state(|m| m.epoch()), old_epoch);
        // A cut-off leader still accepts connections: Raft's own timeout elected the new one.
        for id in 1..=3 {
            assert_eq!(
                c.monitor(id).counters().leader_gone_campaigns(),
                0,
                "monitor {id}"
            );
        }
        let r = c
            .command(new, &["set_offline", "db3"])
            .await
            .expect("majority answers");
        assert!(r.ok, "{}", r.text);
        c.shutdown().await;
    });
}

#[test]
fn one_monitor_alone_cannot_fail_a_host_two_can() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        c.bring_online().await;
        let line = "ERROR: Connect error (host = 127.0.0.1:3306, user = monitor)! down".to_string();
        c.overrides
            .lock()
            .expect("lock")
            .insert((1, "db2".into(), CheckKind::Mysql), line.clone());
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let l = c.wait_leader(Duration::from_secs(2)).await;
        let st = c
            .monitor(l)
            .node()
            .with_state(|m| m.cluster().and_then(|s| s.state_of("db2")));
        assert_eq!(st, Some(HostState::Online), "one monitor's view failed db2");
        c.overrides
            .lock()
            .expect("lock")
            .insert((2, "db2".into(), CheckKind::Mysql), line);
        c.wait_state("db2 HARD_OFFLINE", Duration::from_secs(5), |s| {
            s.state_of("db2") == Some(HostState::HardOffline)
        })
        .await;
        c.shutdown().await;
    });
}

#[test]
fn writer_moves_after_the_old_writer_confirms_the_drop() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        c.bring_online().await;
        let down = "ERROR: Connect error (host = 127.0.0.1:3306, user = monitor)! down".to_string();
        let t0 = Instant::now();
        for id in 1..=3 {
            c.overrides
                .lock()
                .expect("lock")
                .insert((id, "db1".into(), CheckKind::Mysql), down.clone());
        }
        c.wait_state("writer on db2", Duration::from_secs(10), |s| {
            s.roles_of("db2").iter().any(|r| r.role == "writer")
        })
        .await;
        let took = t0.elapsed();
        println!(
            "writer moved to db2 {took:?} after db1's mysql check started failing (trap 0.5 s)"
        );
        // db1's agent confirmed the drop before db2 was given the role.
        let db1_drop = c.agents["db1"]
            .calls()
            .into_iter()
            .find(|x| x.at > t0 && x.accepted && !has_writer(&x.roles))
            .expect("db1 told to drop the writer");
        // The push follows the commit asynchronously: give it a moment to reach db2's agent.
        let pushed_by = Instant::now() + Duration::from_secs(3);
        let db2_take = loop {
            let take = c.agents["db2"]
                .calls()
                .into_iter()
                .find(|x| x.at > t0 && has_writer(&x.roles));
            match take {
                Some(take) => break take,
                None if Instant::now() < pushed_by => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => panic!("db2 given the writer"),
            }
        };
        assert!(db1_drop.at < db2_take.at);
        assert!(!has_writer(&c.agents["db1"].roles()));
        c.shutdown().await;
    });
}

#[test]
fn conflicting_writer_at_startup_makes_the_cluster_passive_with_the_cause_in_show() {
    rt().block_on(async {
        let c = MonCluster::start_with(3, |agents| {
            for h in ["db1", "db2"] {
                agents[h].set_roles(&[("writer", "10.213.7.100")]);
            }
        })
        .await;
        let l = c.wait_leader(Duration::from_secs(10)).await;
        c.wait_state("startup", Duration::from_secs(10), |s| s.started)
            .await;
        let show = c.show(c.followers()[0]).await.expect("show");
        assert_eq!(show.mode, "PASSIVE");
        assert!(
            show.passive_cause
                .starts_with("Conflicting roles during startup:"),
            "{}",
            show.passive_cause
        );
        // PASSIVE sends nothing to agents.
        tokio::time::sleep(Duration::from_millis(800)).await;
        for a in c.agents.values() {
            assert!(a.calls().is_empty(), "{} got {:?}", a.host, a.calls());
        }
        let r = c.command(l, &["set_active"]).await.expect("answered");
        assert!(r.ok, "{}", r.text);
        c.shutdown().await;
    });
}

#[test]
fn a_hung_agent_stalls_nobody_else() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        c.bring_online().await;
        c.agents["db3"].set_hang(true);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_millis(2000)).await;
        for h in ["db1", "db2"] {
            let n = c.agents[h].calls().iter().filter(|x| x.at > t0).count();
            // status_interval 0.3 s: about six renewals in 2 s.
            assert!(n >= 4, "{h} got only {n} statuses while db3 hung");
        }
        // An admin command still completes (db3's agent is not involved).
        let l = c.wait_leader(Duration::from_secs(2)).await;
        let t = Instant::now();
        let r = c
            .command(l, &["set_offline", "db2"])
            .await
            .expect("answered");
        assert!(r.ok, "{}", r.text);
        assert!(t.elapsed() < Duration::from_secs(2));
        c.agents["db3"].set_hang(false);
        c.shutdown().await;
    });
}

#[test]
fn a_hung_agent_does_not_stall_the_new_leader() {
    rt().block_on(async {
        // db3's agent accepts connections and never answers, from its first call on; the
        // call bound is 2 s here so one stall stands out from scheduling noise.
        let c = MonCluster::start_tuned(
            3,
            |agents| agents["db3"].set_hang(true),
            |text| text.replace("agent_timeout 0.5", "agent_timeout 2"),
        )
        .await;
        let timeout = Duration::from_secs(2);
        c.wait_leader(Duration::from_secs(10)).await;
        c.wait_state("startup", Duration::from_secs(10), |s| s.started)
            .await;
        let requests = c.agents["db3"].requests();
        let names: Vec<&str> = requests.iter().map(|(n, _)| *n).collect();
        // Each leader that ran the startup asked db3 both questions at once (a sequential
        // startup asks the second only after the first timed out) and sent db3 no cleanup:
        // its agent answered nothing, so the regular pushes take it over.
        // Both calls are in flight together, so either may reach the agent first.
        let mut first_two = names[..2].to_vec();
        first_two.sort_unstable();
        assert_eq!(first_two, ["GetStatus", "GetSystemStatus"], "{names:?}");
        assert!(requests[1].1 - requests[0].1 < timeout / 2, "{requests:?}");
        assert!(!names.contains(&"ClearBadRoles"), "{names:?}");
        // The leader waited one call bound for db3, not one per call: db1 and db2 got their
        // statuses within it (the sequential startup took three).
        for h in ["db1", "db2"] {
            let deadline = Instant::now() + Duration::from_secs(10);
            let first = loop {
                if let Some(call) = c.agents[h].calls().first().cloned() {
                    break call.at;
                }
                assert!(Instant::now() < deadline, "{h} never got a status");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let asked = requests
                .iter()
                .filter(|(n, at)| *n == "GetStatus" && *at <= first)
                .map(|(_, at)| *at)
                .next_back()
                .expect("db3 asked before the first status");
            let took = first.saturating_duration_since(asked);
            assert!(
                took < timeout + timeout / 2,
                "{h}'s first status came {took:?} after the startup asked db3"
            );
        }
        // And the new leader serves commands while db3 still hangs.
        let l = c.wait_leader(Duration::from_secs(2)).await;
        let r = c.command(l, &["mode"]).await.expect("answered");
        assert_eq!(r.text, "ACTIVE");
        c.agents["db3"].set_hang(false);
        c.shutdown().await;
    });
}

#[test]
fn overlapping_holds_keep_elections_off_until_the_last_window_ends() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        // Settled first: a monitor that still thinks it leads a replaced term would make the
        // "follower" below the real leader.
        let (leader, term) = c.wait_agreed_leader(Duration::from_secs(10)).await;
        let follower = c.followers()[0];
        assert_ne!(follower, leader);
        let config = c.config.clone();
        let hold = || {
            mmm_mond::control::ask_peer(
                &config,
                None,
                follower,
                mmm_core::leader::PeerAsk::HoldElections,
                Duration::from_secs(5),
            )
        };
        let elect = |c: &MonCluster| c.monitor(follower).switches().elect;
        hold().await.expect("first hold");
        let t0 = Instant::now();
        assert!(!elect(&c), "a held follower must not start elections");
        let campaigns = watch_campaigns(&c, follower, term);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        // The follower starts the second window when its driver takes the request, which is
        // after it was sent: measured from the send, the window cannot end early, however
        // long the answer takes to come back.
        let t1 = Instant::now();
        hold().await.expect("second hold");
        // Past the first window (3 s after the first hold) elections are still held.
        tokio::time::sleep_until((t0 + Duration::from_millis(3400)).into()).await;
        assert!(
            !elect(&c),
            "the first hold's end re-enabled elections while the second still holds"
        );
        let deadline = t1 + Duration::from_secs(6);
        while !elect(&c) {
            assert!(Instant::now() < deadline, "elections never came back on");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            t1.elapsed() >= mmm_core::leader::TRANSFER_WINDOW,
            "elections came back {:?} after the second hold was sent",
            t1.elapsed()
        );
        campaigns.abort();
        let seen = campaigns.await.expect_err("aborted");
        assert!(seen.is_cancelled(), "{seen}");
        c.shutdown().await;
    });
}

/// Watches `id`'s Raft metrics while its elections are held and stops the test at the first
/// sign it campaigned: a candidate state, or a vote for itself in a term after `term`.
fn watch_campaigns(c: &MonCluster, id: u64, term: u64) -> tokio::task::JoinHandle<()> {
    let mut metrics = c.monitor(id).node().metrics();
    let elect = c.monitor(id).watch_switches();
    tokio::spawn(async move {
        loop {
            {
                let m = metrics.borrow_and_update();
                let own_vote = m.vote.leader_id().voted_for() == Some(id) && m.current_term > term;
                let campaigning = matches!(
                    m.state,
                    openraft::ServerState::Candidate | openraft::ServerState::Leader
                );
                if !elect.borrow().elect {
                    assert!(
                        !own_vote && !campaigning,
                        "monitor {id} campaigned while held: {:?} in term {}, vote {}",
                        m.state,
                        m.current_term,
                        m.vote
                    );
                }
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    })
}

#[test]
fn leadership_can_be_transferred_through_any_monitor() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        c.bring_online().await;
        // A request forwarded while leadership is moving meets "not the leader"; an operator
        // retries, and so does this test (a bounded number of times, re-reading the leader).
        let mut attempt = 0;
        let (old, target) = loop {
            attempt += 1;
            let old = c.wait_leader(Duration::from_secs(5)).await;
            let target = c.followers()[0];
            let other = c.followers()[1];
            let r = c
                .client(other)
                .await
                .transfer_leader(mmm_proto::pb::TransferLeaderRequest {
                    name: format!("mon{target}"),
                })
                .await
                .expect("answered")
                .into_inner();
            if r.ok {
                break (old, target);
            }
            assert!(
                attempt < 3 && r.text.contains("not the leader"),
                "{}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        let now = c.wait_leader(Duration::from_secs(5)).await;
        assert_eq!(now, target, "leader is {now}, was {old}");
        let status = c
            .client(old)
            .await
            .cluster_status(mmm_proto::pb::ClusterStatusRequest {})
            .await
            .expect("status")
            .into_inner();
        assert_eq!(status.leader_id, target);
        assert_eq!(status.members.len(), 3);
        c.shutdown().await;
    });
}

#[test]
fn members_are_removed_and_added_through_control() {
    rt().block_on(async {
        let c = MonCluster::start(3).await;
        c.bring_online().await;
        let leader = c.wait_leader(Duration::from_secs(5)).await;
        let victim = c.followers()[1];
        let via = c.followers()[0];
        let name = format!("mon{victim}");
        let status = |id| {
            let c = &c;
            async move {
                c.client(id)
                    .await
                    .cluster_status(mmm_proto::pb::ClusterStatusRequest {})
                    .await
                    .expect("status")
                    .into_inner()
            }
        };
        let r = c
            .client(via)
            .await
            .remove_member(mmm_proto::pb::RemoveMemberRequest { name: name.clone() })
            .await
            .expect("answered")
            .into_inner();
        assert!(r.ok, "{}", r.text);
        let s = status(leader).await;
        let voters: Vec<u64> = s.members.iter().filter(|m| m.voter).map(|m| m.id).collect();
        assert!(!voters.contains(&victim), "{s:?}");
        let r = c
            .client(via)
            .await
            .add_member(mmm_proto::pb::AddMemberRequest { name: name.clone() })
            .await
            .expect("answered")
            .into_inner();
        assert!(r.ok, "{}", r.text);
        let s = status(leader).await;
        assert!(s.members.iter().any(|m| m.id == victim && m.voter), "{s:?}");
        let bad = c
            .client(via)
            .await
            .add_member(mmm_proto::pb::AddMemberRequest {
                name: "mon9".into(),
            })
            .await
            .expect_err("unknown monitor refused");
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        c.shutdown().await;
    });
}
