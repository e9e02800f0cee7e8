//! Each checker fails on a history that breaks its property (built here, or recorded from a real
//! run in `fixtures/`) and passes on one that keeps it, so none passes by construction.

use crate::check::{
    Outcome, availability, convergence, lost_writes, monotonic, register, single_writer,
};
use crate::history::{
    Fault, History, HostMeta, Meta, Micros, Obs, Op, OpKind, Phase, Rows, Sample, Status, Workload,
};

const MS: Micros = 1000;

fn meta(semi_sync: bool) -> Meta {
    let host = |i: u32, mode: &str| HostMeta {
        name: format!("db{i}"),
        ip: format!("10.213.7.1{i}"),
        server_id: i,
        mode: mode.to_owned(),
    };
    Meta {
        seed: 1,
        semi_sync,
        hosts: vec![host(1, "master"), host(2, "master"), host(3, "slave")],
        monitors: vec!["mon1".into(), "mon2".into(), "mon3".into()],
        writer_vip: "10.213.7.100".into(),
        reader_vips: vec![
            "10.213.7.101".into(),
            "10.213.7.102".into(),
            "10.213.7.103".into(),
        ],
        trap_ms: 800,
        lease_ms: 2000,
        sample_ms: 50,
        flap_detection: false,
    }
}

fn history(semi_sync: bool) -> History {
    History {
        meta: Some(meta(semi_sync)),
        ..History::default()
    }
}

fn sample(host: &str, t: Micros, obs: Obs) -> Sample {
    Sample {
        host: host.to_owned(),
        start: t,
        end: t + 2 * MS,
        obs,
    }
}

fn server(read_only: bool, id: u32, master: Option<&str>) -> Obs {
    Obs::Server {
        read_only,
        server_id: id,
        master: master.map(str::to_owned),
        replicating: master.is_some(),
    }
}

fn vips(ips: &[&str]) -> Obs {
    Obs::Vips {
        ips: ips.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn agent(epoch: u64, writer: bool) -> Obs {
    Obs::Agent {
        epoch,
        lease_ms: 1000,
        roles: if writer {
            vec!["writer(10.213.7.100)".into()]
        } else {
            vec![]
        },
        state: "ONLINE".into(),
    }
}

fn op(
    workload: Workload,
    kind: OpKind,
    process: u64,
    (start, end): (Micros, Micros),
    status: Status,
    server_id: u32,
    value: Option<u64>,
) -> Op {
    Op {
        workload,
        process,
        kind,
        target: "10.213.7.100".into(),
        start,
        end,
        status,
        server_id: Some(server_id),
        value,
        error: None,
    }
}

fn insert(id: u64, t: Micros, server_id: u32) -> Op {
    op(
        Workload::Insert,
        OpKind::Insert { id },
        1,
        (t, t + 3 * MS),
        Status::Ok,
        server_id,
        None,
    )
}

fn fault(at: Micros, step: usize, name: &str, phase: Phase) -> Fault {
    Fault {
        at,
        step,
        nemesis: name.to_owned(),
        phase,
        detail: String::new(),
    }
}

/// db1 writable every 50 ms from 0 to 2 s; db2 writable from `db2_from`.
fn writers(h: &mut History, db2_from: Option<Micros>) {
    for i in 0..40 {
        let t = i * 50 * MS;
        h.samples
            .push(sample("db1", t, server(false, 1, Some("10.213.7.12"))));
        let db2_writable = db2_from.is_some_and(|f| t >= f);
        h.samples.push(sample(
            "db2",
            t + 10 * MS,
            server(!db2_writable, 2, Some("10.213.7.11")),
        ));
    }
}

#[test]
fn single_writer_fails_on_two_writable_servers_and_passes_on_one() {
    let mut h = history(true);
    writers(&mut h, Some(1000 * MS));
    let v = single_writer::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
    assert!(
        v.violations[0].summary.contains("db2 accepted a write"),
        "{v:?}"
    );
    assert!(!v.violations[0].events.is_empty());
    let mut ok = history(true);
    writers(&mut ok, None);
    assert_eq!(
        single_writer::check(&ok).expect("check").outcome,
        Outcome::Pass
    );
}

#[test]
fn single_writer_fails_on_a_write_after_the_writer_was_granted_elsewhere() {
    let mut h = history(true);
    h.samples.push(sample("db1", 0, agent(4, true)));
    h.samples.push(sample("db2", 100 * MS, agent(5, true)));
    // A direct probe write acknowledged by db1 after db2's agent held the writer at epoch 5.
    h.ops.push(op(
        Workload::Probe,
        OpKind::Probe {
            host: "db1".into(),
            seq: 1,
        },
        0,
        (200 * MS, 205 * MS),
        Status::Ok,
        1,
        None,
    ));
    let v = single_writer::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
    assert!(
        v.violations[0]
            .summary
            .contains("after the writer was granted to db2 at epoch 5"),
        "{v:?}"
    );
    // Before the grant, db1's write is fine.
    h.ops[0].start = 50 * MS;
    h.ops[0].end = 55 * MS;
    assert_eq!(
        single_writer::check(&h).expect("check").outcome,
        Outcome::Pass
    );
}

#[test]
fn single_writer_fails_on_the_recorded_agent_stop_and_move_role_history() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/agent-kill9-move-role.jsonl"
    );
    let h = History::read(std::path::Path::new(path)).expect("fixture");
    let v = single_writer::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
    println!("{}", v.violations[0].summary);
}

#[test]
fn lost_writes_fail_with_semi_sync_and_are_counted_without() {
    for semi_sync in [true, false] {
        let mut h = history(semi_sync);
        h.ops.push(insert(1, 0, 1));
        h.ops.push(insert(2, 10 * MS, 1));
        for host in ["db1", "db2", "db3"] {
            let ids = if host == "db2" { vec![1] } else { vec![1, 2] };
            h.rows.push(Rows {
                at: 100 * MS,
                host: host.into(),
                ids: Some(ids),
                error: None,
                replication: (host != "db1")
                    .then(|| "from 10.213.7.11 (IO No, SQL Yes)".to_owned()),
            });
        }
        let v = lost_writes::check(&h).expect("check");
        let want = if semi_sync {
            Outcome::Fail
        } else {
            Outcome::Info
        };
        assert_eq!(v.outcome, want, "{v:?}");
        assert!(v.violations[0].summary.starts_with("db2 lacks 1"), "{v:?}");
        assert!(v.violations[0].events[0].contains("\"id\":2"), "{v:?}");
        let why = "db2: replicating from 10.213.7.11 (IO No, SQL Yes)";
        assert!(v.details.iter().any(|d| d == why), "{v:?}");
        assert!(
            !v.details.iter().any(|d| d.starts_with("db3: replicating")),
            "{v:?}"
        );
        for r in &mut h.rows {
            r.ids = Some(vec![1, 2]);
        }
        let v = lost_writes::check(&h).expect("check");
        assert_ne!(v.outcome, Outcome::Fail);
        assert!(v.violations.is_empty());
    }
}

#[test]
fn register_fails_on_a_stale_read_and_passes_a_clean_history() {
    let reg = |kind, p, s, e, status, value| {
        op(
            Workload::Register,
            kind,
            p,
            (s * MS, e * MS),
            status,
            1,
            value,
        )
    };
    let mut h = history(true);
    h.ops.push(reg(
        OpKind::Write { key: 1, value: 3 },
        1,
        0,
        5,
        Status::Ok,
        None,
    ));
    h.ops
        .push(reg(OpKind::Read { key: 1 }, 2, 10, 15, Status::Ok, Some(3)));
    h.ops.push(reg(
        OpKind::Cas {
            key: 1,
            from: 3,
            to: 4,
        },
        3,
        20,
        25,
        Status::Ok,
        Some(1),
    ));
    h.ops
        .push(reg(OpKind::Read { key: 1 }, 2, 30, 35, Status::Ok, Some(4)));
    assert_eq!(register::check(&h).expect("check").outcome, Outcome::Pass);
    // A read after the compare-and-set that still sees 3 (what a second, stale writer serves).
    h.ops
        .push(reg(OpKind::Read { key: 1 }, 1, 40, 45, Status::Ok, Some(3)));
    let v = register::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
    assert!(v.violations[0].summary.contains("key 1"), "{v:?}");
}

#[test]
fn monotonic_fails_on_a_falling_epoch_and_on_two_leaders_in_a_term() {
    let mut h = history(true);
    h.samples.push(sample("db1", 0, agent(5, true)));
    h.samples.push(sample("db1", 100 * MS, agent(6, true)));
    assert_eq!(monotonic::check(&h).expect("check").outcome, Outcome::Pass);
    h.samples.push(sample("db1", 200 * MS, agent(4, true)));
    let v = monotonic::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        v.violations[0].summary.contains("from epoch 6 to 4"),
        "{v:?}"
    );

    let mut h = history(true);
    let mon = |this_id, leader_id, term| Obs::Monitor {
        this_id,
        leader_id,
        term,
        epoch: 1,
    };
    h.samples.push(sample("mon1", 0, mon(1, 1, 3)));
    h.samples.push(sample("mon2", 0, mon(2, 1, 3)));
    assert_eq!(monotonic::check(&h).expect("check").outcome, Outcome::Pass);
    h.samples.push(sample("mon3", 10 * MS, mon(3, 3, 3)));
    let v = monotonic::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        v.violations[0]
            .summary
            .contains("term 3 had leaders 1 and 3"),
        "{v:?}"
    );
}

#[test]
fn availability_reports_the_longest_gap_per_nemesis_and_never_fails() {
    let mut h = history(true);
    h.faults.push(fault(0, 0, "writer-isolated", Phase::Start));
    h.faults
        .push(fault(5000 * MS, 0, "writer-isolated", Phase::Heal));
    h.faults
        .push(fault(6000 * MS, 1, "monitor-majority-kill9", Phase::Start));
    h.faults
        .push(fault(9000 * MS, 1, "monitor-majority-kill9", Phase::Heal));
    for t in [100, 200, 4200, 6100, 6200, 9000] {
        h.ops.push(insert(t, t * MS, 1));
    }
    let v = availability::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Info);
    let isolated = v
        .details
        .iter()
        .find(|d| d.contains("writer-isolated"))
        .expect("row");
    assert!(isolated.contains("4000.0"), "{isolated}");
}

fn settled(h: &mut History, from: Micros, writers: &[&str]) {
    for i in 0..60 {
        let t = from + i * 250 * MS;
        for (n, host) in ["db1", "db2", "db3"].iter().enumerate() {
            let writable = writers.contains(host);
            let master = if writable { None } else { Some("10.213.7.11") };
            h.samples
                .push(sample(host, t, server(!writable, n as u32 + 1, master)));
            let mut ips = vec![format!("10.213.7.10{}", n + 1)];
            if writable {
                ips.push("10.213.7.100".into());
            }
            let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
            h.samples.push(sample(host, t + MS, vips(&ips)));
        }
    }
}

#[test]
fn convergence_fails_when_two_writers_remain_and_passes_when_whole() {
    let mut h = history(true);
    h.faults.push(fault(0, 0, "writer-isolated", Phase::Start));
    h.faults
        .push(fault(1000 * MS, 0, "writer-isolated", Phase::Heal));
    let mut ok = h.clone();
    settled(&mut ok, 2000 * MS, &["db1"]);
    let v = convergence::check(&ok).expect("check");
    assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
    settled(&mut h, 2000 * MS, &["db1", "db2"]);
    let v = convergence::check(&h).expect("check");
    assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
    assert!(
        v.violations[0]
            .events
            .iter()
            .any(|e| e.contains("2 writable servers")),
        "{v:?}"
    );
}
