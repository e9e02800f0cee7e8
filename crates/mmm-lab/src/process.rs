//! Processes the lab starts (mariadbd, agents, monitors), optionally inside a namespace, with their
//! output in a log file and a guaranteed kill on drop.
//!
//! Every child is armed with `PR_SET_PDEATHSIG(SIGKILL)`, so it also dies when the test process
//! itself is killed (a test timeout's SIGKILL runs no destructor). The kernel sends that signal
//! when the *thread* that forked the child exits, not the process, so all children are forked by
//! one spawner thread that lives until the process ends: a child started from a short-lived
//! thread (a `Netns::block_on` thread, a tokio blocking thread, a test's scoped thread) is not
//! killed when that thread finishes.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
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
        let child = spawn_tied(command)
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

/// A command to fork and the channel its result goes back on.
type SpawnJob = (Command, Sender<std::io::Result<Child>>);

/// Starts `command` so that it dies with this process: armed with `PR_SET_PDEATHSIG(SIGKILL)` and
/// forked by the lab's spawner thread, which never exits before the process does (see the module
/// docs). Use it for every child the lab starts; short commands included, so nothing a killed
/// test started keeps running.
pub(crate) fn spawn_tied(mut command: Command) -> std::io::Result<Child> {
    arm_parent_death_signal(&mut command);
    let (reply_tx, reply_rx) = channel();
    spawner()?
        .send((command, reply_tx))
        .map_err(|_| std::io::Error::other("the lab's spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("the lab's spawner thread did not answer"))?
}

/// The sending end of the spawner thread, started on first use. The sender lives in a static, so
/// the thread's receive loop never ends while the process runs.
fn spawner() -> std::io::Result<&'static Sender<SpawnJob>> {
    static SPAWNER: OnceLock<std::result::Result<Sender<SpawnJob>, String>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = channel::<SpawnJob>();
            std::thread::Builder::new()
                .name("mmm-lab-spawner".into())
                .spawn(move || {
                    for (mut command, reply) in rx {
                        let _ = reply.send(command.spawn());
                    }
                })
                .map(|_| tx)
                .map_err(|e| format!("starting the lab's spawner thread: {e}"))
        })
        .as_ref()
        .map_err(|e| std::io::Error::other(e.clone()))
}

/// Makes the child ask the kernel for SIGKILL when its parent thread dies, and exit at once if the
/// parent already died between fork and that request.
fn arm_parent_death_signal(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the hook runs in the forked child before exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit); it touches no memory shared with the parent.
    unsafe {
        command.pre_exec(move || {
            let signal = libc::c_ulong::try_from(libc::SIGKILL).unwrap_or(9);
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(137);
            }
            Ok(())
        });
    }
}

/// Runs `command` to completion (through [`spawn_tied`], so it dies with this process), feeding
/// `stdin` when given (else stdin is closed), capturing stdout and stderr; kills it and fails
/// with [`LabError::Timeout`] after `timeout`.
pub fn output_with_deadline(
    mut command: Command,
    what: &str,
    timeout: Duration,
    stdin: Option<&str>,
) -> Result<Output> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_tied(command).map_err(|e| LabError::io(format!("starting {what}"), e))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| LabError::io(format!("writing stdin of {what}"), e))?;
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || read_pipe(stdout.as_mut()));
    let err_reader = std::thread::spawn(move || read_pipe(stderr.as_mut()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::Timeout {
                    what: what.to_owned(),
                    timeout,
                });
            }
            Err(e) => return Err(LabError::io(format!("waiting for {what}"), e)),
        }
    };
    Ok(Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

fn read_pipe<R: Read>(pipe: Option<&mut R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(p) = pipe {
        let _ = p.read_to_end(&mut buf);
    }
    buf
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
