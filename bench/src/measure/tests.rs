//! The measurements on hand-built event lists shaped like recorded runs.

use super::*;
use crate::events::sort;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 213, 7, 100);
const MS: Micros = 1000;

fn ev(at: Micros, host: &str, what: What) -> Event {
    Event {
        at,
        host: host.to_owned(),
        what,
    }
}

fn write(start: Micros, end: Micros, id: u64, sid: Option<u32>, outcome: WriteOutcome) -> Event {
    ev(
        end,
        "client",
        What::Write {
            start,
            id,
            server_id: sid,
            outcome,
        },
    )
}

fn log(at: Micros, host: &str, text: &str) -> Event {
    ev(
        at,
        host,
        What::Log {
            level: "INFO".into(),
            text: text.into(),
        },
    )
}

fn server(end: Micros, host: &str, read_only: bool) -> Event {
    ev(
        end,
        host,
        What::Server {
            start: end - 2 * MS,
            read_only,
            server_id: 0,
        },
    )
}

fn vips(end: Micros, host: &str, ips: Vec<Ipv4Addr>) -> Event {
    ev(
        end,
        host,
        What::Vips {
            start: end - 2 * MS,
            ips,
        },
    )
}

/// kill -9 of db1's mysqld at 1 s: writes to db1 (server 1) every 20 ms until then, refused
/// connections until db2 (server 2) takes writes at 1.9 s.
fn killed_writer_run() -> Vec<Event> {
    let mut e = vec![ev(
        1000 * MS,
        "bench",
        What::Fault {
            name: "kill".into(),
        },
    )];
    let mut id = 0;
    for t in (0..2500).step_by(20) {
        id += 1;
        let start = Micros::from(t) * MS;
        let (sid, outcome) = match t {
            0..1000 => (Some(1), WriteOutcome::Ack),
            1000..1880 => (None, WriteOutcome::Failed),
            _ => (Some(2), WriteOutcome::Ack),
        };
        e.push(write(start, start + 5 * MS, id, sid, outcome));
    }
    e.extend([
        log(1800 * MS, "mon2", "Check 'mysql' on 'db1' has failed for 0.8 seconds! Message: ERROR: Connect error"),
        ev(1810 * MS, "leader", What::Decided {
            line: "State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)".into(),
        }),
        log(1820 * MS, "mon1", "State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)"),
        log(1825 * MS, "mon2", "State of host 'db1' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)"),
        log(1840 * MS, "mon1", "Orphaned role 'writer(10.213.7.100)' has been assigned to 'db2'"),
        log(1850 * MS, "db2", "Added:   writer(10.213.7.100)"),
        log(1860 * MS, "db2", "caught up with db2's own relay log mariadb-bin.000001:1234"),
    ]);
    for t in (0..2500).step_by(50) {
        let end = Micros::from(t) * MS + 3 * MS;
        e.push(server(end, "db2", t < 1850));
        let db2_vips = if t < 1900 { vec![] } else { vec![VIP] };
        e.push(vips(end, "db2", db2_vips));
        let db1_vips = if t < 1850 { vec![VIP] } else { vec![] };
        e.push(vips(end, "db1", db1_vips));
    }
    sort(&mut e);
    e
}

#[test]
fn the_first_ack_on_the_new_writer_ends_the_failover() {
    let e = killed_writer_run();
    let ack = first_ack_elsewhere(&e, 1000 * MS, 1).expect("db2 took writes");
    assert_eq!(ack.at, 1885 * MS);
    assert_eq!(ack.ack(), Some(2));
    assert_eq!(last_ack_on(&e, ack.at, 1).map(|a| a.at), Some(985 * MS));
    assert!(first_ack_elsewhere(&e, 2500 * MS, 1).is_none());
    assert_eq!(acked_ids(&e, 1000 * MS).len(), 50);
}

#[test]
fn a_failover_is_broken_into_its_phases() {
    let e = killed_writer_run();
    let m = Move {
        old: "db1",
        new: "db2",
        vip: VIP,
    };
    let ms = writer_move(&e, 1000 * MS, &m);
    let at = |name: &str| {
        ms.iter()
            .find(|x| x.name == name)
            .and_then(|x| x.at)
            .map(|t| t / MS)
    };
    assert_eq!(at("detected"), Some(1800));
    assert_eq!(at("decided"), Some(1810));
    assert_eq!(at("committed"), Some(1820), "the first monitor to log it");
    assert_eq!(at("old_denied"), None, "a dead mysqld denies nothing");
    assert_eq!(at("assigned"), Some(1840));
    assert_eq!(at("pushed"), Some(1850));
    assert_eq!(at("caught_up"), Some(1860));
    // Probes end at …03 ms and take 2 ms: db2 was last read-only in the probe centred on
    // 1802 ms, first writable in the one centred on 1852 ms; halfway is 1827 ms.
    assert_eq!(at("writable"), Some(1827));
    assert_eq!(at("vip_up"), Some(1877));
    assert_eq!(at("old_vip_gone"), Some(1827));
    let p = phases(1000 * MS, &ms);
    let names: Vec<&str> = p.iter().map(|x| x.name).collect();
    assert_eq!(
        names,
        [
            "detection",
            "decision",
            "commit",
            "old writer drops the VIP",
            "fence (writer assigned)",
            "push to the new writer",
            "catch-up",
            "read_only off",
            "VIP + ARP"
        ]
    );
    assert_eq!(p[0].us, 800 * MS);
    assert_eq!(p[1].us, 10 * MS);
    assert_eq!(p[3].us, 7 * MS);
    // `assigned` (1840) after `old_vip_gone` (1827): 13 ms; read_only off (1827) was sampled
    // before the catch-up line (1860), so its phase is 0, never negative.
    assert_eq!(p[4].us, 13 * MS);
    assert_eq!(p[7].us, 0);
    assert_eq!(p[8].us, 17 * MS, "from 1860, the latest milestone so far");
}

#[test]
fn write_gaps_and_recovery() {
    let e = killed_writer_run();
    let gap = longest_ack_gap(&e, 1000 * MS, 2000 * MS).expect("a gap");
    assert_eq!((gap.from, gap.to, gap.open), (985 * MS, 1885 * MS, false));
    let open = longest_ack_gap(&e, 1000 * MS, 1500 * MS).expect("a gap");
    assert_eq!((open.from, open.to, open.open), (985 * MS, 1500 * MS, true));
    assert_eq!(longest_ack_gap(&e, 10, 10), None);
    // Writes fail from 1000 ms to 1860 ms (started); the next one started at 1880 ms lands.
    assert_eq!(recovery_after(&e, 900 * MS, 2500 * MS), Some(1885 * MS));
    assert_eq!(recovery_after(&e, 1000 * MS, 1500 * MS), None);
    assert_eq!(recovery_after(&e, 1900 * MS, 2500 * MS), Some(1905 * MS));
    assert_eq!(failed_writes(&e, 0, 2500 * MS), 44);
}

#[test]
fn writer_moves_and_state_changes_are_seen() {
    let e = killed_writer_run();
    assert!(writer_moved(&e, 1000 * MS, 2500 * MS, "db1", 1, VIP));
    assert!(!writer_moved(&e, 0, 990 * MS, "db1", 1, VIP));
    assert!(state_changed(&e, 1000 * MS, 2000 * MS, "db1"));
    assert!(!state_changed(&e, 1000 * MS, 1810 * MS, "db1"));
    assert!(!state_changed(&e, 0, 2500 * MS, "db2"));
}

fn agent(end: Micros, host: &str, remaining: u64) -> Event {
    ev(
        end,
        host,
        What::Agent {
            start: end - 2 * MS,
            epoch: 7,
            lease_remaining_ms: remaining,
        },
    )
}

fn monitor(end: Micros, host: &str, leader: &str, term: u64) -> Event {
    ev(
        end,
        host,
        What::Monitor {
            start: end - 2 * MS,
            leader: leader.into(),
            term,
        },
    )
}

#[test]
fn the_new_leaders_first_push_is_seen_in_the_agents_leases() {
    // Lease 2000 ms renewed every 300 ms by mon1 until it is killed at 1000 ms; mon2 is elected
    // at about 1500 ms and pushes db3 at 1610 ms, db1 at 1640 ms.
    let mut e = Vec::new();
    let renewals_db1 = [0, 300, 600, 900, 1640];
    let renewals_db3 = [0, 300, 600, 900, 1610];
    for t in (10..2500).step_by(50) {
        let end = Micros::from(t) * MS;
        for (host, renewals) in [("db1", &renewals_db1), ("db3", &renewals_db3)] {
            let last = renewals
                .iter()
                .rev()
                .find(|r| Micros::from(**r) * MS <= end - MS)
                .copied()
                .unwrap_or(0);
            let remaining = 2000 - (t - 1 - last).max(0);
            e.push(agent(end, host, u64::try_from(remaining).unwrap_or(0)));
        }
        let (leader, term) = if t < 1000 {
            ("mon1", 3)
        } else if t < 1500 {
            ("", 3)
        } else {
            ("mon2", 4)
        };
        e.push(monitor(end, "mon2", leader, term));
    }
    sort(&mut e);
    let (at, host) = lease_renewal(&e, 1000 * MS, 2000).expect("a renewal");
    assert_eq!(host, "db3");
    assert!(
        (1609 * MS..=1612 * MS).contains(&at),
        "renewal placed at {at} µs"
    );
    let (elected, leader) = new_leader(&e, 1000 * MS, "mon1").expect("a new leader");
    assert_eq!(leader, "mon2");
    assert!((1460 * MS..=1510 * MS).contains(&elected), "{elected}");
    assert_eq!(lease_renewal(&e, 1700 * MS, 2000), None);
    let since = not_leading_until(&e, 1000 * MS, "mon2");
    assert!((1400 * MS..1500 * MS).contains(&since), "{since}");
    assert_eq!(
        lease_renewal(&e, since, 2000).map(|r| r.1),
        Some("db3".into())
    );
    // The old leader's last status, seen only after the kill, is no push of the new one.
    let mut late = e.clone();
    late.retain(|ev| !(ev.host == "db1" && (1010 * MS..1100 * MS).contains(&ev.at)));
    late.push(agent(1100 * MS, "db1", 1950));
    sort(&mut late);
    assert!(lease_renewal(&late, 1000 * MS, 2000).is_some_and(|(t, _)| t < 1100 * MS));
    let since = not_leading_until(&late, 1000 * MS, "mon2");
    assert_eq!(
        lease_renewal(&late, since, 2000).map(|r| r.1),
        Some("db3".into())
    );
}

#[test]
fn a_sampled_change_needs_a_probe_after_the_reference() {
    let e = vec![
        server(100 * MS, "db2", false),
        server(150 * MS, "db2", true),
        server(200 * MS, "db2", false),
    ];
    let writable = |w: &What| read_only(w).map(|ro| !ro);
    assert_eq!(sampled_change(&e, "db2", 0, writable), Some(49 * MS + 500));
    assert_eq!(
        sampled_change(&e, "db2", 120 * MS, writable),
        Some(174 * MS)
    );
    assert_eq!(sampled_change(&e, "db2", 250 * MS, writable), None);
    assert_eq!(sampled_change(&e, "db1", 0, writable), None);
}

#[test]
fn two_writable_servers_are_timed_between_confirming_samples() {
    // db1 answers writable at 0, 100 and 200 ms, then read-only; db2 writable from 150 ms on.
    let mut events = vec![
        server(0, "db1", false),
        server(100 * MS, "db1", false),
        server(200 * MS, "db1", false),
        server(300 * MS, "db1", true),
        server(50 * MS, "db2", true),
        server(150 * MS, "db2", false),
        server(250 * MS, "db2", false),
        server(350 * MS, "db2", false),
    ];
    sort(&mut events);
    // db1 surely writable over [0, 98] and [100, 198]; db2 over [150, 248] and [250, 348].
    assert_eq!(two_writable(&events), 48 * MS);
    // A clean handover seen in either probe order shows no overlap.
    let handover = [
        server(0, "db1", false),
        server(40 * MS, "db2", true),
        server(50 * MS, "db1", true),
        server(90 * MS, "db2", false),
        server(140 * MS, "db2", false),
    ];
    assert_eq!(two_writable(&handover), 0);
    // A server that stops answering is not counted writable any more.
    let dead = [
        server(0, "db1", false),
        ev(
            50 * MS,
            "db1",
            What::Down {
                start: 48 * MS,
                probe: "server".into(),
            },
        ),
        server(60 * MS, "db1", false),
        server(10 * MS, "db2", false),
        server(70 * MS, "db2", false),
    ];
    let mut dead = dead.to_vec();
    sort(&mut dead);
    assert_eq!(two_writable(&dead), 0);
}
