//! The writer's agent killed (kill -9), then `move_role writer db2`: the leader fences db1's
//! MySQL over SQL before it hands the writer on, so db1 and db2 never both have read_only=0
//! (both servers sampled every 25 ms from inside their namespaces).

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mmm_lab::sampler::{Observation, Sampler};

use super::{WRITER_IP, bring_up, start, wait_for};

const PERIOD: Duration = Duration::from_millis(25);

/// Reads every sample so far; fails when the latest read_only of db1 and db2, each taken
/// within the last 50 ms, both say writable.
fn check_single_writer(
    rx: &mpsc::Receiver<mmm_lab::sampler::Sample>,
    last: &mut BTreeMap<String, (bool, Instant)>,
) {
    while let Ok(s) = rx.try_recv() {
        let Observation::Server { read_only, .. } = s.observation else {
            continue;
        };
        last.insert(s.host.clone(), (!read_only, s.end));
        let recent = |h: &str| {
            last.get(h)
                .is_some_and(|(w, at)| *w && s.end.saturating_duration_since(*at) <= PERIOD * 2)
        };
        assert!(
            !(recent("db1") && recent("db2")),
            "db1 and db2 both had read_only=0 within {:?}",
            PERIOD * 2
        );
    }
}

#[test]
fn writer_agent_killed_then_move_role_fences_over_sql() {
    let Some(mut c) = start("mondk") else {
        return;
    };
    bring_up(&c);
    let (tx, rx) = mpsc::channel();
    let sampler = Sampler::start(&c, PERIOD, tx).expect("sampler");
    let mut last = BTreeMap::new();
    c.kill9("db1").expect("kill -9 the agent on db1");
    let (ok, out) = c.mmmctl_text(&["move_role", "writer", "db2"]);
    assert!(ok, "move_role failed: {out}");
    let t0 = Instant::now();
    wait_for(
        &c,
        "writer VIP on db2, db2 writable",
        Duration::from_secs(60),
        || {
            check_single_writer(&rx, &mut last);
            c.has_ip("db2", WRITER_IP) && last.get("db2").is_some_and(|(w, _)| *w)
        },
    );
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        check_single_writer(&rx, &mut last);
        std::thread::sleep(PERIOD);
    }
    sampler.stop();
    check_single_writer(&rx, &mut last);
    println!("writer on db2 {:?} after move_role", t0.elapsed());
    assert!(
        last.get("db1").is_some_and(|(w, _)| !*w),
        "db1 is not read-only"
    );
    let logs = c.logs();
    assert!(
        logs.contains("Fenced host 'db1' over SQL"),
        "no SQL fence in the logs:\n{logs}"
    );
    c.app_exec(WRITER_IP, "INSERT INTO t (v) VALUES (3)")
        .expect("db2 takes writes through the VIP");
}
