//! A leader cut off from both followers cannot commit, loses its quorum freshness, and steps
//! down and converges once the partition heals.

use std::time::{Duration, Instant};

use mmm_mond::raft::ProposeError;

use crate::support::{Cluster, RegResp, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_leader_cannot_commit_and_steps_down_after_heal() {
    let mut c = Cluster::start(3).await;
    let all = c.live();
    let old = c.wait_leader(&all, Duration::from_secs(10)).await;
    assert_eq!(
        c.node(old).propose(set(0, "db1")).await.expect("write"),
        RegResp::Set { epoch: 1 }
    );
    let majority: Vec<_> = all.iter().copied().filter(|id| *id != old).collect();
    assert!(c.node(old).leader_quorum_fresh(Duration::from_millis(500)));

    let cut_at = Instant::now();
    c.partition.isolate(old, majority.iter().copied());

    // The cut-off leader notices it lost its quorum within about an election timeout.
    loop {
        if !c.node(old).leader_quorum_fresh(Duration::from_millis(500)) {
            break;
        }
        assert!(
            cut_at.elapsed() < Duration::from_secs(3),
            "quorum freshness never turned false"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stale_after = cut_at.elapsed();
    println!("cut-off leader {old}: quorum stale after {stale_after:?}");
    assert!(
        stale_after < Duration::from_millis(1500),
        "took {stale_after:?}"
    );

    // Its proposal cannot commit (it still believes it leads, so it waits and times out).
    let minority_write = {
        let node = c.node(old);
        async move { node.propose(set(1, "minority")).await }
    };
    let majority_side = async {
        let new = c.wait_leader(&majority, Duration::from_secs(10)).await;
        let r = c
            .node(new)
            .propose(set(1, "db2"))
            .await
            .expect("majority commits");
        (new, r)
    };
    let (minority, (new, r)) = tokio::join!(minority_write, majority_side);
    assert!(
        matches!(
            minority,
            Err(ProposeError::Timeout(_) | ProposeError::NotLeader { .. })
        ),
        "minority write must not commit: {minority:?}"
    );
    assert_ne!(new, old);
    assert_eq!(r, RegResp::Set { epoch: 2 });
    assert!(c.node(new).leader_quorum_fresh(Duration::from_millis(500)));
    assert!(!c.node(old).leader_quorum_fresh(Duration::from_millis(500)));

    c.partition.heal();
    let healed_at = Instant::now();
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    println!(
        "healed: single leader {leader} after {:?}",
        healed_at.elapsed()
    );
    assert!(!c.node(old).is_leader(), "old leader stepped down");
    let index = c.node(leader).last_applied().expect("applied").index;
    c.wait_applied(&all, index, Duration::from_secs(5)).await;
    for id in &all {
        let s = c.node(*id).state();
        assert_eq!(
            s.history,
            ["db1", "db2"],
            "node {id}: the minority write never applies"
        );
    }
    c.shutdown_all().await;
}
