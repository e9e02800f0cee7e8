//! Proving that the host a writer role was released from cannot take writes, when its agent
//! does not confirm the drop: the leader fences its MySQL over SQL and, where that fails and
//! `kill_host_bin` is configured, runs mysql-mmm's kill-host hook. What succeeded becomes a
//! fact that `decide` records in the replicated state ([`crate::command::Change::ProveFenced`]);
//! when nothing succeeds the role stays orphaned and the log says what is missing.

use std::time::Duration;

use crate::config::Config;
use crate::log::LogLine;
use crate::state::WriterRelease;

use super::Out;
use super::hosts::Hosts;
use super::io::{CallId, Effect, KillOutcome, Now, SqlFenced};
use super::timing::Timing;

/// The next way to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sql,
    Kill,
}

/// The fencing of one release (one host, one release epoch).
#[derive(Debug, Clone)]
struct Attempt {
    host: String,
    epoch: u64,
    in_flight: Option<(CallId, Kind)>,
    next: Kind,
    next_try: Duration,
    sql_error: Option<String>,
    kill_error: Option<String>,
    /// "What is missing" was logged for this release.
    reported: bool,
}

/// The leader's fencing of the pending writer release (one leadership only).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fencing {
    attempt: Option<Attempt>,
}

/// What one round of fencing reads.
pub(crate) struct Round<'a> {
    /// The pending release, when it still lacks a proof.
    pub(crate) release: Option<&'a WriterRelease>,
    /// This leader's facts already prove it (decide records that next).
    pub(crate) proven: bool,
    /// When this leadership began (monotonic).
    pub(crate) since: Duration,
    /// Whether the host answers ping (the hook's second argument).
    pub(crate) ping_ok: bool,
    pub(crate) timing: &'a Timing,
    pub(crate) config: &'a Config,
}

impl Fencing {
    /// Starts the next fence when the release's host has had `agent_timeout` (since the
    /// release was seen, and since this leadership began) to confirm and did not.
    pub(crate) fn tick(&mut self, r: &Round<'_>, now: Now, out: &mut Out) {
        let Some(rel) = r.release.filter(|_| !r.proven) else {
            self.attempt = None;
            return;
        };
        let fresh = self
            .attempt
            .as_ref()
            .is_none_or(|a| a.epoch != rel.epoch || a.host != rel.host);
        if fresh {
            let start = now.mono.max(r.since) + r.timing.agent_timeout;
            self.attempt = Some(Attempt {
                host: rel.host.clone(),
                epoch: rel.epoch,
                in_flight: None,
                next: Kind::Sql,
                next_try: start,
                sql_error: None,
                kill_error: None,
                reported: false,
            });
        }
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        if a.in_flight.is_some() || now.mono < a.next_try {
            return;
        }
        let id = out.call_id();
        a.in_flight = Some((id, a.next));
        let host = a.host.clone();
        match a.next {
            Kind::Sql => {
                out.log(LogLine::info(format!(
                    "Fencing host '{host}' over SQL at epoch {}: its agent did not confirm \
                     it dropped the writer role",
                    a.epoch
                )));
                out.effect(Effect::FenceMysql {
                    id,
                    host,
                    epoch: a.epoch,
                });
            }
            Kind::Kill => {
                let bin = kill_host_bin(r.config).unwrap_or_default();
                let ping = u8::from(r.ping_ok);
                out.log(LogLine::info(format!(
                    "Killing host using command '{bin} {host} {ping}'"
                )));
                out.effect(Effect::KillHost {
                    id,
                    host,
                    ping_ok: r.ping_ok,
                });
            }
        }
    }

    /// An SQL fence finished: success is a fact for `decide`; a failure moves on to the
    /// kill-host hook when there is one.
    pub(crate) fn sql_answered(
        &mut self,
        call: CallId,
        result: &Result<SqlFenced, String>,
        ctx: (Now, &Timing, &Config),
        hosts: &mut Hosts,
        out: &mut Out,
    ) {
        let (now, timing, config) = ctx;
        let Some(a) = self.take_call(call, Kind::Sql) else {
            return;
        };
        match result {
            Ok(done) => {
                out.log(LogLine::info(format!(
                    "Fenced host '{}' over SQL: read_only=1, {} client sessions killed, \
                     fencing epoch {} stored",
                    a.host, done.killed, done.epoch
                )));
                hosts.note_sql_fenced(&a.host, done.epoch);
            }
            Err(e) => {
                if a.sql_error.as_deref() != Some(e) {
                    out.log(LogLine::warn(format!(
                        "Could not fence host '{}' over SQL: {e}",
                        a.host
                    )));
                }
                a.sql_error = Some(e.clone());
                if kill_host_bin(config).is_some() {
                    a.next = Kind::Kill;
                    a.next_try = now.mono;
                } else {
                    a.next_try = now.mono + timing.agent_lease;
                    a.report_missing(config, out);
                }
            }
        }
    }

    /// A kill-host run finished (mysql-mmm's lines): exit 0 is a fact for `decide`.
    pub(crate) fn kill_answered(
        &mut self,
        call: CallId,
        outcome: &KillOutcome,
        ctx: (Now, &Timing, &Config),
        hosts: &mut Hosts,
        out: &mut Out,
    ) {
        let (now, timing, config) = ctx;
        let Some(a) = self.take_call(call, Kind::Kill) else {
            return;
        };
        let output = outcome.output.trim();
        if outcome.code == Some(0) {
            if !output.is_empty() {
                out.log(LogLine::info(format!(
                    "Output of kill host command was: {output}"
                )));
            }
            hosts.note_killed(&a.host, a.epoch);
            return;
        }
        let code = outcome
            .code
            .map_or_else(|| "none".to_string(), |c| c.to_string());
        out.log(LogLine::fatal(format!(
            "Could not kill host '{}' - there may be some duplicate ips now! kill_host binary \
             exited with '{code}'. Output was: {output}",
            a.host
        )));
        a.kill_error = Some(format!("exit {code}"));
        a.next = Kind::Sql;
        a.next_try = now.mono + timing.agent_lease;
        a.report_missing(config, out);
    }

    fn take_call(&mut self, call: CallId, kind: Kind) -> Option<&mut Attempt> {
        let a = self.attempt.as_mut()?;
        a.in_flight.take_if(|(id, k)| *id == call && *k == kind)?;
        Some(a)
    }
}

impl Attempt {
    /// Says once per release why the writer role stays orphaned and how to move it.
    fn report_missing(&mut self, config: &Config, out: &mut Out) {
        if self.reported {
            return;
        }
        self.reported = true;
        let sql = self.sql_error.as_deref().unwrap_or("not tried");
        let kill = match (kill_host_bin(config), &self.kill_error) {
            (None, _) => "no kill_host_bin configured".to_string(),
            (Some(_), Some(e)) => format!("kill_host_bin failed ({e})"),
            (Some(_), None) => "kill_host_bin not run".to_string(),
        };
        let host = &self.host;
        out.log(LogLine::fatal(format!(
            "Writer role stays orphaned: host '{host}' is not proven unable to take writes \
             (its agent did not confirm the drop; SQL fence: {sql}; {kill}). Run \
             'confirm_fenced {host}' once it surely cannot take writes"
        )));
    }
}

fn kill_host_bin(config: &Config) -> Option<String> {
    let m = config.monitor.as_ref()?;
    m.kill_host_bin.as_ref().map(|p| p.display().to_string())
}
