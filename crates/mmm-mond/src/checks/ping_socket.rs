//! One ICMP echo round trip over a kernel socket, driven by tokio.
//!
//! An unprivileged datagram ICMP socket is tried first (allowed when
//! `net.ipv4.ping_group_range` covers our group), then a raw socket (root or CAP_NET_RAW).
//! When neither can be opened the caller falls back to a TCP probe.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::icmp::{Echo, Family, Framing, echo_request, is_reply_to};

/// No ICMP socket could be opened here (no privilege, or no protocol support).
#[derive(Debug, thiserror::Error)]
#[error("cannot open an ICMP socket: {0}")]
pub struct IcmpUnavailable(#[source] pub io::Error);

/// An open, non-blocking ICMP socket and how the packets it returns are framed.
struct IcmpSocket {
    fd: AsyncFd<OwnedFd>,
    family: Family,
    framing: Framing,
    /// Datagram sockets get their identifier from the kernel, so replies cannot be matched on it.
    kernel_ident: bool,
}

/// Sends one echo request to `ip` and waits up to `timeout` for its reply.
/// `Ok(true)`: answered; `Ok(false)`: no answer in time or the send failed (no route).
pub(crate) async fn icmp_echo(ip: IpAddr, timeout: Duration) -> Result<bool, IcmpUnavailable> {
    let socket = IcmpSocket::open(&ip)?;
    let echo = next_echo();
    let request = echo_request(socket.family, echo);
    if socket.send_to(&request, ip).is_err() {
        return Ok(false);
    }
    let answered = tokio::time::timeout(timeout, socket.wait_reply(ip, echo)).await;
    Ok(matches!(answered, Ok(Ok(()))))
}

/// Set once the kernel refused an unprivileged ICMP socket (`net.ipv4.ping_group_range`
/// excludes this process), so later pings open the raw socket at once instead of failing the
/// same system call every `check_period` (until the monitor restarts).
static DGRAM_REFUSED: AtomicBool = AtomicBool::new(false);

impl IcmpSocket {
    fn open(ip: &IpAddr) -> Result<IcmpSocket, IcmpUnavailable> {
        let (domain, protocol, family) = match ip {
            IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP, Family::V4),
            IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6, Family::V6),
        };
        let dgram = if DGRAM_REFUSED.load(Ordering::Relaxed) {
            Err(io::Error::from_raw_os_error(libc::EACCES))
        } else {
            raw_socket(domain, libc::SOCK_DGRAM, protocol).inspect_err(|e| {
                if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) {
                    DGRAM_REFUSED.store(true, Ordering::Relaxed);
                }
            })
        };
        let (fd, framing, kernel_ident) = match dgram {
            Ok(fd) => (fd, Framing::Bare, true),
            Err(_) => {
                let fd = raw_socket(domain, libc::SOCK_RAW, protocol).map_err(IcmpUnavailable)?;
                let framing = match family {
                    Family::V4 => Framing::Ipv4Header,
                    Family::V6 => Framing::Bare,
                };
                (fd, framing, false)
            }
        };
        // SAFETY: `fd` is an open socket owned by the `OwnedFd`, which the `AsyncFd` owns
        // for its whole life, so the descriptor stays valid and unchanged.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| IcmpUnavailable(e.into_parts().1))?;
        Ok(IcmpSocket {
            fd,
            family,
            framing,
            kernel_ident,
        })
    }

    fn send_to(&self, packet: &[u8], ip: IpAddr) -> io::Result<()> {
        let (storage, len) = sockaddr_of(ip);
        // SAFETY: `storage` is a valid, initialised socket address of `len` bytes and `packet`
        // is a live slice; the fd is owned by `self`.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&raw const storage).cast(),
                len,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    async fn wait_reply(&self, ip: IpAddr, echo: Echo) -> io::Result<()> {
        let mut buf = [0u8; 1500];
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv_from(fd.get_ref().as_raw_fd(), &mut buf)) {
                Ok(Ok((len, from))) => {
                    let packet = buf.get(..len).unwrap_or_default();
                    if same_ip(from, ip)
                        && is_reply_to(packet, self.family, self.framing, echo, !self.kernel_ident)
                    {
                        return Ok(());
                    }
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

fn raw_socket(domain: i32, kind: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            domain,
            kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn recv_from(fd: i32, buf: &mut [u8]) -> io::Result<(usize, Option<IpAddr>)> {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `buf` and `storage` are live, writable and their sizes are passed along.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            (&raw mut storage).cast(),
            &mut len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n.unsigned_abs(), ip_of(&storage)))
}

fn sockaddr_of(ip: IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    match SocketAddr::new(ip, 0) {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
            (storage, size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            (storage, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

fn ip_of(storage: &libc::sockaddr_storage) -> Option<IpAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin = unsafe { &*(&raw const *storage).cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(
                sin.sin_addr.s_addr.to_ne_bytes(),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 = unsafe { &*(&raw const *storage).cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

fn same_ip(from: Option<IpAddr>, ip: IpAddr) -> bool {
    from.is_some_and(|from| from == ip || from.to_canonical() == ip.to_canonical())
}

/// A fresh identifier, sequence number and payload token for one echo request.
fn next_echo() -> Echo {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    Echo {
        ident: (std::process::id() as u16) ^ ((n >> 16) as u16),
        seq: n as u16,
        token: nanos ^ (u64::from(n) << 32) ^ u64::from(std::process::id()),
    }
}
