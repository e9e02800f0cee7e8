//! The monitor's replies as text (mmm_control's renderings) and as versioned JSON (JSON.md).

use mmm_core::render::{self, CheckView};
use mmm_proto::{convert, pb};
use serde::Serialize;
use time::UtcOffset;

use crate::timefmt;

/// Version of every JSON document mmmctl prints; bumped only on incompatible changes.
pub const JSON_VERSION: u32 = 1;

/// The lines above a stale `show`: whose state it is, that it may be out of date, and why no
/// quorum served it (in mmm_control's `# Warning:` style).
pub fn stale_warning(reply: &pb::ShowReply) -> String {
    let monitor = if reply.answered_by.is_empty() {
        "a monitor".to_string()
    } else {
        format!("monitor '{}'", reply.answered_by)
    };
    let mut text = format!(
        "# Warning: No quorum! This is the last state known to {monitor} (epoch {}) and may be out of date.\n# Cause: {}\n",
        reply.epoch, reply.stale_reason
    );
    for f in &reply.failsafe {
        text.push_str(&format!(
            "# Failsafe active: '{}' keeps the writer role under failsafe leases from every other host ({} ms left).\n",
            f.host, f.remaining_ms
        ));
    }
    text
}

/// `show` in mmm_control's text.
pub fn show_text(reply: &pb::ShowReply) -> String {
    render::render_show(&convert::show_view(reply))
}

/// `checks` in mmm_control's text.
pub fn checks_text(reply: &pb::ChecksReply, single_host: bool, offset: UtcOffset) -> String {
    let rows: Vec<CheckView> = reply
        .checks
        .iter()
        .map(|c| CheckView {
            host: c.host.clone(),
            check: c.check.clone(),
            ok: c.ok,
            last_change: timefmt::format_secs(c.last_change, offset),
            message: c.message.clone(),
        })
        .collect();
    render::render_checks(&rows, single_host)
}

#[derive(Serialize)]
struct ShowJson<'a> {
    version: u32,
    mode: &'a str,
    passive_cause: Option<&'a str>,
    epoch: u64,
    hosts: Vec<HostJson<'a>>,
    preferred: Vec<PreferredJson<'a>>,
    stale: bool,
    stale_reason: Option<&'a str>,
    answered_by: Option<&'a str>,
    failsafe: Vec<FailsafeJson<'a>>,
    writer_held: Option<&'a str>,
}

#[derive(Serialize)]
struct FailsafeJson<'a> {
    host: &'a str,
    remaining_ms: u64,
}

#[derive(Serialize)]
struct HostJson<'a> {
    name: &'a str,
    ip: &'a str,
    mode: &'a str,
    state: String,
    roles: Vec<RoleJson<'a>>,
    agent_reachable: bool,
}

#[derive(Serialize)]
struct RoleJson<'a> {
    role: &'a str,
    ip: &'a str,
}

#[derive(Serialize)]
struct PreferredJson<'a> {
    role: &'a str,
    preferred_host: &'a str,
    assigned_host: Option<&'a str>,
}

/// mysql-mmm's name of a host state received from the monitor; a number this version does
/// not know is shown as such rather than hidden.
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// `show --json`.
pub fn show_json(reply: &pb::ShowReply) -> serde_json::Value {
    let mut hosts: Vec<&pb::HostView> = reply.hosts.iter().collect();
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    let doc = ShowJson {
        version: JSON_VERSION,
        mode: &reply.mode,
        passive_cause: non_empty(&reply.passive_cause),
        epoch: reply.epoch,
        hosts: hosts
            .into_iter()
            .map(|h| {
                let mut roles: Vec<RoleJson> = h
                    .roles
                    .iter()
                    .map(|r| RoleJson {
                        role: &r.role,
                        ip: &r.ip,
                    })
                    .collect();
                roles.sort_by(|a, b| (a.role, a.ip).cmp(&(b.role, b.ip)));
                HostJson {
                    name: &h.name,
                    ip: &h.ip,
                    mode: &h.mode,
                    state: convert::state_name(h.state),
                    roles,
                    agent_reachable: !h.agent_down,
                }
            })
            .collect(),
        preferred: reply
            .preferred
            .iter()
            .map(|p| PreferredJson {
                role: &p.role,
                preferred_host: &p.preferred_host,
                assigned_host: non_empty(&p.assigned_host),
            })
            .collect(),
        stale: reply.stale,
        stale_reason: non_empty(&reply.stale_reason),
        answered_by: non_empty(&reply.answered_by),
        failsafe: reply
            .failsafe
            .iter()
            .map(|f| FailsafeJson {
                host: &f.host,
                remaining_ms: f.remaining_ms,
            })
            .collect(),
        writer_held: non_empty(&reply.writer_held),
    };
    to_value(&doc)
}

#[derive(Serialize)]
struct ChecksJson<'a> {
    version: u32,
    checks: Vec<CheckJson<'a>>,
}

#[derive(Serialize)]
struct CheckJson<'a> {
    host: &'a str,
    check: &'a str,
    ok: bool,
    last_change: i64,
    message: &'a str,
}

/// `checks --json`.
pub fn checks_json(reply: &pb::ChecksReply) -> serde_json::Value {
    to_value(&ChecksJson {
        version: JSON_VERSION,
        checks: reply
            .checks
            .iter()
            .map(|c| CheckJson {
                host: &c.host,
                check: &c.check,
                ok: c.ok,
                last_change: c.last_change,
                message: &c.message,
            })
            .collect(),
    })
}

/// `mode --json`.
pub fn mode_json(mode: &str) -> serde_json::Value {
    serde_json::json!({ "version": JSON_VERSION, "mode": mode })
}

/// Any refused read command with `--json`.
pub fn error_json(message: &str) -> serde_json::Value {
    serde_json::json!({ "version": JSON_VERSION, "error": message })
}

#[derive(Serialize)]
struct ClusterJson<'a> {
    version: u32,
    leader_id: Option<u64>,
    leader_name: Option<&'a str>,
    term: u64,
    last_applied: u64,
    last_log: u64,
    epoch: u64,
    answered_by: u64,
    members: Vec<MemberJson<'a>>,
}

#[derive(Serialize)]
struct MemberJson<'a> {
    id: u64,
    name: &'a str,
    address: &'a str,
    voter: bool,
    matched: Option<u64>,
    reachability: &'a str,
    last_contact_ms: Option<u64>,
    error: Option<&'a str>,
}

fn members_json(reply: &pb::ClusterStatusReply) -> Vec<MemberJson<'_>> {
    reply
        .members
        .iter()
        .map(|m| MemberJson {
            id: m.id,
            name: &m.name,
            address: &m.address,
            voter: m.voter,
            matched: m.matched,
            reachability: if m.reachability.is_empty() {
                "unknown"
            } else {
                &m.reachability
            },
            last_contact_ms: m.last_contact_ms,
            error: non_empty(&m.error),
        })
        .collect()
}

/// `cluster status --json`.
pub fn cluster_json(reply: &pb::ClusterStatusReply) -> serde_json::Value {
    to_value(&ClusterJson {
        version: JSON_VERSION,
        leader_id: (reply.leader_id != 0).then_some(reply.leader_id),
        leader_name: non_empty(&reply.leader_name),
        term: reply.term,
        last_applied: reply.last_applied,
        last_log: reply.last_log,
        epoch: reply.epoch,
        answered_by: reply.this_id,
        members: members_json(reply),
    })
}

/// `cluster members --json`.
pub fn members_only_json(reply: &pb::ClusterStatusReply) -> serde_json::Value {
    serde_json::json!({ "version": JSON_VERSION, "members": to_value(&members_json(reply)) })
}

/// `cluster status` as text.
pub fn cluster_text(reply: &pb::ClusterStatusReply) -> String {
    let leader = if reply.leader_id == 0 {
        "none (election in progress or no quorum)".to_string()
    } else if reply.leader_name.is_empty() {
        format!("id {}", reply.leader_id)
    } else {
        format!("{} (id {})", reply.leader_name, reply.leader_id)
    };
    let mut out = format!(
        "Leader: {leader}\nTerm: {}\nEpoch: {}\nLog: last {}, applied {}\nAnswered by: id {}\n",
        reply.term, reply.epoch, reply.last_log, reply.last_applied, reply.this_id
    );
    out.push_str(&members_text(reply));
    out
}

/// `cluster members` as text: one aligned line per member.
pub fn members_text(reply: &pb::ClusterStatusReply) -> String {
    let name_w = reply
        .members
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(0);
    let addr_w = reply
        .members
        .iter()
        .map(|m| m.address.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::from("Members:\n");
    for m in &reply.members {
        let kind = if m.voter { "voter" } else { "learner" };
        let leader = if m.id == reply.leader_id {
            "  leader"
        } else {
            ""
        };
        let matched = m
            .matched
            .map(|i| format!("  matched {i}"))
            .unwrap_or_default();
        let contact = contact_text(m);
        out.push_str(&format!(
            "  {:>3}  {:name_w$}  {:addr_w$}  {kind:7}{matched}{leader}{contact}\n",
            m.id, m.name, m.address
        ));
    }
    out
}

/// `  reachable, last contact 0.1 s ago`, `  unreachable: connection refused, last contact
/// 12.3 s ago`, `  never contacted`; nothing for the answering monitor itself.
fn contact_text(m: &pb::MemberView) -> String {
    let last = match m.last_contact_ms {
        Some(ms) => format!("last contact {:.1} s ago", ms as f64 / 1000.0),
        None => "never contacted".to_owned(),
    };
    match m.reachability.as_str() {
        "self" | "" => String::new(),
        "unreachable" if !m.error.is_empty() => format!("  unreachable: {}, {last}", m.error),
        word => format!("  {word}, {last}"),
    }
}

#[derive(Serialize)]
struct HistoryJson<'a> {
    version: u32,
    entries: Vec<EntryJson<'a>>,
}

#[derive(Serialize)]
struct EntryJson<'a> {
    epoch: u64,
    at_ms: u64,
    line: &'a str,
}

/// `history --json`.
pub fn history_json(reply: &pb::HistoryReply) -> serde_json::Value {
    to_value(&HistoryJson {
        version: JSON_VERSION,
        entries: reply
            .entries
            .iter()
            .map(|e| EntryJson {
                epoch: e.epoch,
                at_ms: e.at_ms,
                line: &e.line,
            })
            .collect(),
    })
}

/// `history` as text: MMM's log date, the epoch, the MMM log line.
pub fn history_text(reply: &pb::HistoryReply, offset: UtcOffset) -> String {
    let mut out = String::new();
    for e in &reply.entries {
        out.push_str(&format!(
            "{} [epoch {}] {}\n",
            timefmt::format_millis(e.at_ms, offset),
            e.epoch,
            e.line
        ));
    }
    out
}

fn to_value<T: Serialize>(doc: &T) -> serde_json::Value {
    // Serializing these plain structs cannot fail; fall back to null rather than panic.
    serde_json::to_value(doc).unwrap_or(serde_json::Value::Null)
}
