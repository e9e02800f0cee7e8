//! One lab host: a network namespace with `eth0` on the lab bridge and an address on the lab subnet.

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::netns::Netns;
use crate::process::{LabProcess, PidRegistry, SpawnSpec};

/// Name of the host-side interface inside every host namespace (MMM's `cluster_interface`).
pub const HOST_INTERFACE: &str = "eth0";

/// A host of the lab: its own namespace, one interface on the lab bridge, one address. Cheap to
/// clone; the [`crate::Lab`] that created it owns the namespace's lifetime.
#[derive(Debug, Clone)]
pub struct Host {
    pub(crate) name: String,
    pub(crate) ip: Ipv4Addr,
    pub(crate) netns: Netns,
    pub(crate) bridge_port: String,
    pub(crate) registry: PidRegistry,
    pub(crate) dir: PathBuf,
}

impl Host {
    /// The host's short name within the lab (e.g. `db1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's permanent address on the lab subnet.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The host's namespace, for running code or tools inside it.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// The interface VIPs go on (`eth0`).
    pub fn interface(&self) -> &'static str {
        HOST_INTERFACE
    }

    /// A per-host scratch directory inside the lab's temp dir (logs, configs, agent state).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts `program args…` inside this host's namespace with `env` added, stdout and stderr
    /// appended to `log_path`. The lab kills it by pid if it is still running when the lab drops.
    pub fn spawn(
        &self,
        program: impl AsRef<Path>,
        args: &[&str],
        env: &[(&str, &str)],
        log_path: impl AsRef<Path>,
    ) -> Result<LabProcess> {
        let spec = SpawnSpec {
            program: program.as_ref(),
            args,
            env,
            log_path: log_path.as_ref(),
        };
        LabProcess::spawn(Some(&self.netns), &spec, Some(self.registry.clone()))
    }

    /// Runs `f` on a thread inside this host's namespace (see [`Netns::run`]).
    pub fn run<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        self.netns.run(f)
    }

    /// Runs a future inside this host's namespace (see [`Netns::block_on`]).
    pub fn block_on<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        self.netns.block_on(fut)
    }

    /// Runs a command inside the namespace and returns stdout (see [`Netns::exec`]).
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        self.netns.exec(program, args)
    }

    /// Pings `ip` once from this host with a 1 s deadline; true when a reply came back.
    pub fn ping(&self, ip: Ipv4Addr) -> bool {
        let target = ip.to_string();
        self.netns
            .exec("ping", &["-c", "1", "-W", "1", "-n", "-q", &target])
            .is_ok()
    }

    /// Whether `ip` answers a ping within `limit` (one-second pings until one is answered).
    ///
    /// Right after a link is healed one ping is not enough: a neighbour entry whose ARP probes
    /// were dropped by the cut stays INCOMPLETE until its last probe times out, and packets
    /// queued on it meanwhile are dropped, so the first answer can take up to a second longer.
    pub fn ping_within(&self, ip: Ipv4Addr, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if self.ping(ip) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
        }
    }
}
