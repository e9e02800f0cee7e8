//! Processes the lab starts (mariadbd, agents, monitors), optionally inside a namespace, with their
//! output in a log file and a guaranteed kill on drop.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::netns::Netns;

/// Pids started by one lab that are still unreaped, so the lab's drop can kill leftovers by pid.
#[derive(Debug, Default, Clone)]
pub(crate) struct PidRegistry {
    pids: Arc<Mutex<BTreeSet<u32>>>,
}

impl PidRegistry {
    fn add(&self, pid: u32) {
        if let Ok(mut set) = self.pids.lock() {
            set.insert(pid);
        }
    }

    fn remove(&self, pid: u32) {
        if let Ok(mut set) = self.pids.lock() {
            set.remove(&pid);
        }
    }

    /// Sends SIGKILL to every registered pid (they stay registered until their owner reaps them,
    /// so the pid cannot be reused meanwhile).
    pub(crate) fn kill_all(&self) {
        let pids: Vec<u32> = self
            .pids
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        for pid in pids {
            let _ = send_signal(pid, libc::SIGKILL);
        }
    }
}

/// What to run: program, arguments, extra environment, where its output goes.
#[derive(Debug, Clone)]
pub struct SpawnSpec<'a> {
    /// Program path.
    pub program: &'a Path,
    /// Its arguments.
    pub args: &'a [&'a str],
    /// Extra environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// File receiving stdout and stderr (appended).
    pub log_path: &'a Path,
}

/// A child process owned by a test: killed with SIGKILL and reaped when dropped.
#[derive(Debug)]
pub struct LabProcess {
    child: Child,
    label: String,
    registry: Option<PidRegistry>,
    exited: Option<ExitStatus>,
}

impl LabProcess {
    /// Starts a process, inside `netns` when given.
    pub(crate) fn spawn(
        netns: Option<&Netns>,
        spec: &SpawnSpec<'_>,
        registry: Option<PidRegistry>,
    ) -> Result<Self> {
        let label = spec
            .program
            .file_name()
            .map(OsStr::to_string_lossy)
            .unwrap_or_default()
            .into_owned();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec.log_path)
            .map_err(|e| LabError::io(format!("opening log {}", spec.log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| LabError::io("duplicating a log handle", e))?;
        // Inside a namespace the program runs under `ip netns exec`, which execs it in place (same
        // pid) after entering the namespace and mounting a matching /sys, so the process sees its
        // host's interfaces everywhere, as on a real machine.
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns.name()]).arg(spec.program);
                c
            }
            None => Command::new(spec.program),
        };
        command
            .args(spec.args)
            .envs(spec.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        let child = command
            .spawn()
            .map_err(|e| LabError::io(format!("starting {}", spec.program.display()), e))?;
        if let Some(reg) = registry.as_ref() {
            reg.add(child.id());
        }
        tracing::debug!(pid = child.id(), program = %spec.program.display(), netns = ?netns.map(Netns::name), "lab process started");
        Ok(Self {
            child,
            label,
            registry,
            exited: None,
        })
    }

    /// The process id (also valid for `kill`/`ps` from the root namespace).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`); does nothing once the process has been reaped.
    pub fn kill(&mut self, signal: i32) -> Result<()> {
        if self.exited.is_some() {
            return Ok(());
        }
        send_signal(self.pid(), signal)
    }

    /// Freezes the process (SIGSTOP), as a hung server would be.
    pub fn stop(&mut self) -> Result<()> {
        self.kill(libc::SIGSTOP)
    }

    /// Resumes a process frozen by [`LabProcess::stop`] (SIGCONT).
    pub fn cont(&mut self) -> Result<()> {
        self.kill(libc::SIGCONT)
    }

    /// Whether the process has not exited yet (reaps it if it has).
    pub fn is_running(&mut self) -> bool {
        self.poll_exit().is_none()
    }

    /// The exit status if the process has exited, reaping it.
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.reaped(status);
        }
        self.exited
    }

    /// Waits up to `timeout` for the process to exit; `Ok(None)` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.poll_exit() {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process with SIGKILL (continuing it first if stopped) and reaps it.
    pub fn kill_and_wait(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        let _ = send_signal(self.pid(), libc::SIGKILL);
        let status = self
            .child
            .wait()
            .map_err(|e| LabError::io(format!("reaping {} ({})", self.label, self.pid()), e))?;
        self.reaped(status);
        Ok(status)
    }

    fn reaped(&mut self, status: ExitStatus) {
        self.exited = Some(status);
        if let Some(reg) = self.registry.as_ref() {
            reg.remove(self.child.id());
        }
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        if let Err(e) = self.kill_and_wait() {
            tracing::warn!(error = %e, "could not reap a lab process");
        }
    }
}

/// Sends a signal to one pid.
pub(crate) fn send_signal(pid: u32, signal: i32) -> Result<()> {
    let raw =
        i32::try_from(pid).map_err(|_| LabError::Unsupported(format!("pid {pid} out of range")))?;
    // SAFETY: kill(2) has no memory effects; the pid is one this lab started or was asked about.
    let rc = unsafe { libc::kill(raw, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(LabError::io(
            format!("sending signal {signal} to pid {pid}"),
            std::io::Error::last_os_error(),
        ))
    }
}
