//! Register: the read / write / compare-and-set history through the writer VIP is linearizable,
//! checked per key (one register row per key window) with stateright's `LinearizabilityTester`.
//! Required with semi-synchronous replication, reported without it.
//!
//! Events are fed in real-time order (invocations at their start, returns at their end; an
//! invocation first when both share a microsecond, so ties count as concurrent). A read or a
//! compare-and-set that surely failed had no effect and is left out, as is an unknown read; an
//! unknown write or compare-and-set stays in flight forever (it may have happened at any point
//! after it started, or never). A compare-and-set whose old and new values are equal is left out:
//! MySQL reports it as changing no row whether it matched or not, and it changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

use crate::check::{Verdict, Violation, first_n, json, window_at};
use crate::history::{History, Micros, Op, OpKind, Status, Workload};

/// Longest time one key's search may take before the key is reported undecided (the tester
/// has no memo, so a non-linearizable key can take exponential time to refute).
const KEY_BUDGET: Duration = Duration::from_secs(10);

/// A register row: absent (`None`) until the first write. `cancel`, once set, makes every step
/// invalid, so the tester's search unwinds at once when the budget is spent.
#[derive(Debug, Clone, Default)]
pub struct CasRegister {
    /// The value.
    pub value: Option<u64>,
    /// Set to abandon the search.
    pub cancel: Arc<AtomicBool>,
}

/// An operation on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegOp {
    /// `SELECT v`.
    Read,
    /// `INSERT … ON DUPLICATE KEY UPDATE v = value`.
    Write(u64),
    /// `UPDATE … SET v = to WHERE v = from`.
    Cas(u64, u64),
}

/// What it returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegRet {
    /// The value read.
    ReadOk(Option<u64>),
    /// The write happened.
    WriteOk,
    /// Whether the compare matched (and the set happened).
    CasOk(bool),
}

impl SequentialSpec for CasRegister {
    type Op = RegOp;
    type Ret = RegRet;

    fn invoke(&mut self, op: &RegOp) -> RegRet {
        match *op {
            RegOp::Read => RegRet::ReadOk(self.value),
            RegOp::Write(v) => {
                self.value = Some(v);
                RegRet::WriteOk
            }
            RegOp::Cas(from, to) => {
                let hit = self.value == Some(from);
                if hit {
                    self.value = Some(to);
                }
                RegRet::CasOk(hit)
            }
        }
    }

    fn is_valid_step(&mut self, op: &RegOp, ret: &RegRet) -> bool {
        !self.cancel.load(Ordering::Relaxed) && self.invoke(op) == *ret
    }
}

/// One key's history in the form the tester takes.
#[derive(Debug, Clone)]
enum Call {
    Invoke(u64, RegOp),
    Return(u64, RegRet),
}

/// Checks every key.
pub fn check(h: &History) -> anyhow::Result<Verdict> {
    let meta = h.meta()?;
    let mut by_key: BTreeMap<u64, Vec<&Op>> = BTreeMap::new();
    for op in h.ops.iter().filter(|o| o.workload == Workload::Register) {
        if let Some(key) = key_of(&op.kind) {
            by_key.entry(key).or_default().push(op);
        }
    }
    let mut violations = Vec::new();
    let mut undecided = Vec::new();
    let mut ops = 0;
    for (key, list) in &by_key {
        ops += list.len();
        match linearizable(list) {
            Some(true) => {}
            Some(false) => violations.push(violation(h, *key, list, "are not linearizable")),
            None => {
                undecided.push(*key);
                let why = format!("were not decided within {KEY_BUDGET:?}");
                violations.push(violation(h, *key, list, &why));
            }
        }
    }
    let summary = if violations.is_empty() && undecided.is_empty() {
        format!("{} keys, {ops} operations: linearizable", by_key.len())
    } else {
        format!(
            "{} of {} keys not linearizable, {} undecided within {KEY_BUDGET:?}",
            violations.len() - undecided.len(),
            by_key.len(),
            undecided.len()
        )
    };
    let mut v = Verdict::from_violations("register", meta.semi_sync, summary, violations);
    if !undecided.is_empty() {
        v.details.push(format!(
            "undecided keys (not counted as linearizable): {undecided:?}"
        ));
    }
    Ok(v)
}

fn key_of(k: &OpKind) -> Option<u64> {
    match k {
        OpKind::Read { key } | OpKind::Write { key, .. } | OpKind::Cas { key, .. } => Some(*key),
        _ => None,
    }
}

/// The calls of one key in real-time order.
fn calls(list: &[&Op]) -> Vec<Call> {
    let mut timed: Vec<(Micros, u8, Call)> = Vec::new();
    for op in list {
        let reg_op = match op.kind {
            OpKind::Read { .. } => RegOp::Read,
            OpKind::Write { value, .. } => RegOp::Write(value),
            // MySQL counts changed rows: a `from == to` hit reports 0, like a miss. It changes
            // nothing either way, so it is left out (the workload does not issue it).
            OpKind::Cas { from, to, .. } if from == to => continue,
            OpKind::Cas { from, to, .. } => RegOp::Cas(from, to),
            _ => continue,
        };
        let ret = match (&reg_op, op.status) {
            (_, Status::Fail) | (RegOp::Read, Status::Unknown) => continue,
            (_, Status::Unknown) => None,
            (RegOp::Read, Status::Ok) => Some(RegRet::ReadOk(op.value)),
            (RegOp::Write(_), Status::Ok) => Some(RegRet::WriteOk),
            (RegOp::Cas(..), Status::Ok) => Some(RegRet::CasOk(op.value == Some(1))),
        };
        timed.push((op.start, 0, Call::Invoke(op.process, reg_op)));
        if let Some(ret) = ret {
            timed.push((op.end, 1, Call::Return(op.process, ret)));
        }
    }
    timed.sort_by_key(|(t, order, _)| (*t, *order));
    timed.into_iter().map(|(_, _, c)| c).collect()
}

/// `Some(linearizable?)`, or `None` when the search did not finish within [`KEY_BUDGET`] or the
/// history is malformed for the tester.
fn linearizable(list: &[&Op]) -> Option<bool> {
    let calls = calls(list);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    // The tester recurses once per operation: give it a deep stack.
    let spawned = std::thread::Builder::new()
        .name("linearizability".into())
        .stack_size(256 << 20)
        .spawn(move || {
            let _ = tx.send(run_tester(&calls, flag));
        });
    if spawned.is_err() {
        return None;
    }
    match rx.recv_timeout(KEY_BUDGET) {
        Ok(answer) => answer,
        Err(_) => {
            cancel.store(true, Ordering::Relaxed);
            // Unwinds promptly now; its answer is void.
            let _ = rx.recv();
            None
        }
    }
}

fn run_tester(calls: &[Call], cancel: Arc<AtomicBool>) -> Option<bool> {
    let register = CasRegister {
        value: None,
        cancel: cancel.clone(),
    };
    let mut t = LinearizabilityTester::<u64, CasRegister>::new(register);
    for c in calls {
        let r = match c {
            Call::Invoke(p, op) => t.on_invoke(*p, op.clone()).map(|_| ()),
            Call::Return(p, ret) => t.on_return(*p, ret.clone()).map(|_| ()),
        };
        if r.is_err() {
            return None;
        }
    }
    let answer = t.is_consistent();
    (!cancel.load(Ordering::Relaxed)).then_some(answer)
}

fn violation(h: &History, key: u64, list: &[&Op], what: &str) -> Violation {
    let at = list.iter().map(|o| o.start).min().unwrap_or(0);
    let during = window_at(&h.faults, at).unwrap_or("before any fault");
    let mut ordered: Vec<&&Op> = list.iter().collect();
    ordered.sort_by_key(|o| o.start);
    Violation {
        at,
        summary: format!(
            "key {key}: {} operations {what} (during {during})",
            list.len()
        ),
        events: first_n(ordered.iter().map(|o| json(**o)).collect(), 40),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(p: u64) -> u64 {
        p
    }

    fn check_calls(calls: &[Call]) -> Option<bool> {
        run_tester(calls, Arc::default())
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_not_linearizable() {
        use Call::*;
        let h = [
            Invoke(t(1), RegOp::Write(3)),
            Return(t(1), RegRet::WriteOk),
            Invoke(t(2), RegOp::Read),
            Return(t(2), RegRet::ReadOk(None)),
        ];
        assert_eq!(check_calls(&h), Some(false));
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either_value() {
        use Call::*;
        for seen in [None, Some(3)] {
            let h = [
                Invoke(t(1), RegOp::Write(3)),
                Invoke(t(2), RegOp::Read),
                Return(t(2), RegRet::ReadOk(seen)),
                Return(t(1), RegRet::WriteOk),
            ];
            assert_eq!(check_calls(&h), Some(true), "{seen:?}");
        }
    }

    #[test]
    fn two_successful_cas_from_the_same_value_are_not_linearizable() {
        // What two writers produce: both accept `cas 1 -> x` on their own copy.
        use Call::*;
        let h = [
            Invoke(t(1), RegOp::Write(1)),
            Return(t(1), RegRet::WriteOk),
            Invoke(t(2), RegOp::Cas(1, 2)),
            Return(t(2), RegRet::CasOk(true)),
            Invoke(t(3), RegOp::Cas(1, 4)),
            Return(t(3), RegRet::CasOk(true)),
        ];
        assert_eq!(check_calls(&h), Some(false));
    }

    #[test]
    fn an_unknown_write_may_take_effect_later() {
        use Call::*;
        let h = [
            Invoke(t(1), RegOp::Write(2)),
            Invoke(t(2), RegOp::Read),
            Return(t(2), RegRet::ReadOk(None)),
            Invoke(t(3), RegOp::Read),
            Return(t(3), RegRet::ReadOk(Some(2))),
        ];
        assert_eq!(check_calls(&h), Some(true));
    }
}
