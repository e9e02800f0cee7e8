//! Nodes rebuild from their own redb files: a full-cluster restart, and restarts after a
//! snapshot and log purge (a lagging node then receives the snapshot over the network).

use std::time::Duration;

use mmm_mond::raft::NodeConfig;

use crate::support::{Cluster, RegResp, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_restarts_from_disk() {
    let mut c = Cluster::start(3).await;
    let all = c.live();
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    for (epoch, value) in ["db1", "db2", "db1"].iter().enumerate() {
        let r = c
            .node(leader)
            .propose(set(epoch as u64, value))
            .await
            .expect("write");
        assert_eq!(
            r,
            RegResp::Set {
                epoch: epoch as u64 + 1
            }
        );
    }
    let index = c.node(leader).last_applied().expect("applied").index;
    c.wait_applied(&all, index, Duration::from_secs(5)).await;
    let before_state = c.node(leader).state();
    let before_term = c.node(leader).metrics().borrow().current_term;
    let before_logs: Vec<_> = all
        .iter()
        .map(|id| c.node(*id).metrics().borrow().last_log_index)
        .collect();

    c.shutdown_all().await;
    for id in &all {
        c.restart(*id).await;
    }
    // State and log come from disk alone, before any peer is heard from.
    for (id, last_log) in all.iter().zip(&before_logs) {
        assert_eq!(
            c.node(*id).state(),
            before_state,
            "node {id} state after restart"
        );
        c.node(*id)
            .raft()
            .wait(Some(Duration::from_secs(2)))
            .metrics(|m| m.last_log_index == *last_log, "log reloaded")
            .await
            .unwrap_or_else(|e| panic!("node {id} log after restart: {e}"));
    }
    let before_leader = leader;
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    let term = c.node(leader).metrics().borrow().current_term;
    println!(
        "before restart: leader {before_leader} term {before_term}; after: leader {leader} term {term}"
    );
    // openraft 0.9 lets a leader whose committed vote is on disk resume in the same term;
    // any other node must win a new election in a higher term.
    if leader == before_leader {
        assert!(
            term >= before_term,
            "term {term} went back from {before_term}"
        );
    } else {
        assert!(
            term > before_term,
            "term {term} must grow past {before_term}"
        );
    }
    let r = c
        .node(leader)
        .propose(set(3, "db2"))
        .await
        .expect("write after restart");
    assert_eq!(r, RegResp::Set { epoch: 4 });
    let index = c.node(leader).last_applied().expect("applied").index;
    c.wait_applied(&all, index, Duration::from_secs(5)).await;
    for id in &all {
        assert_eq!(
            c.node(*id).state().history,
            ["db1", "db2", "db1", "db2"],
            "node {id}"
        );
    }
    c.shutdown_all().await;
}

fn snapshot_often(c: &mut NodeConfig) {
    c.snapshot_every = 4;
    c.keep_logs_after_snapshot = 0;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_rebuild_after_snapshot_and_purge() {
    let mut c = Cluster::start_with(3, snapshot_often).await;
    let all = c.live();
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    let lagging = *all.iter().find(|id| **id != leader).expect("a follower");
    let other = *all
        .iter()
        .find(|id| **id != leader && **id != lagging)
        .expect("another follower");
    let mut epoch = 0;
    for _ in 0..2 {
        c.node(leader)
            .propose(set(epoch, "w"))
            .await
            .expect("write");
        epoch += 1;
    }
    c.kill(lagging).await;
    for _ in 0..10 {
        c.node(leader)
            .propose(set(epoch, "w"))
            .await
            .expect("write while one node is down");
        epoch += 1;
    }
    let last = c.node(leader).last_applied().expect("applied").index;
    c.wait_applied(&[leader, other], last, Duration::from_secs(5))
        .await;
    c.node(leader).trigger_snapshot().await.expect("snapshot");
    c.node(other).trigger_snapshot().await.expect("snapshot");
    for id in [leader, other] {
        c.node(id)
            .raft()
            .wait(Some(Duration::from_secs(5)))
            .metrics(
                |m| m.purged.is_some_and(|p| p.index >= last),
                "log purged up to the snapshot",
            )
            .await
            .unwrap_or_else(|e| panic!("node {id} did not snapshot and purge: {e}"));
    }

    // The lagging node's missing entries are gone from every log: it must install the snapshot.
    c.restart(lagging).await;
    c.wait_applied(&all, last, Duration::from_secs(10)).await;
    let expected = c.node(leader).state();
    assert_eq!(expected.epoch, 12);
    assert_eq!(c.node(lagging).state(), expected);
    c.node(lagging)
        .raft()
        .wait(Some(Duration::from_secs(2)))
        .metrics(|m| m.snapshot.is_some(), "snapshot installed")
        .await
        .expect("lagging node got a snapshot");

    // A node whose own log was purged restarts from its stored snapshot and state.
    c.kill(other).await;
    c.restart(other).await;
    assert_eq!(
        c.node(other).state(),
        expected,
        "state rebuilt from disk alone"
    );
    c.node(other)
        .raft()
        .wait(Some(Duration::from_secs(2)))
        .metrics(
            |m| m.purged.is_some_and(|p| p.index >= last) && m.snapshot.is_some(),
            "purged log reloaded",
        )
        .await
        .expect("restarted node keeps its snapshot and purge point");

    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    let r = c
        .node(leader)
        .propose(set(epoch, "after"))
        .await
        .expect("write after rebuild");
    assert_eq!(r, RegResp::Set { epoch: epoch + 1 });
    let index = c.node(leader).last_applied().expect("applied").index;
    c.wait_applied(&all, index, Duration::from_secs(5)).await;
    for id in &all {
        assert_eq!(c.node(*id).state().epoch, 13, "node {id}");
    }
    c.shutdown_all().await;
}
