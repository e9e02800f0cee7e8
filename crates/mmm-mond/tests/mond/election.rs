//! A fresh 3-node cluster elects a leader, commits on all nodes, and points followers at it.

use std::time::{Duration, Instant};

use mmm_mond::raft::ProposeError;

use crate::support::{Cluster, RegResp, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_commits_and_every_node_applies() {
    let mut c = Cluster::start(3).await;
    let all = c.live();
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    let mut applied: Vec<_> = all
        .iter()
        .map(|id| c.node(*id).subscribe_applied())
        .collect();

    let r = c
        .node(leader)
        .propose(set(0, "db1"))
        .await
        .expect("propose on leader");
    assert_eq!(r, RegResp::Set { epoch: 1 });
    // A stale fencing epoch is rejected deterministically, and that rejection is replicated too.
    let r = c
        .node(leader)
        .propose(set(0, "db2"))
        .await
        .expect("propose stale");
    assert_eq!(r, RegResp::Stale { current: 1 });

    let index = c.node(leader).last_applied().expect("leader applied").index;
    c.wait_applied(&all, index, Duration::from_secs(5)).await;
    for id in &all {
        let s = c.node(*id).state();
        assert_eq!(
            (s.value.as_str(), s.epoch, s.history.len()),
            ("db1", 1, 1),
            "node {id}"
        );
    }
    for rx in &mut applied {
        let (first, resp) = rx.recv().await.expect("applied command published");
        assert_eq!(resp, RegResp::Set { epoch: 1 });
        let (second, resp) = rx.recv().await.expect("second command published");
        assert_eq!(resp, RegResp::Stale { current: 1 });
        assert!(second.index > first.index);
    }
    c.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_names_the_leader() {
    let mut c = Cluster::start(3).await;
    let all = c.live();
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    let follower = *all.iter().find(|id| **id != leader).expect("a follower");

    let err = c
        .node(follower)
        .propose(set(0, "db1"))
        .await
        .expect_err("follower must refuse");
    assert_eq!(
        err,
        ProposeError::NotLeader {
            leader_id: Some(leader),
            leader_addr: Some(c.addrs[&leader].to_string())
        }
    );
    let info = c
        .node(follower)
        .leader()
        .expect("follower knows the leader");
    assert_eq!(info.id, leader);
    assert_eq!(
        info.addr.as_deref(),
        Some(c.addrs[&leader].to_string().as_str())
    );
    assert!(!c.node(follower).is_leader());
    // A new leader counts as fresh once a heartbeat round is acknowledged; a follower never is.
    let since = Instant::now();
    while !c
        .node(leader)
        .leader_quorum_fresh(Duration::from_millis(500))
    {
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "leader never saw a quorum ack"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !c.node(follower)
            .leader_quorum_fresh(Duration::from_millis(500))
    );
    // Nothing was applied by the refused proposal.
    assert_eq!(c.node(follower).state().epoch, 0);
    c.shutdown_all().await;
}
