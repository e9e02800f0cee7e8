//! The active-master role's moves and releases in `apply`: a release recorded when the
//! role leaves its host, the proof that the old writer is fenced, the pre-failover hook's
//! verdict, and the count of writer moves by cause.

use crate::config::Config;
use crate::log::LogLine;
use crate::state::{ClusterState, FenceProof, HookVerdict, HostState, RoleIp, WriterRelease};
use crate::time::Timestamp;

/// Why the active-master role is being released.
pub(super) struct Release {
    /// Where an admin move or `prefer` wants it (None after a failure).
    pub(super) target: Option<String>,
    /// Its host failed (see [`WriterRelease::failover`]).
    pub(super) failover: bool,
}

/// Records the release of the active-master role if it was among `removed`.
pub(super) fn note_writer_removed(
    state: &mut ClusterState,
    host: &str,
    removed: &[RoleIp],
    release: Release,
    at: Timestamp,
    config: &Config,
    lines: &mut Vec<LogLine>,
) {
    let Some(am) = config.active_master_role.as_deref() else {
        return;
    };
    let Some(w) = removed.iter().find(|r| r.role == am) else {
        return;
    };
    state.writer_release = Some(WriterRelease {
        host: host.to_string(),
        ip: w.ip,
        epoch: state.epoch + 1,
        at,
        target: release.target,
        proof: None,
        failover: release.failover,
        hook: None,
    });
    lines.push(LogLine::info(format!(
        "Role '{w}' is held back until host '{host}' confirms it dropped the role or is fenced"
    )));
}

/// `AssignRole`: the role leaves `from` (if given) and joins `to`; assigning the writer ends its
/// release.
pub(super) fn assign_role(
    state: &mut ClusterState,
    r: RoleIp,
    from: Option<&str>,
    to: &str,
    config: &Config,
) {
    let writer = config.active_master_role.as_deref() == Some(r.role.as_str());
    if let Some(f) = from.and_then(|f| state.host_mut(f)) {
        f.roles.retain(|x| x != &r);
    }
    if let Some(h) = state.host_mut(to) {
        h.roles.push(r);
        h.roles.sort();
    }
    if writer {
        count_writer_move(state, to);
        state.writer_release = None;
    }
}

/// Counts a handoff of the active-master role: assigned to `to` while released from another
/// host (a re-grant to the same host, or a first assignment, is no move). It is a failover
/// when its checks took the role from the old host, or the old host is in a failed state
/// now (an operator may have chosen the destination of a failover).
fn count_writer_move(state: &mut ClusterState, to: &str) {
    let Some(rel) = state.writer_release.as_ref() else {
        return;
    };
    if rel.host == to {
        return;
    }
    let failed = matches!(
        state.state_of(&rel.host),
        Some(HostState::HardOffline | HostState::ReplicationFail | HostState::ReplicationDelay)
    );
    if rel.failover || failed {
        state.writer_moves.failover += 1;
    } else {
        state.writer_moves.switchover += 1;
    }
}

/// `RecordHookVerdict`: the pending release keeps the pre-failover hook's verdict, and the
/// log says what it means for the role.
pub(super) fn record_hook_verdict(
    state: &mut ClusterState,
    verdict: &HookVerdict,
    config: &Config,
    lines: &mut Vec<LogLine>,
) {
    let Some(rel) = state.writer_release.as_mut() else {
        return;
    };
    rel.hook = Some(verdict.clone());
    let role = rel.role(config);
    let host = &rel.host;
    let output = if verdict.output.is_empty() {
        String::new()
    } else {
        format!(". Output was: {}", verdict.output)
    };
    lines.push(if verdict.allowed {
        LogLine::info(format!(
            "Pre-failover hook allowed moving role '{role}' away from host '{host}' ({}){output}",
            verdict.how
        ))
    } else {
        LogLine::fatal(format!(
            "Pre-failover hook vetoed moving role '{role}' away from host '{host}' ({}){output}. \
             The role stays orphaned until 'move_role {} HOST' moves it",
            verdict.how, role.role
        ))
    });
}

/// `ProveFenced`: the pending writer release records its proof and says the role may move.
pub(super) fn prove_fenced(
    state: &mut ClusterState,
    host: &str,
    proof: FenceProof,
    config: &Config,
    lines: &mut Vec<LogLine>,
) {
    if let Some(rel) = state.writer_release.as_mut() {
        rel.proof = Some(proof);
        lines.push(LogLine::info(format!(
            "Host '{host}' cannot take writes any more ({proof}): role '{}' may move to \
             another host",
            rel.role(config)
        )));
    }
}
