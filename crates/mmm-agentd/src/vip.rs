//! Virtual IPs on the cluster interface through rtnetlink, verified after every change.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::{AddressMessageBuilder, Handle};

use crate::arp;

/// Why a VIP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    /// Opening the netlink socket failed.
    #[error("netlink: {0}")]
    Socket(std::io::Error),
    /// The configured interface does not exist.
    #[error("interface '{0}' not found")]
    NoInterface(String),
    /// The kernel refused or failed a request.
    #[error("{0}")]
    Netlink(String),
    /// A netlink call did not finish in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was attempted.
        what: String,
        /// The limit.
        after: Duration,
    },
    /// After the change the address is not in the wanted state.
    #[error("verification failed: {0}")]
    Verify(String),
    /// Only IPv4 VIPs are announced by ARP.
    #[error("only IPv4 role IPs are supported, got {0}")]
    NotIpv4(IpAddr),
    /// Sending gratuitous ARP failed.
    #[error("gratuitous ARP: {0}")]
    Arp(std::io::Error),
}

/// The interface and netlink handle the agent manages VIPs with.
#[derive(Debug, Clone)]
pub struct Vips {
    handle: Handle,
    interface: String,
    timeout: Duration,
}

struct Link {
    index: u32,
    mac: [u8; 6],
}

impl Vips {
    /// Opens a netlink connection (its driver runs as a task) for `interface`.
    pub fn new(interface: &str, timeout: Duration) -> Result<Vips, VipError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(VipError::Socket)?;
        tokio::spawn(conn);
        Ok(Vips {
            handle,
            interface: interface.to_string(),
            timeout,
        })
    }

    /// The interface VIPs go on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    async fn bounded<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, VipError>>,
    ) -> Result<T, VipError> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| VipError::Timeout {
                what: what.to_string(),
                after: self.timeout,
            })?
    }

    async fn link(&self) -> Result<Link, VipError> {
        self.bounded("interface lookup", async {
            let msg = self
                .handle
                .link()
                .get()
                .match_name(self.interface.clone())
                .execute()
                .try_next()
                .await
                .map_err(|_| VipError::NoInterface(self.interface.clone()))?
                .ok_or_else(|| VipError::NoInterface(self.interface.clone()))?;
            let mut mac = [0u8; 6];
            for attr in &msg.attributes {
                if let LinkAttribute::Address(bytes) = attr
                    && bytes.len() == 6
                {
                    mac.copy_from_slice(bytes);
                }
            }
            Ok(Link {
                index: msg.header.index,
                mac,
            })
        })
        .await
    }

    /// Every IPv4/IPv6 address on the interface.
    pub async fn addresses(&self) -> Result<Vec<IpAddr>, VipError> {
        let link = self.link().await?;
        self.addresses_on(link.index).await
    }

    async fn addresses_on(&self, index: u32) -> Result<Vec<IpAddr>, VipError> {
        self.bounded("address list", async {
            let mut stream = self
                .handle
                .address()
                .get()
                .set_link_index_filter(index)
                .execute();
            let mut out = Vec::new();
            while let Some(msg) = stream
                .try_next()
                .await
                .map_err(|e| VipError::Netlink(e.to_string()))?
            {
                if msg.header.index != index {
                    continue;
                }
                for attr in &msg.attributes {
                    if let AddressAttribute::Local(ip) | AddressAttribute::Address(ip) = attr
                        && !out.contains(ip)
                    {
                        out.push(*ip);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Adds `ip/32` when absent, verifies it, then announces it with gratuitous ARP.
    pub async fn add(&self, ip: IpAddr) -> Result<(), VipError> {
        let v4 = as_v4(ip)?;
        let link = self.link().await?;
        if !self.addresses_on(link.index).await?.contains(&ip) {
            self.bounded("address add", async {
                self.handle
                    .address()
                    .add(link.index, ip, 32)
                    .execute()
                    .await
                    .map_err(|e| VipError::Netlink(e.to_string()))
            })
            .await?;
            if !self.addresses_on(link.index).await?.contains(&ip) {
                return Err(VipError::Verify(format!(
                    "{ip} absent from {} after add",
                    self.interface
                )));
            }
        }
        self.announce(link.index, link.mac, v4).await
    }

    /// Announces `ip` again when it is on the interface (the driver's once-a-second pass for the
    /// VIPs it holds, so clients pointed elsewhere, e.g. after a partition heals, come back
    /// within a second); does nothing for an address that is not there.
    pub async fn reannounce(&self, ip: IpAddr) -> Result<(), VipError> {
        let v4 = as_v4(ip)?;
        let link = self.link().await?;
        if !self.addresses_on(link.index).await?.contains(&ip) {
            return Ok(());
        }
        self.announce(link.index, link.mac, v4).await
    }

    /// Sends one round of gratuitous ARP (request and reply form) for an address present. One
    /// round keeps a role change fast; the once-a-second re-announcement repeats it.
    async fn announce(&self, index: u32, mac: [u8; 6], ip: Ipv4Addr) -> Result<(), VipError> {
        self.bounded("gratuitous ARP", async {
            arp::announce(index, mac, ip, 1, Duration::ZERO)
                .await
                .map_err(VipError::Arp)
        })
        .await
    }

    /// Deletes `ip/32` when present and verifies it is gone.
    pub async fn remove(&self, ip: IpAddr) -> Result<(), VipError> {
        let v4 = as_v4(ip)?;
        let link = self.link().await?;
        if !self.addresses_on(link.index).await?.contains(&ip) {
            return Ok(());
        }
        self.bounded("address delete", async {
            let msg = AddressMessageBuilder::<Ipv4Addr>::new()
                .index(link.index)
                .address(v4, 32)
                .build();
            self.handle
                .address()
                .del(msg)
                .execute()
                .await
                .map_err(|e| VipError::Netlink(e.to_string()))
        })
        .await?;
        if self.addresses_on(link.index).await?.contains(&ip) {
            return Err(VipError::Verify(format!(
                "{ip} still on {} after delete",
                self.interface
            )));
        }
        Ok(())
    }
}

fn as_v4(ip: IpAddr) -> Result<Ipv4Addr, VipError> {
    match ip {
        IpAddr::V4(v4) => Ok(v4),
        other => Err(VipError::NotIpv4(other)),
    }
}
