//! ICMP echo packets: building a request and recognising the reply that answers it.
//!
//! Pure byte handling, so the socket code in `ping_socket` stays small and this part is
//! unit-tested without a network.

/// ICMPv4 "echo request" type.
const V4_ECHO_REQUEST: u8 = 8;
/// ICMPv4 "echo reply" type.
const V4_ECHO_REPLY: u8 = 0;
/// ICMPv6 "echo request" type.
const V6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 "echo reply" type.
const V6_ECHO_REPLY: u8 = 129;

/// Length of the ICMP echo header (type, code, checksum, identifier, sequence).
const HEADER_LEN: usize = 8;

/// What makes one echo request unique, so only its own reply is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Echo {
    /// Identifier field; the kernel rewrites it on unprivileged (datagram) sockets.
    pub ident: u16,
    /// Sequence field.
    pub seq: u16,
    /// Random-ish token carried in the payload and echoed back by the peer.
    pub token: u64,
}

/// Which ICMP flavour a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// ICMP over IPv4.
    V4,
    /// ICMPv6.
    V6,
}

/// How received packets are framed by the socket they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Raw IPv4 sockets hand over the IP header in front of the ICMP message.
    Ipv4Header,
    /// Datagram sockets and raw ICMPv6 sockets hand over the ICMP message alone.
    Bare,
}

/// The bytes of an echo request for `echo` (checksum filled in; the kernel recomputes it
/// for ICMPv6, where it covers a pseudo header only the kernel knows).
pub(crate) fn echo_request(family: Family, echo: Echo) -> Vec<u8> {
    let kind = match family {
        Family::V4 => V4_ECHO_REQUEST,
        Family::V6 => V6_ECHO_REQUEST,
    };
    let mut packet = Vec::with_capacity(HEADER_LEN + 8);
    packet.extend_from_slice(&[kind, 0, 0, 0]);
    packet.extend_from_slice(&echo.ident.to_be_bytes());
    packet.extend_from_slice(&echo.seq.to_be_bytes());
    packet.extend_from_slice(&echo.token.to_be_bytes());
    if family == Family::V4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The Internet checksum (RFC 1071) of `data`.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// True when `packet` is the echo reply to `echo`. With `check_ident` false the identifier is
/// not compared (datagram sockets replace it with their own), the token still is.
pub(crate) fn is_reply_to(
    packet: &[u8],
    family: Family,
    framing: Framing,
    echo: Echo,
    check_ident: bool,
) -> bool {
    let icmp = match framing {
        Framing::Bare => packet,
        Framing::Ipv4Header => {
            let Some(first) = packet.first() else {
                return false;
            };
            if first >> 4 != 4 {
                return false;
            }
            let header_len = usize::from(first & 0x0f) * 4;
            match packet.get(header_len..) {
                Some(rest) => rest,
                None => return false,
            }
        }
    };
    if icmp.len() < HEADER_LEN + 8 {
        return false;
    }
    let expected = match family {
        Family::V4 => V4_ECHO_REPLY,
        Family::V6 => V6_ECHO_REPLY,
    };
    let ident = u16::from_be_bytes([icmp[4], icmp[5]]);
    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    let mut token = [0u8; 8];
    token.copy_from_slice(&icmp[HEADER_LEN..HEADER_LEN + 8]);
    icmp[0] == expected
        && icmp[1] == 0
        && seq == echo.seq
        && (!check_ident || ident == echo.ident)
        && u64::from_be_bytes(token) == echo.token
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: Echo = Echo {
        ident: 0x1234,
        seq: 7,
        token: 0x0102_0304_0506_0708,
    };

    /// Turns a request into the reply a peer would send (type changed, checksum redone).
    fn reply_of(request: &[u8], family: Family) -> Vec<u8> {
        let mut reply = request.to_vec();
        reply[0] = match family {
            Family::V4 => V4_ECHO_REPLY,
            Family::V6 => V6_ECHO_REPLY,
        };
        reply[2] = 0;
        reply[3] = 0;
        let sum = checksum(&reply);
        reply[2..4].copy_from_slice(&sum.to_be_bytes());
        reply
    }

    fn with_ipv4_header(icmp: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        packet.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        packet.extend_from_slice(icmp);
        packet
    }

    #[test]
    fn request_checksum_verifies_to_zero() {
        let request = echo_request(Family::V4, ECHO);
        assert_eq!(request[0], V4_ECHO_REQUEST);
        assert_eq!(
            checksum(&request),
            0,
            "a packet with its checksum sums to zero"
        );
    }

    #[test]
    fn checksum_handles_odd_lengths() {
        // 0x0100 + 0x0200 + 0x0300 (odd byte padded) = 0x0600 -> !0x0600
        assert_eq!(checksum(&[1, 0, 2, 0, 3]), !0x0600);
    }

    #[test]
    fn accepts_own_reply_in_both_framings() {
        let reply = reply_of(&echo_request(Family::V4, ECHO), Family::V4);
        assert!(is_reply_to(&reply, Family::V4, Framing::Bare, ECHO, true));
        let framed = with_ipv4_header(&reply);
        assert!(is_reply_to(
            &framed,
            Family::V4,
            Framing::Ipv4Header,
            ECHO,
            true
        ));
        let reply6 = reply_of(&echo_request(Family::V6, ECHO), Family::V6);
        assert!(is_reply_to(&reply6, Family::V6, Framing::Bare, ECHO, true));
    }

    #[test]
    fn rejects_requests_foreign_replies_and_garbage() {
        let request = echo_request(Family::V4, ECHO);
        assert!(!is_reply_to(
            &request,
            Family::V4,
            Framing::Bare,
            ECHO,
            true
        ));
        let reply = reply_of(&request, Family::V4);
        let other_seq = Echo { seq: 8, ..ECHO };
        assert!(!is_reply_to(
            &reply,
            Family::V4,
            Framing::Bare,
            other_seq,
            true
        ));
        let other_ident = Echo { ident: 1, ..ECHO };
        assert!(!is_reply_to(
            &reply,
            Family::V4,
            Framing::Bare,
            other_ident,
            true
        ));
        assert!(is_reply_to(
            &reply,
            Family::V4,
            Framing::Bare,
            other_ident,
            false
        ));
        let other_token = Echo { token: 9, ..ECHO };
        assert!(!is_reply_to(
            &reply,
            Family::V4,
            Framing::Bare,
            other_token,
            false
        ));
        assert!(!is_reply_to(
            &[],
            Family::V4,
            Framing::Ipv4Header,
            ECHO,
            true
        ));
        assert!(!is_reply_to(
            &[0x4f],
            Family::V4,
            Framing::Ipv4Header,
            ECHO,
            true
        ));
        assert!(!is_reply_to(
            &reply[..10],
            Family::V4,
            Framing::Bare,
            ECHO,
            true
        ));
        assert!(!is_reply_to(&reply, Family::V6, Framing::Bare, ECHO, true));
    }
}
