//! The files a lab cluster's daemons read: one MMM-format config per daemon and one for
//! `mmmctl`, with the cluster's timings, monitors and sockets, and the certificates they name.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{CLIENT_HOST, Cluster, DaemonKind};
use crate::error::{LabError, Result};
use crate::mmm_config::write_private_file;
use crate::process::output_with_deadline;

/// How long the certificate script may take.
const TLS_SCRIPT_DEADLINE: Duration = Duration::from_secs(60);

impl Cluster {
    /// The configuration every daemon shares: the topology's `mmm_common.conf`, checks, the
    /// monitor cluster (with `pid_path`, which each monitor needs for itself) and any extra text.
    fn render_common(&self, monitor_pid_path: &Path) -> String {
        let t = &self.opts.timings;
        let mut s = self.config.render();
        let _ = write!(
            s,
            "\n<check default>\n    check_period {}\n    trap_period {}\n    timeout {}\n</check>\n",
            secs(t.check_period),
            secs(t.trap_period),
            secs(t.check_timeout)
        );
        if let Some(period) = t.replication_check_period {
            for check in ["rep_threads", "rep_backlog"] {
                let _ = write!(
                    s,
                    "\n<check {check}>\n    check_period {}\n</check>\n",
                    secs(period)
                );
            }
        }
        let ping_ips: Vec<String> = self.config.hosts.iter().map(|h| h.ip.to_string()).collect();
        let _ = write!(
            s,
            "\n<monitor>\n    pid_path {}\n    ping_ips {}\n    agent_lease {}\n    status_interval {}\n    agent_timeout {}\n    lease_margin {}\n</monitor>\n",
            monitor_pid_path.display(),
            ping_ips.join(", "),
            secs(t.agent_lease),
            secs(t.status_interval),
            secs(t.agent_timeout),
            secs(t.lease_margin)
        );
        for d in self.daemons_of(DaemonKind::Monitor) {
            let _ = write!(
                s,
                "\n<monitor {}>\n    ip {}\n    data_dir {}\n</monitor>\n",
                d.name,
                d.host.ip(),
                d.host.dir().join("raft").display()
            );
        }
        if !self.opts.extra_config.is_empty() {
            s.push('\n');
            s.push_str(&self.opts.extra_config);
            s.push('\n');
        }
        s
    }

    pub(super) fn write_configs(&self) -> Result<()> {
        for d in &self.daemons {
            let (this, pid_dir) = match d.kind {
                DaemonKind::Agent => (format!("this {}", d.name), self.client.dir()),
                DaemonKind::Monitor => (format!("this_monitor {}", d.name), d.host.dir()),
            };
            let common = self.render_common(&pid_dir.join("mmm_mond.pid"));
            let socket = self.render_socket(&d.name);
            write_private_file(
                &self.daemon_config_path(d),
                &format!("{common}{socket}\n{this}\n"),
            )?;
        }
        let common = self.render_common(&self.client.dir().join("mmm_mond.pid"));
        let socket = self.render_socket(CLIENT_HOST);
        write_private_file(&self.mmmctl_config_path(), &format!("{common}{socket}"))
    }

    /// The `<socket>` section of `name`'s file: its own certificate when the cluster uses TLS.
    fn render_socket(&self, name: &str) -> String {
        match self.tls_dir() {
            None => String::new(),
            Some(dir) => format!(
                "\n<socket>\n    type ssl\n    cert_file {d}/{name}.crt\n    key_file {d}/{name}.key\n    ca_file {d}/ca.crt\n</socket>\n",
                d = dir.display()
            ),
        }
    }

    /// Where the daemons' certificates are (`<lab dir>/tls`), when the cluster uses TLS.
    pub fn tls_dir(&self) -> Option<PathBuf> {
        self.opts
            .tls_script
            .as_ref()
            .map(|_| self.lab.dir().join("tls"))
    }

    /// Runs the certificate script into `dir` for every daemon (`db1=10.213.7.11`, …, `mon1=…`)
    /// and the client (`client=10.213.7.50`): a new CA there unless `dir` already has one. With
    /// a fresh `dir` this makes a second, unrelated CA (certificates the cluster does not trust).
    pub fn make_certificates(&self, dir: &Path) -> Result<()> {
        let script = self.opts.tls_script.as_ref().ok_or_else(|| {
            LabError::Unsupported("the cluster was launched without tls_script".to_owned())
        })?;
        let mut command = Command::new(script);
        command.arg(dir);
        for d in &self.daemons {
            command.arg(format!("{}={}", d.name, d.host.ip()));
        }
        command.arg(format!("{CLIENT_HOST}={}", self.client.ip()));
        let out =
            output_with_deadline(command, "the certificate script", TLS_SCRIPT_DEADLINE, None)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(LabError::Unsupported(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }
}

/// Seconds as MMM's config writes them (`0.2`, `1`).
fn secs(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_without_trailing_zeros() {
        assert_eq!(secs(Duration::from_millis(200)), "0.2");
        assert_eq!(secs(Duration::from_secs(1)), "1");
        assert_eq!(secs(Duration::from_millis(2500)), "2.5");
        assert_eq!(secs(Duration::from_millis(1)), "0.001");
    }
}
