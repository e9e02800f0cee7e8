//! What the monitor counts as it works, for `/metrics`: agent calls by host, call and outcome
//! with their durations, this monitor's check durations, and observation tables received from
//! each monitor. The driver (the
//! only writer) and the HTTP handlers share one [`Counters`]; prometheus-client's counters are
//! atomics, so a scrape reads them without waiting on the driver.

use std::time::Duration;

use mmm_core::leader::{AgentCall, CallFailure};
use mmm_daemon::metrics::Labels;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Agent-call durations from 1 ms to about 4 s, doubling (an `agent_timeout` above that lands
/// in `+Inf`).
fn call_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 13))
}

/// The monitor's counters; clones share them.
#[derive(Clone)]
pub struct Counters {
    calls: Family<Labels, Counter>,
    call_seconds: Histograms,
    observations: Family<Labels, Counter>,
    check_seconds: Histograms,
    leader_gone: Counter,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            calls: Family::default(),
            call_seconds: Family::new_with_constructor(call_histogram),
            observations: Family::default(),
            check_seconds: Family::new_with_constructor(call_histogram),
            leader_gone: Counter::default(),
        }
    }
}

/// The name of `call` in labels (mysql-mmm's message names, lower case).
pub fn call_name(call: &AgentCall) -> &'static str {
    match call {
        AgentCall::SetStatus(_) => "set_status",
        AgentCall::GetStatus => "get_agent_status",
        AgentCall::GetSystemStatus => "get_system_status",
        AgentCall::ClearBadRoles(_) => "clear_bad_roles",
        AgentCall::Ping => "ping",
    }
}

/// How a call ended, in labels.
pub fn outcome_name<T>(result: &Result<T, CallFailure>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(CallFailure::NotSent(_)) => "not_sent",
        Err(CallFailure::Refused(_)) => "refused",
        Err(CallFailure::Unreachable(_)) => "unreachable",
    }
}

impl Counters {
    /// Counts one finished agent call; `took` is recorded only for calls that were sent.
    pub fn agent_call(
        &self,
        host: &str,
        call: &'static str,
        outcome: &'static str,
        took: Duration,
    ) {
        let labels = vec![
            ("host", host.to_owned()),
            ("call", call.to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        self.calls.get_or_create(&labels).inc();
        if outcome != "not_sent" {
            let labels = vec![("host", host.to_owned()), ("call", call.to_owned())];
            self.call_seconds
                .get_or_create(&labels)
                .observe(took.as_secs_f64());
        }
    }

    /// Records how long one check of `host` took (every result, passing or not).
    pub fn check(&self, host: &str, check: &'static str, took: Duration) {
        let labels = vec![("host", host.to_owned()), ("check", check.to_owned())];
        self.check_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Counts one observation table received from `monitor` while leading.
    pub fn observation(&self, monitor: &str) {
        let labels = vec![("monitor", monitor.to_owned())];
        self.observations.get_or_create(&labels).inc();
    }

    /// Counts an election this monitor started because the leader's process was gone.
    pub fn leader_gone_campaign(&self) {
        self.leader_gone.inc();
    }

    /// How many elections this monitor started because the leader's process was gone.
    pub fn leader_gone_campaigns(&self) -> u64 {
        self.leader_gone.get()
    }

    /// Adds the counters to a scrape's registry (they stay shared with the driver).
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "agent_calls",
            "Agent calls this monitor made as leader, by host, call and outcome",
            self.calls.clone(),
        );
        r.register_with_unit(
            "agent_call_duration",
            "Time from sending an agent call to its answer or failure",
            Unit::Seconds,
            self.call_seconds.clone(),
        );
        r.register(
            "observations_received",
            "Check tables received from each monitor while this monitor led",
            self.observations.clone(),
        );
        r.register_with_unit(
            "check_duration",
            "Time one check of a host took on this monitor, by host and check",
            Unit::Seconds,
            self.check_seconds.clone(),
        );
        r.register(
            "raft_leader_gone_campaigns",
            "Elections this monitor started as soon as the leader's lease allowed, because the leader monitor refused connections",
            self.leader_gone.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_a_scrape_with_their_labels() {
        let c = Counters::default();
        c.agent_call("db1", "set_status", "ok", Duration::from_millis(3));
        c.agent_call("db1", "set_status", "ok", Duration::from_millis(5));
        c.agent_call("db2", "ping", "unreachable", Duration::from_millis(500));
        c.agent_call("db2", "set_status", "not_sent", Duration::ZERO);
        c.observation("mon2");
        c.check("db1", "mysql", Duration::from_millis(2));
        let mut r = Registry::with_prefix("mmm_monitor");
        c.register(&mut r);
        let text = mmm_daemon::metrics::text(&r).expect("renders");
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "no {l:?} in\n{text}");
        has(r#"mmm_monitor_agent_calls_total{host="db1",call="set_status",outcome="ok"} 2"#);
        has(r#"mmm_monitor_agent_calls_total{host="db2",call="ping",outcome="unreachable"} 1"#);
        has(r#"mmm_monitor_agent_calls_total{host="db2",call="set_status",outcome="not_sent"} 1"#);
        has(r#"mmm_monitor_agent_call_duration_seconds_count{host="db1",call="set_status"} 2"#);
        has(r#"mmm_monitor_observations_received_total{monitor="mon2"} 1"#);
        has(r#"mmm_monitor_check_duration_seconds_count{host="db1",check="mysql"} 1"#);
        assert!(
            !text.contains(r#"agent_call_duration_seconds_count{host="db2",call="set_status"}"#),
            "a call never sent has no duration:\n{text}"
        );
    }
}
