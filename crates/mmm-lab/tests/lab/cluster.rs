//! `Cluster`: the seeds' topology with real agents and monitors; daemons are started, stopped,
//! killed and restarted by name, mmmctl runs in the client namespace, and drop removes it all.

use std::time::Duration;

use mmm_lab::cluster::{Cluster, ClusterOptions, DaemonKind, writer_in_show};

use super::common::{assert_namespaces_gone, root_or_skip};
use super::system::{alive, binaries};

#[test]
fn daemons_are_driven_by_name_and_everything_goes_on_drop() {
    if !root_or_skip() {
        return;
    }
    let mut c = Cluster::launch(ClusterOptions::new("mmmcl", binaries())).expect("launch");
    assert_eq!(c.agent_names(), ["db1", "db2", "db3"]);
    assert_eq!(c.monitor_names(), ["mon1", "mon2", "mon3"]);
    assert_eq!(c.kind("db2"), Some(DaemonKind::Agent));
    assert_eq!(c.kind("mon2"), Some(DaemonKind::Monitor));
    assert!(c.kind("db9").is_none() && c.start("db9").is_err() && c.kill9("mon9").is_err());
    for name in ["db1", "mon1"] {
        let conf = std::fs::read_to_string(c.config_path(name).expect("path")).expect("conf");
        assert!(conf.contains("<monitor mon3>") && conf.contains("agent_lease 2"));
    }
    assert!(
        c.config_path("db1")
            .expect("p")
            .ends_with("db1/mmm_agent.conf")
    );
    assert!(
        std::fs::read_to_string(c.config_path("mon2").expect("p"))
            .expect("conf")
            .ends_with("\nthis_monitor mon2\n")
    );

    let show = c
        .bring_online(Duration::from_secs(60))
        .expect("bring online");
    let writer = writer_in_show(&show, c.writer_vip()).expect("a writer in show");
    assert!(c.has_ip(&writer, "10.213.7.100"), "{show}");
    c.app_exec(
        "10.213.7.100",
        "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY)",
    )
    .expect("write through the writer VIP");

    // mmmctl runs in the client namespace and returns its output.
    let out = c.mmmctl(&["mode"]).expect("mmmctl mode");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ACTIVE");
    let (ok, text) = c.mmmctl_text(&["set_online", "nosuchhost"]);
    assert!(!ok || text.contains("ERROR"), "{text}");

    // kill -9 of the leader: another monitor leads; it comes back by name.
    let leader = c.leader().expect("a leader");
    let old_pid = c.pid(&leader).expect("leader pid");
    c.kill9(&leader).expect("kill -9 the leader");
    assert!(!alive(old_pid) && c.pid(&leader).is_none());
    assert!(!c.is_running(&leader).expect("known"));
    c.wait_for("a new leader", Duration::from_secs(30), || {
        c.leader().is_some_and(|l| l != leader)
    })
    .expect("new leader");
    c.start(&leader).expect("start the old leader again");
    assert!(c.start(&leader).is_err(), "started twice");
    assert!(c.is_running(&leader).expect("known"));

    // A clean stop and restart of an agent keeps its files and log.
    let agent_pid = c.pid("db3").expect("agent pid");
    c.stop("db3").expect("stop db3's agent");
    assert!(!alive(agent_pid) && !c.is_running("db3").expect("known"));
    c.restart("db3").expect("restart db3's agent");
    assert!(c.is_running("db3").expect("known"));
    c.restart("mon3").expect("restart mon3");
    c.wait_for(
        "the restarted agent answering",
        Duration::from_secs(30),
        || {
            let (ok, show) = c.mmmctl_text(&["show"]);
            ok && !show.contains("agent on host db3 is not reachable")
                && show.contains("db3(10.213.7.13) slave/ONLINE")
        },
    )
    .expect("db3 back");
    assert!(c.log("db3").lines().count() > 1, "no agent log");
    assert!(!c.log(&leader).is_empty(), "no monitor log");
    let writer_ip = c.host(&writer).expect("writer host").ip().to_string();
    assert_eq!(c.master_host("db3"), Some(writer_ip));

    let pids: Vec<u32> = ["db1", "db2", "db3", "mon1", "mon2", "mon3"]
        .iter()
        .filter_map(|n| c.pid(n))
        .chain(c.topology().nodes.iter().filter_map(|n| n.db.pid()))
        .collect();
    assert_eq!(pids.len(), 9);
    let names = c.lab().namespaces();
    let dir = c.lab().dir().to_path_buf();
    drop(c);
    assert!(pids.iter().all(|&p| !alive(p)), "processes left after drop");
    assert_namespaces_gone(&names);
    assert!(!dir.exists());
}
