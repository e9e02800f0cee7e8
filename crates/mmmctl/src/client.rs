//! Talking to the monitor cluster: try each known monitor, follow the leader, bound every call.
//!
//! Convention with the monitor: a follower that cannot serve a request answers with status
//! `UNAVAILABLE` or `FAILED_PRECONDITION` and the metadata key `mmm-leader` set to the
//! leader's Control address (`host:port`); mmmctl then retries there. A status
//! `UNAVAILABLE` whose message contains `no quorum` means the answering monitor cannot
//! reach a majority.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use mmm_daemon::tls::Tls;
use mmm_proto::pb::control_client::ControlClient;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::outcome::Failure;

/// Metadata key a follower sets to its leader's Control address.
pub const LEADER_METADATA: &str = "mmm-leader";

/// Where the monitors are and how to reach them.
#[derive(Debug, Clone)]
pub struct Targets {
    /// Control addresses (`host:port`) in the order to try.
    pub addresses: Vec<String>,
    /// The config file they came from, for error hints.
    pub config_file: Option<PathBuf>,
    /// Mutual TLS, when the config asks for it (the files are read once, before any call).
    pub tls: Option<Tls>,
    /// Bound on connecting to one monitor.
    pub connect_timeout: Duration,
    /// Bound on one call.
    pub call_timeout: Duration,
}

/// Whether a call may be repeated on another monitor after an unclear failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads: any failure moves on to the next monitor.
    Safe,
    /// Writes: only a refusal to serve (redirect, no connection) moves on; a timeout after
    /// sending stops, because the command may have been applied.
    OnlyIfNotSent,
}

/// A boxed call on one connected client.
pub type CallFuture<T> = Pin<Box<dyn Future<Output = Result<tonic::Response<T>, Status>> + Send>>;

impl Targets {
    /// Runs `call` against the monitors: each address in turn, jumping to the leader when a
    /// follower names it.
    pub async fn call<T, F>(&self, retry: Retry, call: F) -> Result<T, Failure>
    where
        F: Fn(ControlClient<Channel>) -> CallFuture<T>,
    {
        let mut queue: VecDeque<String> = self.addresses.iter().cloned().collect();
        let mut tried: Vec<String> = Vec::new();
        let mut problems: Vec<String> = Vec::new();
        let mut no_quorum = false;
        let max_attempts = self.addresses.len() + 8;
        while let Some(addr) = queue.pop_front() {
            if tried.contains(&addr) || tried.len() >= max_attempts {
                continue;
            }
            tried.push(addr.clone());
            let channel = match self.connect(&addr).await {
                Ok(c) => c,
                Err(why) => {
                    problems.push(format!("{addr}: {why}"));
                    continue;
                }
            };
            let client = ControlClient::new(channel);
            let answer = tokio::time::timeout(self.call_timeout, call(client)).await;
            let status = match answer {
                Ok(Ok(reply)) => return Ok(reply.into_inner()),
                Ok(Err(status))
                    if !matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded) =>
                {
                    status
                }
                // Our own bound, or the channel's (tonic reports it as CANCELLED).
                Ok(Err(_)) | Err(_) => {
                    let secs = self.call_timeout.as_secs_f64();
                    if retry == Retry::OnlyIfNotSent {
                        return Err(Failure::Unreachable(format!(
                            "ERROR: The monitor at {addr} did not answer within {secs} s.\n\
                             The command may or may not have been applied; check with `mmmctl show`."
                        )));
                    }
                    problems.push(format!("{addr}: no answer within {secs} s"));
                    continue;
                }
            };
            if let Some(leader) = leader_of(&status) {
                problems.push(format!("{addr}: not the leader, redirected to {leader}"));
                if !tried.contains(&leader) {
                    queue.push_front(leader);
                }
                continue;
            }
            if is_transport_failure(&status) {
                problems.push(format!(
                    "{addr}: {} (plain vs TLS mismatch, or not an mmm monitor?)",
                    describe_status(&status)
                ));
                continue;
            }
            match status.code() {
                Code::Unavailable if status.message().contains("no quorum") => {
                    no_quorum = true;
                    problems.push(format!("{addr}: no quorum ({})", status.message()));
                }
                Code::Unknown if retry == Retry::Safe => {
                    problems.push(format!("{addr}: {}", describe_status(&status)));
                }
                Code::Unavailable => {
                    problems.push(format!("{addr}: {}", describe_status(&status)));
                }
                _ => {
                    return Err(Failure::Refused(format!(
                        "ERROR: The monitor at {addr} rejected the request: {}",
                        describe_status(&status)
                    )));
                }
            }
        }
        Err(self.unreachable(no_quorum, &tried, &problems))
    }

    fn unreachable(&self, no_quorum: bool, tried: &[String], problems: &[String]) -> Failure {
        let mut msg = if no_quorum {
            String::from(
                "ERROR: No quorum: the monitors that answered cannot reach a majority of the monitor cluster.",
            )
        } else {
            String::from("ERROR: Can't connect to monitor daemon!")
        };
        if tried.is_empty() {
            msg.push_str("\nNo monitor address is known.");
        } else {
            msg.push_str("\nTried:");
            for p in problems {
                msg.push_str("\n  ");
                msg.push_str(p);
            }
        }
        match &self.config_file {
            Some(f) => msg.push_str(&format!("\nMonitor addresses came from {}.", f.display())),
            None => msg.push_str("\nMonitor addresses came from --monitor."),
        }
        if no_quorum {
            msg.push_str(
                "\nCheck that a majority of the monitors run and can reach each other (`mmmctl cluster status` on each).",
            );
        } else {
            msg.push_str(
                "\nCheck that mmm-mond runs there and the port is open, or name a monitor with --monitor HOST:PORT.",
            );
        }
        Failure::Unreachable(msg)
    }

    async fn connect(&self, addr: &str) -> Result<Channel, String> {
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("not a valid address ({e})"))?
            .connect_timeout(self.connect_timeout)
            .timeout(self.call_timeout);
        let connecting = mmm_daemon::tls::connect_channel(endpoint, self.tls.as_ref());
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(e)) => Err(format!("connection failed ({})", error_chain(&e))),
            Err(_) => Err(format!(
                "no connection within {} s",
                self.connect_timeout.as_secs_f64()
            )),
        }
    }
}

/// The leader address a follower put into its refusal, if any.
fn leader_of(status: &Status) -> Option<String> {
    if !matches!(status.code(), Code::Unavailable | Code::FailedPrecondition) {
        return None;
    }
    let value = status
        .metadata()
        .get(LEADER_METADATA)?
        .to_str()
        .ok()?
        .trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The call failed below gRPC (HTTP/2 or TLS framing): no handler ran on the other side.
fn is_transport_failure(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Internal | Code::Unknown | Code::Unavailable
    ) && (status.message().starts_with("h2 protocol error")
        || status.message().starts_with("transport error"))
}

fn describe_status(status: &Status) -> String {
    if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        format!("{} ({:?})", status.message(), status.code())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_pointer_needs_the_right_code_and_a_value() {
        let mut redirect = Status::unavailable("not the leader");
        redirect.metadata_mut().insert(
            LEADER_METADATA,
            tonic::metadata::MetadataValue::from_static("10.213.7.13:9988"),
        );
        assert_eq!(leader_of(&redirect).as_deref(), Some("10.213.7.13:9988"));

        let mut wrong_code = Status::internal("boom");
        wrong_code.metadata_mut().insert(
            LEADER_METADATA,
            tonic::metadata::MetadataValue::from_static("x:1"),
        );
        assert_eq!(leader_of(&wrong_code), None);

        let mut empty = Status::failed_precondition("not the leader");
        empty.metadata_mut().insert(
            LEADER_METADATA,
            tonic::metadata::MetadataValue::from_static(" "),
        );
        assert_eq!(leader_of(&empty), None);
        assert_eq!(leader_of(&Status::unavailable("no quorum")), None);
    }

    #[test]
    fn transport_failures_are_told_apart_from_refusals() {
        assert!(is_transport_failure(&Status::internal(
            "h2 protocol error: http2 error"
        )));
        assert!(is_transport_failure(&Status::unavailable(
            "transport error"
        )));
        assert!(!is_transport_failure(&Status::internal(
            "state machine rejected"
        )));
        assert!(!is_transport_failure(&Status::invalid_argument(
            "h2 protocol error"
        )));
    }
}
