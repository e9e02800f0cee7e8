//! How an operator breaks and repairs a running demo from another terminal: `mmm-lab
//! kill-mysqld db2`, `mmm-lab start-mysqld db2`, `mmm-lab cut db1`, `mmm-lab heal`, ….
//!
//! The demo owns every process of its lab (servers and daemons die with it), so the commands are
//! carried out by the demo itself: it listens on a Unix socket `/run/mmm-lab/<lab prefix>.sock`
//! (mode 0600, root only), and each command connects, sends one JSON line (the command's words)
//! and reads one JSON line back (`{"ok": bool, "text": "…", "mmmctl": [argv…]}`). Without
//! `--control`, a command finds the demo's socket by itself when exactly one demo runs.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Directory holding the control sockets of running demos.
pub const SOCKET_DIR: &str = "/run/mmm-lab";
/// Longest request line the demo reads.
const MAX_REQUEST: u64 = 4096;
/// How long the demo waits for a connected command to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command waits for the demo's answer (`heal` may restart several servers).
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);

/// What an operator can ask a running demo to do. The same definition parses the command line
/// and the request the demo receives.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Request {
    /// kill -9 a database host's mariadbd in the running demo (a crash).
    KillMysqld {
        /// Database host (db1, db2, …).
        host: String,
    },
    /// Shut a database host's mariadbd down cleanly in the running demo.
    StopMysqld {
        /// Database host (db1, db2, …).
        host: String,
    },
    /// Start a killed or stopped mariadbd again on its data; returns once it answers.
    StartMysqld {
        /// Database host (db1, db2, …).
        host: String,
    },
    /// kill -9 an agent (db1, …) or a monitor (mon1, …) in the running demo.
    KillDaemon {
        /// Agent (named after its database host) or monitor.
        name: String,
    },
    /// Start a killed agent or monitor again with its files.
    StartDaemon {
        /// Agent (named after its database host) or monitor.
        name: String,
    },
    /// Drop all traffic of HOST (VIPs and ARP included), or with OTHER only the traffic between
    /// the two, until `heal`.
    Cut {
        /// Database host or monitor.
        host: String,
        /// Cut only the link to this host.
        other: Option<String>,
    },
    /// Undo every fault: remove all cuts, start every mariadbd, agent and monitor that is down.
    Heal,
    /// What runs in the demo and what is broken.
    Status,
}

/// A request line parsed as a command line without the program name.
#[derive(Debug, Parser)]
#[command(
    name = "request",
    about = "A command for the running mmm-lab demo",
    no_binary_name = true,
    subcommand_required = true,
    arg_required_else_help = false
)]
struct RequestLine {
    #[command(subcommand)]
    request: Request,
}

impl Request {
    /// The words that make up this request (what `mmm-lab` was given after its options).
    pub fn words(&self) -> Vec<String> {
        let one = |cmd: &str, arg: &str| vec![cmd.to_owned(), arg.to_owned()];
        match self {
            Self::KillMysqld { host } => one("kill-mysqld", host),
            Self::StopMysqld { host } => one("stop-mysqld", host),
            Self::StartMysqld { host } => one("start-mysqld", host),
            Self::KillDaemon { name } => one("kill-daemon", name),
            Self::StartDaemon { name } => one("start-daemon", name),
            Self::Cut { host, other } => {
                let mut w = one("cut", host);
                w.extend(other.clone());
                w
            }
            Self::Heal => vec!["heal".to_owned()],
            Self::Status => vec!["status".to_owned()],
        }
    }

    /// Parses the words of a request; the error is clap's message (usage included).
    pub fn parse(words: &[String]) -> Result<Self, String> {
        RequestLine::try_parse_from(words)
            .map(|line| line.request)
            .map_err(|e| e.render().to_string().trim_end().to_owned())
    }
}

/// The demo's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What happened (or why not), for the operator.
    pub text: String,
    /// The argument vector that runs mmmctl against the demo (set by `status`).
    pub mmmctl: Vec<String>,
}

impl Reply {
    /// A successful reply.
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
            mmmctl: Vec::new(),
        }
    }

    /// A refusal; nothing was changed.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
            mmmctl: Vec::new(),
        }
    }

    fn to_json(&self) -> String {
        serde_json::json!({ "ok": self.ok, "text": self.text, "mmmctl": self.mmmctl }).to_string()
    }

    fn from_json(line: &str) -> anyhow::Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("a malformed reply: {line:?}"))?;
        let ok = v.get("ok").and_then(serde_json::Value::as_bool);
        let text = v.get("text").and_then(serde_json::Value::as_str);
        let (Some(ok), Some(text)) = (ok, text) else {
            anyhow::bail!("a reply without ok/text: {line:?}");
        };
        let mmmctl = v
            .get("mmmctl")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|w| w.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            ok,
            text: text.to_owned(),
            mmmctl,
        })
    }
}

/// The control socket path of the demo whose lab prefix is `prefix`.
pub fn socket_path(prefix: &str) -> PathBuf {
    Path::new(SOCKET_DIR).join(format!("{prefix}.sock"))
}

/// The demo's listening socket; removes its file on drop.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
}

impl Server {
    /// Listens on `path` (mode 0600, directory created 0700). A socket file left by a demo that
    /// is gone is replaced; one a live demo answers on is an error.
    pub fn bind(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                anyhow::bail!("another mmm-lab demo listens on {}", path.display());
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        let listener =
            UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
        listener
            .set_nonblocking(true)
            .context("making the control socket non-blocking")?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the next waiting request, if any, with the connection to answer on. A connection
    /// that sends garbage gets its error reply here and `None` is returned; one that closes
    /// without a word (a command probing which demos are alive) is dropped.
    pub fn next(&self) -> Option<(Request, UnixStream)> {
        let (stream, _) = match self.listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a control connection failed");
                return None;
            }
        };
        match read_request(&stream) {
            Ok(Some(request)) => Some((request, stream)),
            Ok(None) => None,
            Err(why) => {
                answer(stream, &Reply::error(why));
                None
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_request(stream: &UnixStream) -> Result<Option<Request>, String> {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(REQUEST_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)));
    setup.map_err(|e| format!("ERROR: setting up the connection: {e}"))?;
    let mut line = String::new();
    BufReader::new(stream.take(MAX_REQUEST))
        .read_line(&mut line)
        .map_err(|e| format!("ERROR: reading the request: {e}"))?;
    if line.is_empty() {
        return Ok(None);
    }
    let words: Vec<String> = serde_json::from_str(line.trim_end())
        .map_err(|e| format!("ERROR: the request is not a JSON list of words ({e})"))?;
    Request::parse(&words)
        .map(Some)
        .map_err(|e| format!("ERROR: {e}"))
}

/// Sends `reply` on `stream` (a command that gave up waiting is not an error).
pub fn answer(mut stream: UnixStream, reply: &Reply) {
    let mut line = reply.to_json();
    line.push('\n');
    if let Err(e) = stream.write_all(line.as_bytes()) {
        tracing::warn!(error = %e, "answering a control request failed");
    }
}

/// Sends `request` to the demo listening on `socket` (or the only running demo) and returns its
/// reply.
pub fn send(socket: Option<&Path>, request: &Request) -> anyhow::Result<Reply> {
    let path = match socket {
        Some(p) => p.to_path_buf(),
        None => find_socket()?,
    };
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "no mmm-lab demo answers on {} (start one with scripts/lab-demo)",
            path.display()
        )
    })?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .context("setting a reply deadline")?;
    let mut line = serde_json::to_string(&request.words()).context("encoding the request")?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .context("sending the request")?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .with_context(|| format!("reading the demo's reply on {}", path.display()))?;
    if reply.is_empty() {
        anyhow::bail!("the demo on {} closed without a reply", path.display());
    }
    Reply::from_json(reply.trim_end())
}

/// The control socket of the only running demo.
fn find_socket() -> anyhow::Result<PathBuf> {
    let live = live_sockets()?;
    match live.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!(
            "no mmm-lab demo is running (no live socket in {SOCKET_DIR}); start one with scripts/lab-demo"
        ),
        many => {
            let list: Vec<String> = many.iter().map(|p| p.display().to_string()).collect();
            anyhow::bail!(
                "{} demos are running; pick one with --control: {}",
                many.len(),
                list.join(", ")
            )
        }
    }
}

/// Control sockets in [`SOCKET_DIR`] that a demo answers on.
fn live_sockets() -> anyhow::Result<Vec<PathBuf>> {
    Ok(socket_files()?
        .into_iter()
        .filter(|p| UnixStream::connect(p).is_ok())
        .collect())
}

/// Every `*.sock` file in [`SOCKET_DIR`] (none when the directory is missing).
fn socket_files() -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(SOCKET_DIR) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {SOCKET_DIR}")),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Removes control sockets no demo answers on (left by a demo that was killed); returns them.
pub fn remove_stale_sockets() -> anyhow::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for path in socket_files()? {
        if UnixStream::connect(&path).is_err() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn requests_survive_the_round_trip_through_their_words() {
        for r in [
            Request::KillMysqld { host: "db2".into() },
            Request::StopMysqld { host: "db1".into() },
            Request::StartMysqld { host: "db2".into() },
            Request::KillDaemon {
                name: "mon1".into(),
            },
            Request::StartDaemon { name: "db3".into() },
            Request::Cut {
                host: "db1".into(),
                other: None,
            },
            Request::Cut {
                host: "db1".into(),
                other: Some("mon2".into()),
            },
            Request::Heal,
            Request::Status,
        ] {
            assert_eq!(Request::parse(&r.words()), Ok(r.clone()), "{r:?}");
        }
    }

    #[test]
    fn bad_requests_are_refused_with_clap_s_message() {
        for bad in [
            &[][..],
            &["kill-mysqld"],
            &["kill-mysqld", "db1", "db2"],
            &["reboot", "db1"],
            &["heal", "now"],
        ] {
            let e = Request::parse(&words(bad)).expect_err("refused");
            assert!(e.contains("error:"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn replies_survive_json() {
        let r = Reply {
            ok: true,
            text: "OK: killed db2's mariadbd (pid 7)\nsecond line".into(),
            mmmctl: vec!["ip".into(), "netns".into()],
        };
        assert_eq!(Reply::from_json(&r.to_json()).expect("parse"), r);
        assert!(Reply::from_json("{}").is_err());
        assert!(Reply::from_json("not json").is_err());
    }

    #[test]
    fn a_server_answers_a_request_and_removes_its_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("demo.sock");
        let server = Server::bind(&path).expect("bind");
        assert!(
            Server::bind(&path).is_err(),
            "a second demo on a live socket"
        );
        let client = std::thread::spawn({
            let path = path.clone();
            move || send(Some(&path), &Request::KillMysqld { host: "db2".into() })
        });
        let (request, stream) = loop {
            if let Some(got) = server.next() {
                break got;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(request, Request::KillMysqld { host: "db2".into() });
        answer(stream, &Reply::ok("OK: done"));
        let reply = client.join().expect("client thread").expect("reply");
        assert_eq!(reply, Reply::ok("OK: done"));
        drop(server);
        assert!(!path.exists());
        assert!(send(Some(&path), &Request::Heal).is_err());
    }
}
