//! postcard encoding of openraft messages inside the Peer service's `RaftPayload`, tagged
//! with the wire format so that monitors of releases that encode differently refuse each
//! other's messages instead of misreading them.

use mmm_proto::pb::RaftPayload;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The layout of the postcard-encoded openraft messages this build sends and reads. It is
/// raised whenever a type inside them changes shape (a log entry's command, the state in a
/// snapshot); monitors of two formats cannot talk, so such a release needs all monitors
/// upgraded together.
pub const WIRE_FORMAT: u32 = 1;

/// Why a Raft payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The bytes are not a postcard encoding of the expected message.
    #[error("raft payload codec: {0}")]
    Postcard(#[from] postcard::Error),
    /// The sender wrote another wire format.
    #[error(
        "raft payload in wire format {found}; this monitor reads format {supported} only \
         (every monitor must run a release with the same Raft wire format)"
    )]
    Format {
        /// The format the payload carries.
        found: u32,
        /// The format this build reads.
        supported: u32,
    },
}

/// Encodes an openraft request or response into a payload.
pub(crate) fn to_payload<T: Serialize>(value: &T) -> Result<RaftPayload, CodecError> {
    Ok(RaftPayload {
        data: postcard::to_stdvec(value)?,
        format: WIRE_FORMAT,
    })
}

/// Decodes an openraft request or response from a payload of this build's wire format.
pub(crate) fn from_payload<T: DeserializeOwned>(payload: &RaftPayload) -> Result<T, CodecError> {
    // Senders older than the field leave it 0; they wrote format 1.
    let found = payload.format.max(1);
    if found != WIRE_FORMAT {
        return Err(CodecError::Format {
            found,
            supported: WIRE_FORMAT,
        });
    }
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
            format: WIRE_FORMAT,
        };
        assert!(from_payload::<VoteRequest<u64>>(&garbage).is_err());
        let empty = RaftPayload {
            data: Vec::new(),
            format: WIRE_FORMAT,
        };
        assert!(from_payload::<AppendResult>(&empty).is_err());
    }

    #[test]
    fn another_wire_format_is_refused_and_an_unset_one_is_format_1() -> Result<(), CodecError> {
        let vote = VoteRequest::new(Vote::new(3, 2), None);
        let mut payload = to_payload(&vote)?;
        assert_eq!(payload.format, WIRE_FORMAT);
        payload.format = 0;
        let back: VoteRequest<u64> = from_payload(&payload)?;
        assert_eq!(back, vote, "a sender older than the field wrote format 1");
        payload.format = WIRE_FORMAT + 1;
        let err = from_payload::<VoteRequest<u64>>(&payload).expect_err("another format");
        assert!(
            matches!(err, CodecError::Format { found, supported }
                if found == WIRE_FORMAT + 1 && supported == WIRE_FORMAT),
            "{err}"
        );
        Ok(())
    }
}
