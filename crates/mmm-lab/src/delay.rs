//! A userspace delay line for kernels without `sch_netem`: frames a host sends are held for a
//! fixed time before they reach the bridge; frames towards the host pass at once.
//!
//! The relay sits between two interfaces in the bridge namespace, using AF_PACKET sockets with
//! virtio-net headers so segmentation offload frames pass through intact.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::netns::Netns;

/// Frames held at most (like netem's default `limit 1000`, with headroom); more are dropped.
const QUEUE_LIMIT: usize = 10_000;
/// Largest frame (plus virtio-net header) the relay copies.
const FRAME_BUF: usize = 65_536 + 64;
/// `ETH_P_ALL`: every protocol.
const ETH_P_ALL: u16 = 0x0003;

/// A running delay line; dropping it stops the relay thread.
#[derive(Debug)]
pub(crate) struct DelayLine {
    stop: Arc<AtomicBool>,
    delay_us: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl DelayLine {
    /// Starts relaying between `host_side` (frames from the host, delayed) and `bridge_side`
    /// (frames to the host, immediate), both interfaces of `netns`.
    pub(crate) fn start(
        netns: &Netns,
        host_side: &str,
        bridge_side: &str,
        delay: Duration,
    ) -> Result<Self> {
        let (h, b) = netns.run(|| -> Result<(OwnedFd, OwnedFd)> {
            Ok((packet_socket(host_side)?, packet_socket(bridge_side)?))
        })??;
        let stop = Arc::new(AtomicBool::new(false));
        let delay_us = Arc::new(AtomicU64::new(micros(delay)));
        let (s, d) = (stop.clone(), delay_us.clone());
        let thread = std::thread::Builder::new()
            .name(format!("delay-{host_side}"))
            .spawn(move || relay(&h, &b, &s, &d))
            .map_err(|e| LabError::io("spawning the delay relay", e))?;
        Ok(Self {
            stop,
            delay_us,
            thread: Some(thread),
        })
    }

    /// Changes the delay of frames read from now on.
    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_us.store(micros(delay), Ordering::Relaxed);
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// An AF_PACKET socket bound to `ifname` (in the calling thread's namespace) with virtio-net headers.
fn packet_socket(ifname: &str) -> Result<OwnedFd> {
    let err = |what: &str| {
        LabError::io(
            format!("{what} for {ifname}"),
            std::io::Error::last_os_error(),
        )
    };
    let name = std::ffi::CString::new(ifname).map_err(|_| LabError::InvalidName {
        name: ifname.to_owned(),
        reason: "interface name holds a NUL byte",
    })?;
    // SAFETY: plain libc calls on a fresh descriptor we own; pointers refer to live locals.
    unsafe {
        let ifindex = libc::if_nametoindex(name.as_ptr());
        if ifindex == 0 {
            return Err(err("if_nametoindex"));
        }
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ALL.to_be()),
        );
        if fd < 0 {
            return Err(err("socket(AF_PACKET)"));
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let on: libc::c_int = 1;
        if libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VNET_HDR,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) != 0
        {
            return Err(err("PACKET_VNET_HDR"));
        }
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
        if libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ) != 0
        {
            return Err(err("bind(AF_PACKET)"));
        }
        Ok(fd)
    }
}

/// Reads one frame that arrived on the socket's interface (skipping frames the interface sent);
/// `None` when nothing (more) is waiting.
fn recv_incoming(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: buf and sll are live, writable and sized as passed.
        let (n, pkttype) = unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            let n = libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut sll as *mut libc::sockaddr_ll).cast(),
                &mut len,
            );
            (n, sll.sll_pkttype)
        };
        let n = usize::try_from(n).ok()?;
        if pkttype != libc::PACKET_OUTGOING {
            return Some(n);
        }
    }
}

fn send(fd: &OwnedFd, frame: &[u8]) {
    // SAFETY: frame is a live buffer of the given length.
    let _ = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
}

fn relay(host: &OwnedFd, bridge: &OwnedFd, stop: &AtomicBool, delay_us: &AtomicU64) {
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; FRAME_BUF];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait_ms = queue.front().map_or(50, |(due, _)| {
            due.saturating_duration_since(now).as_millis().clamp(0, 50)
        });
        let mut fds = [
            libc::pollfd {
                fd: host.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: bridge.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a live array of two pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, i32::try_from(wait_ms).unwrap_or(50)) };
        let delay = Duration::from_micros(delay_us.load(Ordering::Relaxed));
        while let Some(n) = recv_incoming(host, &mut buf) {
            if queue.len() < QUEUE_LIMIT {
                queue.push_back((Instant::now() + delay, buf[..n].to_vec()));
            }
        }
        while let Some(n) = recv_incoming(bridge, &mut buf) {
            send(host, &buf[..n]);
        }
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, frame)) = queue.pop_front() {
                send(bridge, &frame);
            }
        }
    }
}
