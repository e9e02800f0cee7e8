//! Named network namespaces, and running code inside one from the test process.

use std::fs::File;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::cmd;
use crate::error::{LabError, Result};

/// A named network namespace (`ip netns`); lets test code open sockets inside it without giving the
/// root namespace an address on the lab subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Refers to an existing namespace by name (no check that it exists).
    pub fn from_name(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }

    /// Creates the namespace with `ip netns add` and brings its `lo` up.
    pub(crate) fn create(name: &str) -> Result<Self> {
        if exists(name)? {
            return Err(LabError::NamespaceExists(name.to_owned()));
        }
        cmd::run("ip", &["netns", "add", name])?;
        let ns = Self::from_name(name);
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Path of the namespace's bind mount, which `setns` opens.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Opens the namespace file for `setns`.
    pub(crate) fn open(&self) -> Result<File> {
        File::open(self.path()).map_err(|e| LabError::io(format!("opening netns {}", self.name), e))
    }

    /// Runs `ip -n NAME args…` and returns its stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        cmd::run("ip", &full)
    }

    /// Runs any program inside the namespace (`ip netns exec NAME program args…`), returning stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        self.exec_with_input(program, args, None)
    }

    /// Like [`Netns::exec`], feeding `stdin` to the program (used for `nft -f -`).
    pub fn exec_with_input(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String> {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        cmd::run_with_input("ip", &full, stdin)
    }

    /// Pings `ip` once from inside the namespace with a 1 s deadline; true when a reply came back.
    pub fn ping(&self, ip: std::net::Ipv4Addr) -> bool {
        let target = ip.to_string();
        self.exec("ping", &["-c", "1", "-W", "1", "-n", "-q", &target])
            .is_ok()
    }

    /// Whether `ip` answers a ping within `limit` (one-second pings until one is answered).
    ///
    /// Right after a link is healed one ping is not enough: a neighbour entry whose ARP probes
    /// were dropped by the cut stays INCOMPLETE until its last probe times out, and packets
    /// queued on it meanwhile are dropped, so the first answer can take up to a second longer.
    pub fn ping_within(&self, ip: std::net::Ipv4Addr, limit: std::time::Duration) -> bool {
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

    /// Runs `f` on a fresh OS thread that has first entered this namespace, and returns its
    /// result; sockets created by `f` belong to the namespace. Panics in `f` are propagated.
    pub fn run<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let file = self.open()?;
        std::thread::scope(|scope| {
            let handle = scope.spawn(move || -> Result<T> {
                enter(&file, &self.name)?;
                Ok(f())
            });
            match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Runs `fut` to completion on a current-thread tokio runtime living on a fresh OS thread inside
    /// this namespace. The calling thread blocks meanwhile; from async code prefer
    /// [`Netns::spawn_future`].
    pub fn block_on<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        self.run(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| LabError::io("building a tokio runtime in a namespace", e))?;
            Ok(runtime.block_on(fut))
        })?
    }

    /// Starts `fut` inside the namespace on its own thread and runtime and returns a handle the
    /// caller can await from any async context without blocking its executor.
    pub fn spawn_future<F>(&self, fut: F) -> Result<tokio::sync::oneshot::Receiver<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let file = self.open()?;
        let name = self.name.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<Result<()>>();
        std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                let runtime = match enter(&file, &name).and_then(|()| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| LabError::io("building a tokio runtime in a namespace", e))
                }) {
                    Ok(rt) => {
                        let _ = started_tx.send(Ok(()));
                        rt
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                let out = runtime.block_on(fut);
                let _ = tx.send(out);
            })
            .map_err(|e| LabError::io("spawning a namespace thread", e))?;
        match started_rx.recv() {
            Ok(Ok(())) => Ok(rx),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LabError::Unsupported(format!(
                "namespace thread for {} died before starting",
                self.name
            ))),
        }
    }

    /// Deletes the namespace by name (`ip netns delete`); a missing namespace is not an error.
    pub(crate) fn delete(&self) -> Result<()> {
        if exists(&self.name)? {
            cmd::run("ip", &["netns", "delete", &self.name])?;
        }
        Ok(())
    }

    /// Pids of processes whose network namespace is this one (`ip netns pids`).
    pub fn pids(&self) -> Result<Vec<i32>> {
        let out = cmd::run("ip", &["netns", "pids", &self.name])?;
        Ok(out
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }
}

/// Moves the calling thread into the namespace behind `file`.
pub(crate) fn enter(file: &File, name: &str) -> Result<()> {
    // SAFETY: setns only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(LabError::io(
            format!("setns into {name}"),
            std::io::Error::last_os_error(),
        ))
    }
}

/// Names of all namespaces `ip netns list` knows.
pub fn list() -> Result<Vec<String>> {
    let out = cmd::run("ip", &["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Whether a namespace of that name exists.
pub fn exists(name: &str) -> Result<bool> {
    Ok(list()?.iter().any(|n| n == name))
}
