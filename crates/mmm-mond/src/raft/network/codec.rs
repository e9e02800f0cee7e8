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
