//! Throwaway MariaDB servers: own datadir, socket, port and logs under a temp dir, started on
//! loopback or inside a lab host's namespace, with MMM's accounts provisioned.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::error::{LabError, Result};
use crate::host::Host;
use crate::process::{LabProcess, SpawnSpec};
use crate::users;

/// The server binary Debian installs.
pub const MARIADBD: &str = "/usr/sbin/mariadbd";
/// The datadir initialiser Debian installs.
pub const MARIADB_INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
/// Port a namespaced server listens on (each namespace has its own port space).
pub const NAMESPACE_MYSQL_PORT: u16 = 3306;
/// How long `start`/`restart` wait for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `mariadb-install-db` may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a clean shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for one root connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to start one server. Build with [`MariaDbOpts::loopback`] or [`MariaDbOpts::on_host`] and
/// adjust the public fields.
#[derive(Debug, Clone)]
pub struct MariaDbOpts {
    /// Label used in logs and errors (usually the host name).
    pub label: String,
    /// Lab host whose namespace runs the server; `None` runs it in the root namespace on 127.0.0.1.
    pub host: Option<Host>,
    /// TCP port; `None` means 3306 in a namespace or a free port on loopback.
    pub port: Option<u16>,
    /// `server_id`, unique per server.
    pub server_id: u32,
    /// `gtid_domain_id`; masters need distinct ones.
    pub gtid_domain_id: u32,
    /// Start with `read_only=1` (MMM's rule: every server starts read-only).
    pub read_only: bool,
    /// `auto_increment_increment`.
    pub auto_increment_increment: u16,
    /// `auto_increment_offset`.
    pub auto_increment_offset: u16,
    /// `innodb_buffer_pool_size` in MiB.
    pub buffer_pool_mb: u32,
    /// Extra `key=value` lines for the `[mysqld]` section.
    pub extra_config: Vec<String>,
}

impl MariaDbOpts {
    /// A server in the root namespace bound to 127.0.0.1 on a free port.
    pub fn loopback(label: &str, server_id: u32) -> Self {
        Self {
            label: label.to_owned(),
            host: None,
            port: None,
            server_id,
            gtid_domain_id: 0,
            read_only: true,
            auto_increment_increment: 1,
            auto_increment_offset: 1,
            buffer_pool_mb: 32,
            extra_config: Vec::new(),
        }
    }

    /// A server inside `host`'s namespace listening on all its addresses, port 3306.
    pub fn on_host(host: &Host, server_id: u32) -> Self {
        Self {
            label: host.name().to_owned(),
            host: Some(host.clone()),
            ..Self::loopback(host.name(), server_id)
        }
    }
}

/// A running (or deliberately stopped) MariaDB server owned by a test; dropping it kills the
/// server and removes its directory.
#[derive(Debug)]
pub struct MariaDb {
    process: Option<LabProcess>,
    opts: MariaDbOpts,
    port: u16,
    dir: tempfile::TempDir,
}

impl MariaDb {
    /// Initialises a datadir, starts `mariadbd`, waits until it answers on its socket and
    /// provisions the accounts of [`crate::users`].
    pub async fn start(opts: MariaDbOpts) -> Result<Self> {
        // A namespaced server lives under its host's directory, so the lab's own cleanup (and
        // `Lab::cleanup_stale`) covers it; a loopback server gets its own temp dir.
        let prefix = format!("mariadb-{}-", opts.label);
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        let dir = match &opts.host {
            Some(h) => builder.tempdir_in(h.dir()),
            None => builder.tempdir(),
        }
        .map_err(|e| LabError::io("creating a MariaDB directory", e))?;
        let port = match (opts.port, &opts.host) {
            (Some(p), _) => p,
            (None, Some(_)) => NAMESPACE_MYSQL_PORT,
            (None, None) => free_loopback_port()?,
        };
        let mut db = Self {
            process: None,
            opts,
            port,
            dir,
        };
        let tmp = db.dir.path().join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| LabError::io(format!("creating {}", tmp.display()), e))?;
        std::fs::write(db.cnf_path(), db.render_cnf())
            .map_err(|e| LabError::io(format!("writing {}", db.cnf_path().display()), e))?;
        db.install().await?;
        db.launch_retrying_port().await?;
        let mut conn = db.root_conn().await?;
        users::provision(&mut conn)
            .await
            .map_err(|e| db.sql_error("provisioning users", e))?;
        close(conn).await;
        tracing::info!(server = %db.opts.label, port = db.port, "MariaDB ready");
        Ok(db)
    }

    /// The server's label.
    pub fn label(&self) -> &str {
        &self.opts.label
    }

    /// The options it was started with.
    pub fn opts(&self) -> &MariaDbOpts {
        &self.opts
    }

    /// The lab host it runs on, if any.
    pub fn host(&self) -> Option<&Host> {
        self.opts.host.as_ref()
    }

    /// Address clients and slaves use: the host's lab address, or 127.0.0.1.
    pub fn ip(&self) -> IpAddr {
        match &self.opts.host {
            Some(h) => IpAddr::V4(h.ip()),
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `server_id`.
    pub fn server_id(&self) -> u32 {
        self.opts.server_id
    }

    /// Unix socket path; reachable from any namespace.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// The data directory.
    pub fn datadir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's error log.
    pub fn error_log(&self) -> PathBuf {
        self.dir.path().join("error.log")
    }

    /// The generated defaults file.
    pub fn cnf_path(&self) -> PathBuf {
        self.dir.path().join("my.cnf")
    }

    /// The directory holding everything of this server (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(LabProcess::pid)
    }

    /// Whether mysqld is alive (a SIGSTOPped server counts as alive).
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(LabProcess::is_running)
    }

    /// Connection options for `user` over the unix socket (usable from any namespace).
    pub fn socket_opts(&self, user: &str, password: &str) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .socket(Some(self.socket_path().to_string_lossy().into_owned()))
            .user(Some(user))
            .pass(if password.is_empty() {
                None
            } else {
                Some(password)
            })
            .into()
    }

    /// Connection options for `user` over TCP to [`MariaDb::ip`]; `prefer_socket` is off so the
    /// driver really uses TCP. For a namespaced server, connect from inside a lab namespace
    /// (e.g. in [`Host::block_on`]).
    pub fn tcp_opts(&self, user: &str, password: &str) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.ip().to_string())
            .tcp_port(self.port)
            .prefer_socket(false)
            .user(Some(user))
            .pass(Some(password))
            .into()
    }

    /// A root connection over the unix socket, with a connect deadline.
    pub async fn root_conn(&self) -> Result<mysql_async::Conn> {
        self.conn_as("root", "").await
    }

    /// A connection as `user` over the unix socket, with a connect deadline.
    pub async fn conn_as(&self, user: &str, password: &str) -> Result<mysql_async::Conn> {
        let opts = self.socket_opts(user, password);
        match tokio::time::timeout(CONNECT_TIMEOUT, mysql_async::Conn::new(opts)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(self.sql_error(&format!("connecting as {user}"), e)),
            Err(_) => Err(LabError::Timeout {
                what: format!("a connection to {} as {user}", self.opts.label),
                timeout: CONNECT_TIMEOUT,
            }),
        }
    }

    /// Runs one statement as root (with a deadline) and discards its result.
    pub async fn exec(&self, sql: &str) -> Result<()> {
        let mut conn = self.root_conn().await?;
        self.with_deadline(sql, conn.query_drop(sql)).await?;
        close(conn).await;
        Ok(())
    }

    /// Runs one query as root and returns the first column of the first row as text (`None` for
    /// no row or NULL).
    pub async fn query_value(&self, sql: &str) -> Result<Option<String>> {
        let mut conn = self.root_conn().await?;
        let row: Option<mysql_async::Row> = self.with_deadline(sql, conn.query_first(sql)).await?;
        close(conn).await;
        Ok(row.and_then(|r| r.as_ref(0).and_then(crate::replication::value_text)))
    }

    /// Sets `read_only` as root.
    pub async fn set_read_only(&self, on: bool) -> Result<()> {
        self.exec(&format!("SET GLOBAL read_only = {}", u8::from(on)))
            .await
    }

    /// Kills mysqld with SIGKILL (a crash) and reaps it.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut p) = self.process.take() {
            p.kill_and_wait()?;
            tracing::info!(server = %self.opts.label, "mysqld killed with SIGKILL");
        }
        Ok(())
    }

    /// Freezes mysqld (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn sigstop(&mut self) -> Result<()> {
        match self.process.as_mut() {
            Some(p) => p.stop(),
            None => Err(self.not_running("SIGSTOP")),
        }
    }

    /// Resumes mysqld after [`MariaDb::sigstop`].
    pub fn sigcont(&mut self) -> Result<()> {
        match self.process.as_mut() {
            Some(p) => p.cont(),
            None => Err(self.not_running("SIGCONT")),
        }
    }

    /// Shuts mysqld down cleanly (SIGTERM, waits up to 30 s, then SIGKILL).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut p) = self.process.take() {
            p.cont()?;
            p.kill(libc::SIGTERM)?;
            if p.wait_exit(STOP_TIMEOUT)?.is_none() {
                tracing::warn!(server = %self.opts.label, "mysqld ignored SIGTERM; killing it");
                p.kill_and_wait()?;
            }
            tracing::info!(server = %self.opts.label, "mysqld stopped");
        }
        Ok(())
    }

    /// Starts mysqld again on the same datadir (stopping it cleanly first if it runs) and waits
    /// until it answers.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.launch().await
    }

    /// Starts mysqld after [`MariaDb::kill9`] or [`MariaDb::stop`]; no-op while it runs.
    pub async fn start_again(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.process = None;
        self.launch().await
    }

    async fn install(&self) -> Result<()> {
        let log = self.dir.path().join("install.log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| LabError::io(format!("creating {}", log.display()), e))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| LabError::io("duplicating a log handle", e))?;
        let cnf = format!("--defaults-file={}", self.cnf_path().display());
        let mut child = tokio::process::Command::new(MARIADB_INSTALL_DB)
            .args([
                cnf.as_str(),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LabError::io(format!("starting {MARIADB_INSTALL_DB}"), e))?;
        let status = match tokio::time::timeout(INSTALL_TIMEOUT, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Err(LabError::io("waiting for mariadb-install-db", e)),
            Err(_) => {
                return Err(self.start_error(
                    format!("mariadb-install-db took longer than {INSTALL_TIMEOUT:?}"),
                    &log,
                ));
            }
        };
        if status.success() {
            Ok(())
        } else {
            // The installer's own output only points at the error log; show that too.
            let mut err = self.start_error(
                format!("mariadb-install-db exited with {status}"),
                &self.error_log(),
            );
            if let LabError::MariaDbStart { log_tail, .. } = &mut err {
                *log_tail = format!(
                    "{log_tail}\n--- tail of {} ---\n{}",
                    log.display(),
                    tail(&log, 5)
                );
            }
            Err(err)
        }
    }

    /// Launches the first time; on loopback with an automatically chosen port, another process may
    /// have taken the port since it was picked, so a bind failure picks a new one (3 tries).
    async fn launch_retrying_port(&mut self) -> Result<()> {
        let auto_port = self.opts.host.is_none() && self.opts.port.is_none();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.launch().await {
                Err(LabError::MariaDbStart { log_tail, .. })
                    if auto_port && attempt < 3 && log_tail.contains("Address already in use") =>
                {
                    self.port = free_loopback_port()?;
                    std::fs::write(self.cnf_path(), self.render_cnf()).map_err(|e| {
                        LabError::io(format!("writing {}", self.cnf_path().display()), e)
                    })?;
                    tracing::warn!(server = %self.opts.label, port = self.port, "port taken; retrying");
                }
                other => return other,
            }
        }
    }

    async fn launch(&mut self) -> Result<()> {
        let cnf = format!("--defaults-file={}", self.cnf_path().display());
        let args = [cnf.as_str()];
        let out_log = self.dir.path().join("mariadbd.out");
        let spec = SpawnSpec {
            program: Path::new(MARIADBD),
            args: &args,
            env: &[],
            log_path: &out_log,
        };
        let process = match &self.opts.host {
            Some(host) => host.spawn(MARIADBD, &args, &[], &out_log)?,
            None => LabProcess::spawn(None, &spec, None)?,
        };
        self.process = Some(process);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let exited = self.process.as_mut().and_then(LabProcess::poll_exit);
            if let Some(status) = exited {
                self.process = None;
                return Err(
                    self.start_error(format!("mariadbd exited with {status}"), &self.error_log())
                );
            }
            if self.socket_path().exists()
                && let Ok(mut conn) = self.root_conn().await
            {
                let ok: std::result::Result<Option<u8>, _> = conn.query_first("SELECT 1").await;
                close(conn).await;
                if ok.is_ok() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                if let Some(mut p) = self.process.take() {
                    let _ = p.kill_and_wait();
                }
                return Err(self.start_error(
                    format!(
                        "no answer on {} within {READY_TIMEOUT:?}",
                        self.socket_path().display()
                    ),
                    &self.error_log(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn render_cnf(&self) -> String {
        let o = &self.opts;
        let d = self.dir.path();
        let bind = if o.host.is_some() {
            "0.0.0.0"
        } else {
            "127.0.0.1"
        };
        let mut cnf = String::from("[mysqld]\n");
        let mut line = |k: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(cnf, "{k}={v}");
        };
        line("user", &"root");
        line("datadir", &d.join("data").display());
        line("tmpdir", &d.join("tmp").display());
        line("socket", &d.join("mysqld.sock").display());
        line("pid-file", &d.join("mysqld.pid").display());
        line("log-error", &d.join("error.log").display());
        line("port", &self.port);
        line("bind-address", &bind);
        line("server-id", &o.server_id);
        line("gtid-domain-id", &o.gtid_domain_id);
        line("log-bin", &d.join("data").join("mysql-bin").display());
        line("relay-log", &d.join("data").join("relay-bin").display());
        line("binlog-format", &"ROW");
        line("log-slave-updates", &1);
        line("read-only", &u8::from(o.read_only));
        line("auto-increment-increment", &o.auto_increment_increment);
        line("auto-increment-offset", &o.auto_increment_offset);
        line("innodb-buffer-pool-size", &format!("{}M", o.buffer_pool_mb));
        line("innodb-log-file-size", &"16M");
        line("performance-schema", &"OFF");
        line("max-connections", &200);
        line("report-host", &self.ip());
        line("report-port", &self.port);
        // The agent's server-side lease timer is an EVENT (a test may turn it off again).
        line("event-scheduler", &"ON");
        cnf.push_str("skip-name-resolve\n");
        for extra in &o.extra_config {
            cnf.push_str(extra);
            cnf.push('\n');
        }
        cnf
    }

    async fn with_deadline<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = std::result::Result<T, mysql_async::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(QUERY_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.sql_error(what, e)),
            Err(_) => Err(LabError::Timeout {
                what: format!("`{what}` on {}", self.opts.label),
                timeout: QUERY_TIMEOUT,
            }),
        }
    }

    pub(crate) fn sql_error(&self, what: &str, source: mysql_async::Error) -> LabError {
        LabError::Sql {
            server: self.opts.label.clone(),
            what: what.to_owned(),
            source,
        }
    }

    fn not_running(&self, action: &str) -> LabError {
        LabError::Unsupported(format!(
            "{action}: mysqld of {} is not running",
            self.opts.label
        ))
    }

    fn start_error(&self, reason: String, log: &Path) -> LabError {
        LabError::MariaDbStart {
            server: self.opts.label.clone(),
            reason,
            log: log.display().to_string(),
            log_tail: tail(log, 30),
        }
    }
}

/// Deadline for a single lab query.
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Closes a connection politely, giving up after a short deadline (a frozen server never
/// answers COM_QUIT).
pub(crate) async fn close(conn: mysql_async::Conn) {
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
}

/// The last `lines` lines of a text file (empty when unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_loopback_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| LabError::io("finding a free loopback port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| LabError::io("finding a free loopback port", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("log");
        std::fs::write(&p, "a\nb\nc\n").expect("write");
        assert_eq!(tail(&p, 2), "b\nc");
        assert_eq!(tail(&dir.path().join("missing"), 2), "");
    }
}
