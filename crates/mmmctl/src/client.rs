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
use std::time::{Duration, Instant};

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

/// Pause between two passes over the monitors while a leader change seems under way.
const PASS_PAUSE: Duration = Duration::from_millis(250);

/// What one pass over the monitors found, for the next pass and the final message.
#[derive(Debug, Default)]
struct Pass {
    /// Addresses tried, in order.
    tried: Vec<String>,
    /// Leaders a follower redirected to.
    redirected_to: Vec<String>,
    /// One line per failed attempt.
    problems: Vec<String>,
    /// A monitor answered that it cannot reach a majority.
    no_quorum: bool,
    /// A monitor answered, but the leader it knows does not (or it knows none yet): a
    /// leader change may be under way, so another pass may find the new leader.
    leader_moving: bool,
}

/// How one attempt ended.
enum Step<T> {
    /// The monitor answered.
    Done(T),
    /// Try the next address.
    Next,
    /// Stop trying: the outcome is final.
    Stop(Failure),
}

impl Targets {
    /// Runs `call` against the monitors: each address in turn, jumping to the leader when a
    /// follower names it and that leader answers. While the monitors that answer point to a
    /// leader that does not (a leader change under way), passes are repeated until one
    /// finds the new leader or the call timeout has passed.
    pub async fn call<T, F>(&self, retry: Retry, call: F) -> Result<T, Failure>
    where
        F: Fn(ControlClient<Channel>) -> CallFuture<T>,
    {
        let deadline = Instant::now() + self.call_timeout;
        let mut passes = 1;
        loop {
            let mut pass = Pass::default();
            if let Some(outcome) = self.pass(retry, &call, &mut pass).await {
                return outcome;
            }
            if !pass.leader_moving || Instant::now() + PASS_PAUSE >= deadline {
                return Err(self.unreachable(&pass, passes));
            }
            tokio::time::sleep(PASS_PAUSE).await;
            passes += 1;
        }
    }

    /// One pass over the addresses (and the leaders they name); `None` when nobody served.
    async fn pass<T, F>(
        &self,
        retry: Retry,
        call: &F,
        pass: &mut Pass,
    ) -> Option<Result<T, Failure>>
    where
        F: Fn(ControlClient<Channel>) -> CallFuture<T>,
    {
        let mut queue: VecDeque<String> = self.addresses.iter().cloned().collect();
        let max_attempts = self.addresses.len() + 8;
        while let Some(addr) = queue.pop_front() {
            if pass.tried.contains(&addr) || pass.tried.len() >= max_attempts {
                continue;
            }
            pass.tried.push(addr.clone());
            match self.attempt(&addr, retry, call, pass).await {
                Step::Done(v) => return Some(Ok(v)),
                Step::Stop(failure) => return Some(Err(failure)),
                Step::Next => {}
            }
            if let Some(leader) = pass.redirected_to.last()
                && !pass.tried.contains(leader)
                && !queue.contains(leader)
            {
                queue.push_front(leader.clone());
            }
        }
        None
    }

    /// Calls the monitor at `addr` once.
    async fn attempt<T, F>(&self, addr: &str, retry: Retry, call: &F, pass: &mut Pass) -> Step<T>
    where
        F: Fn(ControlClient<Channel>) -> CallFuture<T>,
    {
        let channel = match self.connect(addr).await {
            Ok(c) => c,
            Err(why) => {
                if pass.redirected_to.iter().any(|l| l == addr) {
                    pass.leader_moving = true;
                }
                pass.problems.push(format!("{addr}: {why}"));
                return Step::Next;
            }
        };
        let answer =
            tokio::time::timeout(self.call_timeout, call(ControlClient::new(channel))).await;
        match answer {
            Ok(Ok(reply)) => Step::Done(reply.into_inner()),
            Ok(Err(status))
                if !matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded) =>
            {
                self.refusal(addr, retry, &status, pass)
            }
            // Our own bound, or the channel's (tonic reports it as CANCELLED).
            Ok(Err(_)) | Err(_) => {
                let secs = self.call_timeout.as_secs_f64();
                if retry == Retry::OnlyIfNotSent {
                    return Step::Stop(may_have_been_applied(&format!(
                        "ERROR: The monitor at {addr} did not answer within {secs} s."
                    )));
                }
                pass.problems
                    .push(format!("{addr}: no answer within {secs} s"));
                Step::Next
            }
        }
    }

    /// What a monitor's refusal to serve means for the next step.
    fn refusal<T>(&self, addr: &str, retry: Retry, status: &Status, pass: &mut Pass) -> Step<T> {
        let message = status.message();
        if let Some(leader) = leader_of(status) {
            pass.problems
                .push(format!("{addr}: not the leader, redirected to {leader}"));
            if pass.tried.contains(&leader) {
                // The leader it names was tried in this pass and did not serve.
                pass.leader_moving = true;
            }
            pass.redirected_to.push(leader);
            return Step::Next;
        }
        if is_transport_failure(status) {
            pass.problems.push(format!(
                "{addr}: {} (plain vs TLS mismatch, or not an mmm monitor?)",
                describe_status(status)
            ));
            return Step::Next;
        }
        match status.code() {
            Code::Unavailable if message.contains("no quorum") => {
                if retry == Retry::OnlyIfNotSent && message.contains("not committed") {
                    return Step::Stop(may_have_been_applied(&format!(
                        "ERROR: No quorum: the monitor at {addr} could not commit the command ({message})."
                    )));
                }
                pass.no_quorum = true;
                pass.leader_moving |= message.contains("knows no leader");
                pass.problems.push(format!("{addr}: no quorum ({message})"));
                Step::Next
            }
            Code::Unknown if retry == Retry::Safe => {
                pass.problems
                    .push(format!("{addr}: {}", describe_status(status)));
                Step::Next
            }
            Code::Unavailable => {
                pass.problems
                    .push(format!("{addr}: {}", describe_status(status)));
                Step::Next
            }
            _ => Step::Stop(Failure::Refused(format!(
                "ERROR: The monitor at {addr} rejected the request: {}",
                describe_status(status)
            ))),
        }
    }

    /// Calls every monitor once, in order, each bounded like [`Targets::call`]'s attempts,
    /// and returns what each answered (no redirects followed): for reads that want every
    /// monitor's own view, such as a stale `show` when no quorum serves.
    pub async fn ask_each<T, F>(&self, call: F) -> Vec<(String, Result<T, String>)>
    where
        F: Fn(ControlClient<Channel>) -> CallFuture<T>,
    {
        let mut answers = Vec::new();
        for addr in &self.addresses {
            let answer = match self.connect(addr).await {
                Err(why) => Err(why),
                Ok(channel) => {
                    let call = call(ControlClient::new(channel));
                    match tokio::time::timeout(self.call_timeout, call).await {
                        Ok(Ok(reply)) => Ok(reply.into_inner()),
                        Ok(Err(status)) => Err(describe_status(&status)),
                        Err(_) => Err(format!(
                            "no answer within {} s",
                            self.call_timeout.as_secs_f64()
                        )),
                    }
                }
            };
            answers.push((addr.clone(), answer));
        }
        answers
    }

    fn unreachable(&self, pass: &Pass, passes: u32) -> Failure {
        let mut msg = if pass.no_quorum {
            String::from(
                "ERROR: No quorum: the monitors that answered cannot reach a majority of the monitor cluster.",
            )
        } else {
            String::from("ERROR: Can't connect to monitor daemon!")
        };
        if pass.tried.is_empty() {
            msg.push_str("\nNo monitor address is known.");
        } else {
            if passes > 1 {
                msg.push_str(&format!(
                    "\nTried {passes} times within {} s; the last time:",
                    self.call_timeout.as_secs_f64()
                ));
            } else {
                msg.push_str("\nTried:");
            }
            for p in &pass.problems {
                msg.push_str("\n  ");
                msg.push_str(p);
            }
        }
        match &self.config_file {
            Some(f) => msg.push_str(&format!("\nMonitor addresses came from {}.", f.display())),
            None => msg.push_str("\nMonitor addresses came from --monitor."),
        }
        if pass.leader_moving {
            msg.push_str(
                "\nThe monitors that answered name a leader that does not answer: a new leader may be being elected. Try again in a few seconds.",
            );
        }
        if pass.no_quorum {
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

/// A failure after a write may have reached the leader.
fn may_have_been_applied(first_line: &str) -> Failure {
    Failure::Unreachable(format!(
        "{first_line}\nThe command may or may not have been applied; check with `mmmctl show`."
    ))
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
