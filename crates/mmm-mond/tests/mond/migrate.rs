//! Taking over a running mysql-mmm: a new monitor cluster whose config names mysql-mmm's status
//! file (written here in mysql-mmm's `HOST|STATE|role(ip),…` format) starts with those states
//! and roles, over real monitors, agents and MariaDB in the lab. Without the file the same lab
//! starts with db1 (the slaves' source) as the writer and nothing ADMIN_OFFLINE.

use std::time::Duration;

use mmm_lab::cluster::{Cluster, ClusterOptions};

const LIMIT: Duration = Duration::from_secs(90);

/// mysql-mmm's view before the cutover: db1 taken offline by the admin, db2 the writer.
const STATUS: &str = "db1|ADMIN_OFFLINE|\n\
                      db2|ONLINE|reader(10.213.7.101),writer(10.213.7.100)\n\
                      db3|ONLINE|reader(10.213.7.102),reader(10.213.7.103)\n";

/// `show`'s line for `host`.
fn line<'a>(show: &'a str, host: &str) -> Option<&'a str> {
    show.lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{host}(")))
}

#[test]
fn a_new_cluster_takes_over_mysql_mmm_status_file() {
    let tag = "mmmmigr";
    if !mmm_lab::lab_available(tag) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let status = dir.path().join("mmm_mond.status");
    std::fs::write(&status, STATUS).expect("write the status file");
    let mut opts = ClusterOptions::new(tag, super::lab::binaries());
    opts.extra_config = format!(
        "\n<monitor>\n    status_path {}\n</monitor>\n",
        status.display()
    );
    let c = Cluster::launch(opts).expect("cluster");

    let mut show = String::new();
    c.wait_for("the status file's states and roles in show", LIMIT, || {
        let (ok, out) = c.mmmctl_text(&["show"]);
        show = out;
        ok && line(&show, "db1").is_some_and(|l| l.contains("/ADMIN_OFFLINE."))
            && line(&show, "db2")
                .is_some_and(|l| l.contains("/ONLINE.") && l.contains("writer(10.213.7.100)"))
            && line(&show, "db3").is_some_and(|l| l.contains("/ONLINE."))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !line(&show, "db1").is_some_and(|l| l.contains("writer(")),
        "{show}"
    );
    // The writer really moved there: db2's agent took the VIP.
    c.wait_for("the writer VIP on db2", LIMIT, || {
        c.has_ip("db2", "10.213.7.100")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let leader = c.leader().expect("leader");
    let log = c.log(&leader);
    assert!(
        log.contains("Read mysql-mmm's status file"),
        "no line about the status file:\n{log}"
    );
}
