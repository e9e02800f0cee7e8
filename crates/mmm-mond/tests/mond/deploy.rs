//! The example configs in deploy/ load as the monitor and agent programs see them.

use std::path::PathBuf;

use mmm_core::config::Program;
use mmm_daemon::config::{LoadOptions, load_with};
use mmm_mond::monitor::{Timing, this_node};
use mmm_mond::raft::NodeConfig;

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/etc")
}

fn options() -> LoadOptions {
    LoadOptions {
        search_dirs: vec![deploy().join("mysql-mmm")],
        // git keeps no file modes beyond the exec bit, so a checkout's copies are 0644; the
        // package installs them 0640 root:mmm, and the loader's refusal of world-readable
        // files is tested in mmm-daemon.
        check_permissions: false,
        includes_beside_first: true,
        this_monitor: None,
    }
}

#[test]
fn monitor_configs_load_and_name_their_node() {
    for (i, name) in ["mon1", "mon2", "mon3"].iter().enumerate() {
        let path = deploy().join("monitors").join(name).join("mmm_mon.conf");
        let cfg = match load_with(&path, Program::Monitor, &options()) {
            Ok(c) => c,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        assert_eq!(cfg.monitor_nodes.len(), 3);
        let node = this_node(&cfg, None).expect("this_monitor names a node");
        assert_eq!(node.name, *name);
        assert_eq!(node.id, i as u64 + 1);
        let nc = NodeConfig::new(
            node.id,
            &node.data_dir,
            "127.0.0.1:1".parse().expect("addr"),
            Default::default(),
        );
        let t = Timing::new(
            &cfg,
            cfg.monitor_nodes.len(),
            nc.election_timeout_max,
            nc.propose_timeout,
        );
        assert_eq!(t.observer_quorum, 2);
        assert_eq!(
            cfg.hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>(),
            ["db1", "db2", "db3"]
        );
    }
}

#[test]
fn agent_config_loads() {
    let path = deploy().join("mysql-mmm").join("mmm_agent.conf");
    let cfg = match load_with(&path, Program::Agent, &options()) {
        Ok(c) => c,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    assert_eq!(cfg.this.as_deref(), Some("db1"));
}
