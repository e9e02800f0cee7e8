//! End-to-end tests of mmm: the real `mmm-agentd`, `mmm-mond` and `mmmctl` (built by cargo before
//! the first test runs), real MariaDB servers, network namespaces, VIPs and ARP from `mmm-lab`,
//! and an application in the lab's client namespace that only knows the VIPs.
//!
//! Each test replays a failover from the seed reports and checks what an application sees: writes
//! through the writer VIP land on the new master, reads through every reader VIP answer with
//! current data, slaves replicate from the new writer, and no write acknowledged to the client is
//! missing on any server afterwards. Waits are on conditions (`mmmctl --json show` and `history`,
//! VIPs on interfaces, rows on servers), never on fixed sleeps, except where mysql-mmm's rules
//! count time (the 60-second rule).
//!
//! Every test starts with `mmm_lab::lab_available`: without root or MariaDB it is skipped with a
//! message, and under CI (`MMM_REQUIRE_LAB=1`) it fails instead.

mod e2e {
    mod browser;
    mod client;
    mod haproxy;
    mod hooks;
    mod leader_killed;
    mod metrics;
    mod seed002;
    mod seed_db1_dies;
    mod seed_db2_dies;
    mod status_page;
    mod support;
}
