//! Gratuitous ARP after a VIP is added, so neighbours switch to this host's MAC at once.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

const ETH_P_ARP: u16 = 0x0806;

/// ARP operation of a gratuitous frame: request form (`arping -U`) or reply form (`arping -A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    /// op = 1.
    Request,
    /// op = 2.
    Reply,
}

/// Builds a broadcast gratuitous ARP frame announcing `ip` at `mac` (sender = target = ip).
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr, op: ArpOp) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    // hardware Ethernet, protocol IPv4, hlen 6, plen 4
    f[14..20].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
    f[20..22].copy_from_slice(
        &match op {
            ArpOp::Request => 1u16,
            ArpOp::Reply => 2u16,
        }
        .to_be_bytes(),
    );
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    let target_mac = match op {
        ArpOp::Request => [0u8; 6],
        ArpOp::Reply => [0xff; 6],
    };
    f[32..38].copy_from_slice(&target_mac);
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// A raw AF_PACKET socket, closed on drop.
struct PacketSocket(libc::c_int);

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: the descriptor was returned by socket() and is closed exactly once here.
        unsafe {
            libc::close(self.0);
        }
    }
}

fn send_frame(sock: &PacketSocket, ifindex: u32, frame: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid starting value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ARP.to_be();
    sll.sll_ifindex = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // SAFETY: frame and sll are valid for the lengths passed; the fd is open.
    let n = unsafe {
        libc::sendto(
            sock.0,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sends `rounds` pairs of gratuitous ARP (request then reply form), `gap` apart.
/// Needs CAP_NET_RAW.
pub async fn announce(
    ifindex: u32,
    mac: [u8; 6],
    ip: Ipv4Addr,
    rounds: u32,
    gap: Duration,
) -> io::Result<()> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ARP.to_be()),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let sock = PacketSocket(fd);
    for i in 0..rounds {
        send_frame(&sock, ifindex, &garp_frame(mac, ip, ArpOp::Request))?;
        send_frame(&sock, ifindex, &garp_frame(mac, ip, ArpOp::Reply))?;
        if i + 1 < rounds {
            tokio::time::sleep(gap).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_frame_bytes() {
        let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        let f = garp_frame(mac, Ipv4Addr::new(10, 213, 7, 100), ArpOp::Request);
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08,
            0x06, //
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
            0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 10, 213, 7, 100, //
            0, 0, 0, 0, 0, 0, 10, 213, 7, 100,
        ];
        assert_eq!(f, expected);
    }

    #[test]
    fn reply_frame_uses_op_two_and_broadcast_target() {
        let f = garp_frame(
            [1, 2, 3, 4, 5, 6],
            Ipv4Addr::new(10, 213, 7, 9),
            ArpOp::Reply,
        );
        assert_eq!(&f[20..22], &[0, 2]);
        assert_eq!(&f[32..38], &[0xff; 6]);
        assert_eq!(&f[28..32], &f[38..42]);
    }
}
