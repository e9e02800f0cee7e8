//! mmm's VIP-less mode through a real HAProxy (Debian's package) in the lab's client namespace:
//! the cluster has no VIP at all — the writer role has no `ips`, there is no reader role — and
//! the application connects only to HAProxy, which runs `deploy/haproxy/haproxy.cfg` (the
//! example operators copy, with the lab's addresses) and sends writes to the host whose agent
//! answers `GET /writer` with 200 and reads to the hosts answering `GET /replica?max_lag=10`.
//!
//! mysqld on db1 (the writer) dies while the application writes through HAProxy with a new
//! connection per write: the writer role goes to db2, HAProxy follows db2's `/writer`, reads
//! leave db2 for db3 only, no database host ever has an address besides its own, and after db1
//! is back every acknowledged row is on every server, written by db1 and then by db2 only.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mmm_lab::LabProcess;
use mmm_lab::cluster::Cluster;
use mmm_lab::workload::{Outcome, Target, execute};

use super::client::{TABLE, WriteStream, wait_converged, writer_sequence};
use super::support::{
    bring_up, launch, server_id, since, wait, wait_change, wait_mysql_down, wait_show,
};

/// The agents' HTTP port, as in the example config.
const AGENT_HTTP: u16 = 9990;
/// HAProxy's ports on the client's address: writes, and reads (as in the example config).
const WRITE_PORT: u16 = 3306;
const READ_PORT: u16 = 3307;
/// The example's host addresses (deploy/README.md), replaced by the lab's.
const EXAMPLE_HOSTS: [(&str, &str); 3] = [
    ("db1", "192.168.1.186"),
    ("db2", "192.168.1.187"),
    ("db3", "192.168.1.184"),
];

#[test]
fn haproxy_follows_the_writer_through_a_failover_with_no_vip_at_all() {
    if !mmm_lab::lab_available("haproxy") {
        return;
    }
    let mut c = launch("e2ehap", |o| o.vip_less = Some(AGENT_HTTP));
    bring_up(&c, &["db1", "db2", "db3"]);
    let up = wait_show(&c, "db1 holding the bare writer role", |s| {
        s.is("db1", "ONLINE", &["writer"])
            && s.is("db2", "ONLINE", &[])
            && s.is("db3", "ONLINE", &[])
    });
    println!("up: {up:?}");
    assert_no_vip(&c);
    let mut haproxy = start_haproxy(&c);
    // HAProxy counts a server UP until its first check: wait for the checks that take the
    // non-writers out of the write pool and the writer out of the read pool.
    wait(&c, "HAProxy's first checks", || {
        let log = haproxy_log(&c);
        ["mysql-writer/db2 is DOWN", "mysql-reader/db1 is DOWN"]
            .iter()
            .all(|line| log.contains(line))
    });
    let proxy = c.client().ip().to_string();
    let stream = WriteStream::start_at(&c, &proxy);
    stream.wait_acks(&c, 10);
    let (db1, db2, db3) = (
        server_id(&c, "db1"),
        server_id(&c, "db2"),
        server_id(&c, "db3"),
    );
    wait_reads_from(&c, &[db2, db3]);

    // No write in flight and every slave in step at the kill: see `pause_replicated`.
    stream.pause_replicated(&c, "db1", &["db2", "db3"]);
    let t0 = Instant::now();
    c.kill_mysqld("db1").expect("kill -9 db1's mysqld");
    stream.resume();
    wait_mysql_down(&c, "db1");
    wait_change(&c, "Orphaned role 'writer' has been assigned to 'db2'");
    println!("{}: the writer role is on db2", since(t0));
    let acked = stream_acks_on(&c, &stream, db2);
    println!(
        "{}: HAProxy sends writes to db2 ({acked} acknowledged)",
        since(t0)
    );
    wait_reads_from(&c, &[db3]);
    assert_no_vip(&c);
    // db1's writer check runs every second: writes and reads can have moved before it, and
    // db1's server must be out of the write pool before its mysqld comes back read-only.
    wait(&c, "HAProxy's writer check marking db1 down", || {
        haproxy_log(&c).contains("mysql-writer/db1 is DOWN")
    });

    c.start_mysqld("db1").expect("start db1's mysqld again");
    stream.wait_acks(&c, 10);
    let ledger = stream.stop();
    println!("{}", ledger.summary());
    let refused: Vec<_> = ledger
        .failures()
        .into_iter()
        .filter(|a| format!("{:?}", a.record.outcome).contains("read-only"))
        .collect();
    assert!(
        refused.is_empty(),
        "HAProxy sent writes to a read-only server: {refused:#?}"
    );
    let rows = wait_converged(&c, &["db1", "db2", "db3"], &ledger);
    assert_eq!(
        writer_sequence(&ledger, &rows),
        [db1, db2],
        "db1 wrote, then db2 only"
    );
    haproxy.kill_and_wait().expect("stop HAProxy");
    c.shutdown();
}

/// Starts HAProxy in the client namespace on the example config with the lab's addresses.
fn start_haproxy(c: &Cluster) -> LabProcess {
    assert_eq!(
        c.mmm_config().mysql_port,
        WRITE_PORT,
        "the application writes to HAProxy on the MySQL port"
    );
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy/haproxy.cfg");
    let mut text =
        std::fs::read_to_string(&example).unwrap_or_else(|e| panic!("{}: {e}", example.display()));
    for (host, address) in EXAMPLE_HOSTS {
        assert!(text.contains(address), "the example has no {address}");
        let ip = c.host(host).expect("lab host").ip().to_string();
        text = text.replace(&format!("{address}:"), &format!("{ip}:"));
    }
    let path = c.client().dir().join("haproxy.cfg");
    std::fs::write(&path, text).expect("write haproxy.cfg");
    let path = path.to_string_lossy().into_owned();
    c.client()
        .exec("haproxy", &["-c", "-f", &path])
        .unwrap_or_else(|e| panic!("haproxy -c: {e}"));
    c.client()
        .spawn("haproxy", &["-db", "-f", &path], &[], haproxy_log_path(c))
        .expect("start HAProxy")
}

fn haproxy_log_path(c: &Cluster) -> PathBuf {
    c.client().dir().join("haproxy.log")
}

fn haproxy_log(c: &Cluster) -> String {
    std::fs::read_to_string(haproxy_log_path(c)).unwrap_or_default()
}

/// No database host has any address on its interface besides its own: no VIP anywhere.
fn assert_no_vip(c: &Cluster) {
    for host in c.agent_names() {
        let lab_host = c.host(&host).expect("lab host");
        let out = lab_host
            .exec("ip", &["-4", "-o", "addr", "show", "dev", "eth0"])
            .expect("ip addr");
        let addresses: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1))
            .collect();
        assert_eq!(
            addresses,
            [format!("{}/24", lab_host.ip())],
            "{host} has an address besides its own"
        );
    }
}

/// Waits until writes of `stream` are acknowledged by the server `id` (HAProxy moved to it),
/// and returns how many were acknowledged in all by then.
fn stream_acks_on(c: &Cluster, stream: &WriteStream, id: u32) -> usize {
    let mut through = 0;
    wait(
        c,
        &format!("a write through HAProxy executed by server {id}"),
        || {
            through = stream.acked();
            stream.last_acked_server() == Some(id)
        },
    );
    through
}

/// Waits until reads through HAProxy's read port have been answered by each of `ids` and by no
/// other server (the writer never serves the read pool).
fn wait_reads_from(c: &Cluster, ids: &[u32]) {
    let target = Target::new(c.client().ip(), READ_PORT);
    let mut seen: Vec<u32> = Vec::new();
    wait(
        c,
        &format!("reads through HAProxy from servers {ids:?} only"),
        || {
            let sql = format!("SELECT COUNT(*) FROM {TABLE}");
            let record = c
                .client()
                .block_on(execute(&target, &sql))
                .expect("the client namespace runs the read");
            if let (Outcome::Ok(_), Some(id)) = (&record.outcome, record.server_id) {
                if !ids.contains(&id) {
                    seen.clear();
                }
                seen.push(id);
            }
            let recent = &seen[seen.len().saturating_sub(2 * ids.len())..];
            ids.iter().all(|id| recent.contains(id)) && recent.iter().all(|id| ids.contains(id))
        },
    );
}
