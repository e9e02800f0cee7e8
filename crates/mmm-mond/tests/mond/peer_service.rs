//! The Peer gRPC service: bad payloads and payloads of another wire format are refused without
//! effect, and the observations handler can be installed on a running node.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use mmm_mond::raft::ObservationsHandler;
use mmm_proto::pb::peer_client::PeerClient;
use mmm_proto::pb::{Observations, ObservationsAck, RaftPayload};
use tonic::{Code, Status};

use crate::support::{Cluster, RegResp, set};

struct Recorder(Arc<Mutex<Vec<u64>>>);

impl ObservationsHandler for Recorder {
    fn report(
        &self,
        observations: Observations,
    ) -> BoxFuture<'static, Result<ObservationsAck, Status>> {
        self.0
            .lock()
            .expect("recorder lock")
            .push(observations.monitor_id);
        Box::pin(async {
            Ok(ObservationsAck {
                accepted: true,
                leader_hint: String::new(),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_refused_and_observations_reach_the_handler() {
    let mut c = Cluster::start(3).await;
    let all = c.live();
    let leader = c.wait_leader(&all, Duration::from_secs(10)).await;
    let follower = *all.iter().find(|id| **id != leader).expect("a follower");
    let mut client = PeerClient::connect(format!("http://{}", c.addrs[&follower]))
        .await
        .expect("connect to follower");

    let garbage = RaftPayload {
        data: vec![0xff; 7],
        format: 1,
    };
    for status in [
        client
            .append_entries(garbage.clone())
            .await
            .expect_err("garbage append"),
        client
            .vote(garbage.clone())
            .await
            .expect_err("garbage vote"),
        client
            .install_snapshot(garbage)
            .await
            .expect_err("garbage snapshot"),
    ] {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }

    let obs = Observations {
        monitor_id: 7,
        network_ok: true,
        ..Default::default()
    };
    let status = client
        .report_observations(obs.clone())
        .await
        .expect_err("no handler yet");
    assert_eq!(status.code(), Code::Unavailable);
    let seen = Arc::new(Mutex::new(Vec::new()));
    c.node(follower)
        .set_observations_handler(Arc::new(Recorder(seen.clone())));
    let ack = client
        .report_observations(obs)
        .await
        .expect("handled")
        .into_inner();
    assert!(ack.accepted);
    assert_eq!(*seen.lock().expect("recorder lock"), [7]);

    // A well-formed vote for a far later term in another wire format (a monitor of a release
    // that encodes differently) is refused as such, never read: the term does not move.
    let term = c.node(follower).metrics().borrow().current_term;
    let vote = openraft::raft::VoteRequest::<u64>::new(openraft::Vote::new(term + 50, 9), None);
    let foreign = RaftPayload {
        data: postcard::to_stdvec(&vote).expect("encode"),
        format: 2,
    };
    let status = client.vote(foreign).await.expect_err("foreign format");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status
            .message()
            .contains("wire format 2; this monitor reads format 1 only"),
        "{status:?}"
    );
    assert!(c.node(follower).metrics().borrow().current_term < term + 50);

    // The refused payloads changed nothing: same leader, and the cluster still commits.
    assert_eq!(c.wait_leader(&all, Duration::from_secs(2)).await, leader);
    let r = c.node(leader).propose(set(0, "db1")).await.expect("write");
    assert_eq!(r, RegResp::Set { epoch: 1 });
    c.shutdown_all().await;
}
