//! Raft RPC over the tonic Peer service, with link-level fault injection.

mod client;
mod codec;
mod health;
mod partition;
mod server;

pub use client::{NetworkFactory, PeerNetwork, TransportError};
pub use codec::CodecError;
pub use health::{PeerContact, PeerHealth};
pub use partition::Partition;
pub use server::ObservationsHandler;
pub(crate) use server::{ObservationsSlot, PeerService};
