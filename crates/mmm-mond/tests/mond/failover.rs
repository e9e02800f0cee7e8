//! Killing the leader (no step-down) gets a new leader that commits within about a second.

use std::time::{Duration, Instant};

use crate::support::{Cluster, RegResp, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_is_replaced_quickly() {
    let mut c = Cluster::start(3).await;
    let all = c.live();
    let old = c.wait_leader(&all, Duration::from_secs(10)).await;
    assert_eq!(
        c.node(old)
            .propose(set(0, "db1"))
            .await
            .expect("first write"),
        RegResp::Set { epoch: 1 }
    );
    let index = c.node(old).last_applied().expect("applied").index;
    c.wait_applied(&all, index, Duration::from_secs(5)).await;

    let killed_at = Instant::now();
    c.kill(old).await;
    let rest = c.live();
    let new = c.wait_leader(&rest, Duration::from_secs(10)).await;
    let elected = killed_at.elapsed();
    assert_ne!(new, old);
    let r = c
        .node(new)
        .propose(set(1, "db2"))
        .await
        .expect("write after failover");
    let committed = killed_at.elapsed();
    assert_eq!(r, RegResp::Set { epoch: 2 });
    println!(
        "leader {old} killed: node {new} elected after {elected:?}, first commit after {committed:?}"
    );
    assert!(
        committed < Duration::from_secs(4),
        "failover took {committed:?}"
    );

    // The old leader comes back as a follower and catches up from its own disk plus the log.
    c.restart(old).await;
    let all = c.live();
    let index = c.node(new).last_applied().expect("applied").index;
    c.wait_applied(&all, index, Duration::from_secs(5)).await;
    assert_eq!(c.node(old).state(), c.node(new).state());
    assert_eq!(
        c.wait_leader(&all, Duration::from_secs(5)).await,
        new,
        "the restarted node does not take over"
    );
    c.shutdown_all().await;
}
