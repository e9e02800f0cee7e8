//! A userspace delay line for kernels without `sch_netem`: frames a host sends are held for a
//! delay (plus or minus a random jitter, which reorders frames as netem's jitter does; a share of
//! frames may skip the queue, as netem's `reorder`) before they reach the bridge; frames towards
//! the host pass at once.
//!
//! The relay sits between two interfaces in the bridge namespace, using AF_PACKET sockets with
//! virtio-net headers so segmentation offload frames pass through intact.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
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

/// How frames are held: a base delay, a uniform jitter around it, and the share (in hundredths
/// of a percent) of frames sent at once instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    /// Base delay.
    pub delay: Duration,
    /// Each frame's delay is drawn from `delay ± jitter`.
    pub jitter: Duration,
    /// Frames skipping the queue, in 1/10000.
    pub reorder_bp: u32,
}

/// The shape as three atomics the relay thread reads per frame.
#[derive(Debug, Default)]
struct SharedShape {
    delay_us: AtomicU64,
    jitter_us: AtomicU64,
    reorder_bp: AtomicU64,
}

impl SharedShape {
    fn store(&self, s: Shape) {
        self.delay_us.store(micros(s.delay), Ordering::Relaxed);
        self.jitter_us.store(micros(s.jitter), Ordering::Relaxed);
        self.reorder_bp
            .store(u64::from(s.reorder_bp), Ordering::Relaxed);
    }

    /// The hold time of the next frame, given a fresh random number.
    fn hold(&self, random: u64) -> Duration {
        let delay = self.delay_us.load(Ordering::Relaxed);
        let jitter = self.jitter_us.load(Ordering::Relaxed);
        let reorder = self.reorder_bp.load(Ordering::Relaxed);
        if reorder > 0 && (random >> 32) % 10_000 < reorder {
            return Duration::ZERO;
        }
        let us = if jitter == 0 {
            delay
        } else {
            let span = jitter.saturating_mul(2).saturating_add(1);
            delay.saturating_sub(jitter).saturating_add(random % span)
        };
        Duration::from_micros(us)
    }
}

/// A running delay line; dropping it stops the relay thread.
#[derive(Debug)]
pub(crate) struct DelayLine {
    stop: Arc<AtomicBool>,
    shape: Arc<SharedShape>,
    thread: Option<JoinHandle<()>>,
}

impl DelayLine {
    /// Starts relaying between `host_side` (frames from the host, delayed) and `bridge_side`
    /// (frames to the host, immediate), both interfaces of `netns`.
    pub(crate) fn start(
        netns: &Netns,
        host_side: &str,
        bridge_side: &str,
        shape: Shape,
        seed: u64,
    ) -> Result<Self> {
        let (h, b) = netns.run(|| -> Result<(OwnedFd, OwnedFd)> {
            Ok((packet_socket(host_side)?, packet_socket(bridge_side)?))
        })??;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(SharedShape::default());
        shared.store(shape);
        let (s, d) = (stop.clone(), shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("delay-{host_side}"))
            .spawn(move || relay(&h, &b, &s, &d, seed))
            .map_err(|e| LabError::io("spawning the delay relay", e))?;
        Ok(Self {
            stop,
            shape: shared,
            thread: Some(thread),
        })
    }

    /// Changes how frames read from now on are held.
    pub(crate) fn set_shape(&self, shape: Shape) {
        self.shape.store(shape);
    }
}

/// xorshift64*: a small, seedable generator for per-frame jitter (not for anything secret).
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
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

/// A held frame: due time, then arrival order (so equal due times keep FIFO order).
type Held = Reverse<(Instant, u64, Vec<u8>)>;

fn relay(host: &OwnedFd, bridge: &OwnedFd, stop: &AtomicBool, shape: &SharedShape, seed: u64) {
    let mut queue: BinaryHeap<Held> = BinaryHeap::new();
    let mut buf = vec![0u8; FRAME_BUF];
    let mut rng = seed | 1;
    let mut seq: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait_ms = queue.peek().map_or(50, |Reverse((due, _, _))| {
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
        while let Some(n) = recv_incoming(host, &mut buf) {
            if queue.len() < QUEUE_LIMIT {
                let due = Instant::now() + shape.hold(next_random(&mut rng));
                seq += 1;
                queue.push(Reverse((due, seq, buf[..n].to_vec())));
            }
        }
        while let Some(n) = recv_incoming(bridge, &mut buf) {
            send(host, &buf[..n]);
        }
        let now = Instant::now();
        while queue.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
            if let Some(Reverse((_, _, frame))) = queue.pop() {
                send(bridge, &frame);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_stay_within_the_jitter_and_reorder_skips_the_queue() {
        let shared = SharedShape::default();
        shared.store(Shape {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            reorder_bp: 0,
        });
        let mut rng = 7;
        let holds: Vec<Duration> = (0..1000)
            .map(|_| shared.hold(next_random(&mut rng)))
            .collect();
        assert!(
            holds
                .iter()
                .all(|h| *h >= Duration::from_millis(15) && *h <= Duration::from_millis(25))
        );
        assert!(holds.iter().any(|h| *h < Duration::from_millis(18)));
        assert!(holds.iter().any(|h| *h > Duration::from_millis(22)));
        shared.store(Shape {
            delay: Duration::from_millis(20),
            jitter: Duration::ZERO,
            reorder_bp: 5000,
        });
        let immediate = (0..1000)
            .filter(|_| shared.hold(next_random(&mut rng)).is_zero())
            .count();
        assert!((300..700).contains(&immediate), "{immediate}");
    }
}
