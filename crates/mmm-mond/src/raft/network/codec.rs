//! postcard encoding of openraft messages inside the Peer service's `RaftPayload`.

use mmm_proto::pb::RaftPayload;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a Raft payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("raft payload codec: {0}")]
pub struct CodecError(#[from] postcard::Error);

/// Encodes an openraft request or response into a payload.
pub(crate) fn to_payload<T: Serialize>(value: &T) -> Result<RaftPayload, CodecError> {
    Ok(RaftPayload {
        data: postcard::to_stdvec(value)?,
    })
}

/// Decodes an openraft request or response from a payload.
pub(crate) fn from_payload<T: DeserializeOwned>(payload: &RaftPayload) -> Result<T, CodecError> {
    Ok(postcard::from_bytes(&payload.data)?)
}

#[cfg(test)]
mod tests {
    use openraft::error::{Fatal, InstallSnapshotError, RaftError, SnapshotMismatch};
    use openraft::raft::{AppendEntriesResponse, InstallSnapshotResponse, VoteRequest};
    use openraft::{CommittedLeaderId, LogId, SnapshotSegmentId, Vote};

    use super::*;

    type AppendResult = Result<AppendEntriesResponse<u64>, RaftError<u64>>;
    type SnapshotResult =
        Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>;

    #[test]
    fn requests_and_remote_errors_round_trip() -> Result<(), CodecError> {
        let vote = VoteRequest::new(
            Vote::new(3, 2),
            Some(LogId::new(CommittedLeaderId::new(2, 1), 7)),
        );
        let back: VoteRequest<u64> = from_payload(&to_payload(&vote)?)?;
        assert_eq!(back, vote);

        let stopped: AppendResult = Err(RaftError::Fatal(Fatal::Stopped));
        let back: AppendResult = from_payload(&to_payload(&stopped)?)?;
        assert!(matches!(back, Err(RaftError::Fatal(Fatal::Stopped))));

        let segment = |offset| SnapshotSegmentId {
            id: "s1".to_string(),
            offset,
        };
        let mismatch: SnapshotResult = Err(RaftError::APIError(
            SnapshotMismatch {
                expect: segment(0),
                got: segment(9),
            }
            .into(),
        ));
        let back: SnapshotResult = from_payload(&to_payload(&mismatch)?)?;
        match back {
            Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(m))) => {
                assert_eq!((m.expect.offset, m.got.offset), (0, 9));
            }
            other => panic!("unexpected {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let garbage = RaftPayload {
            data: vec![0xff; 5],
        };
        assert!(from_payload::<VoteRequest<u64>>(&garbage).is_err());
        assert!(from_payload::<AppendResult>(&RaftPayload { data: Vec::new() }).is_err());
    }
}
