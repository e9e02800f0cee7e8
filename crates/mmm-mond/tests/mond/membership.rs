//! Membership changes: a new node joins as learner then voter; a voter is removed.

use std::collections::BTreeSet;
use std::time::Duration;

use mmm_mond::raft::MembershipError;

use crate::support::{Cluster, RegResp, set};

fn voters(c: &Cluster, id: u64) -> BTreeSet<u64> {
    c.node(id)
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_then_remove_a_member() {
    let mut c = Cluster::start(3).await;
    let first = c.live();
    let leader = c.wait_leader(&first, Duration::from_secs(10)).await;
    assert_eq!(
        c.node(leader).propose(set(0, "db1")).await.expect("write"),
        RegResp::Set { epoch: 1 }
    );

    c.start_joiner(4).await;
    let follower = *first.iter().find(|id| **id != leader).expect("a follower");
    let refused = c
        .node(follower)
        .add_member(4, c.addrs[&4].to_string())
        .await;
    assert!(
        matches!(refused, Err(MembershipError::NotLeader { leader_id: Some(l), .. }) if l == leader)
    );

    c.node(leader)
        .add_member(4, c.addrs[&4].to_string())
        .await
        .expect("add member 4");
    assert_eq!(voters(&c, leader), BTreeSet::from([1, 2, 3, 4]));
    let index = c.node(leader).last_applied().expect("applied").index;
    c.wait_applied(&[4], index, Duration::from_secs(5)).await;
    assert_eq!(
        c.node(4).state(),
        c.node(leader).state(),
        "the new member caught up"
    );

    c.node(leader)
        .remove_member(follower)
        .await
        .expect("remove member");
    let remaining: Vec<u64> = [1, 2, 3, 4]
        .into_iter()
        .filter(|id| *id != follower)
        .collect();
    assert_eq!(
        voters(&c, leader),
        remaining.iter().copied().collect::<BTreeSet<_>>()
    );
    c.kill(follower).await;

    // Three voters left: the cluster still commits, and the newcomer applies it.
    let r = c
        .node(leader)
        .propose(set(1, "db2"))
        .await
        .expect("write after removal");
    assert_eq!(r, RegResp::Set { epoch: 2 });
    let index = c.node(leader).last_applied().expect("applied").index;
    c.wait_applied(&remaining, index, Duration::from_secs(5))
        .await;
    assert_eq!(c.node(4).state().history, ["db1", "db2"]);
    c.shutdown_all().await;
}

/// openraft 0.9 has no leader transfer: `campaign` forces a new election (in a higher term)
/// that any up-to-date voter may win; the cluster keeps committing afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_forces_a_new_election() {
    let mut c = Cluster::start(3).await;
    let all = c.live();
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    let term = c.node(leader).metrics().borrow().current_term;
    let follower = *all.iter().find(|id| **id != leader).expect("a follower");
    c.node(follower).campaign().await.expect("campaign");
    c.node(follower)
        .raft()
        .wait(Some(Duration::from_secs(5)))
        .metrics(
            |m| m.current_term > term && m.current_leader.is_some(),
            "new term led",
        )
        .await
        .expect("a leader in a higher term");
    let new = c.wait_leader(&all, Duration::from_secs(5)).await;
    println!("node {follower} campaigned: node {new} leads now (was {leader})");
    let r = c
        .node(new)
        .propose(set(0, "db1"))
        .await
        .expect("write after election");
    assert_eq!(r, RegResp::Set { epoch: 1 });
    c.shutdown_all().await;
}
