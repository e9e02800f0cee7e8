//! The `ping` check: is the host's IP answering at all?
//!
//! mysql-mmm sends one ICMP echo with a fixed 0.5 s timeout. We do the same from Rust; where
//! the process may open no ICMP socket, a TCP connect stands in: an accepted or refused
//! connection proves the host answered, silence or "unreachable" proves nothing came back.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;

use super::ping_socket::icmp_echo;

/// mysql-mmm's fixed ping timeout (the `timeout` of `<check ping>` is ignored, as in MMM).
pub const PING_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the TCP fallback knocks when no service port is known (the discard port: a live
/// host answers with a refusal, which counts as reachable).
pub const FALLBACK_PORT: u16 = 9;

/// How a reachability probe reached its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeMethod {
    /// An ICMP echo reply came back (or none did).
    Icmp,
    /// ICMP sockets were not permitted; a TCP connect was tried instead.
    Tcp,
}

/// Whether `ip` answered within `timeout`, and how that was found out. `fallback_port` is
/// the TCP port knocked on when ICMP sockets cannot be opened.
pub async fn probe(ip: IpAddr, fallback_port: u16, timeout: Duration) -> (bool, ProbeMethod) {
    match icmp_echo(ip, timeout).await {
        Ok(answered) => (answered, ProbeMethod::Icmp),
        Err(unavailable) => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    error = %unavailable,
                    "ICMP sockets are not permitted; ping checks use a TCP connect instead"
                );
            }
            (
                tcp_probe(ip, fallback_port, timeout).await,
                ProbeMethod::Tcp,
            )
        }
    }
}

/// The `ping` check's raw result line for `ip`: `OK` or `ERROR: Could not ping IP`.
pub async fn check_ping(ip: IpAddr, fallback_port: u16) -> String {
    ping_line(ip, probe(ip, fallback_port, PING_TIMEOUT).await.0)
}

/// mysql-mmm's wording of a ping verdict.
pub fn ping_line(ip: IpAddr, answered: bool) -> String {
    if answered {
        "OK".to_string()
    } else {
        format!("ERROR: Could not ping {ip}")
    }
}

/// A TCP connect to `ip:port`: accepted or refused means the host answered.
async fn tcp_probe(ip: IpAddr, port: u16, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, TcpStream::connect((ip, port))).await {
        Ok(Ok(_stream)) => true,
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Err(_elapsed) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    #[test]
    fn wording_matches_mysql_mmm() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 213, 7, 11));
        assert_eq!(ping_line(ip, true), "OK");
        assert_eq!(ping_line(ip, false), "ERROR: Could not ping 10.213.7.11");
    }

    #[tokio::test]
    async fn tcp_probe_counts_accept_and_refusal_as_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open: SocketAddr = listener.local_addr().expect("addr");
        assert!(tcp_probe(open.ip(), open.port(), PING_TIMEOUT).await);
        drop(listener);
        // The port just closed: the kernel refuses, which is an answer.
        assert!(tcp_probe(open.ip(), open.port(), PING_TIMEOUT).await);
    }
}
