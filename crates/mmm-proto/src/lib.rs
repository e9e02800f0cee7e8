//! The gRPC contract of mmm: generated code for the Agent, Control and Peer services.
//!
//! This is the only crate that knows prost; other crates convert at its edge through
//! [`convert`], the one place that maps wire values to mmm-core's types and back.

pub mod convert;

/// Generated messages and service stubs of package `mmm.v1`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("mmm.v1");

    /// Encoded descriptors of every service, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("mmm_descriptor");
}
