//! Integration tests of mmm-mond: real openraft clusters on loopback with redb stores on disk.

#[path = "mond/support.rs"]
mod support;

#[path = "mond/backup.rs"]
mod backup;
#[path = "mond/checks.rs"]
mod checks;
#[path = "mond/cluster/mod.rs"]
mod cluster;
#[path = "mond/conformance.rs"]
mod conformance;
#[path = "mond/daemon.rs"]
mod daemon;
#[path = "mond/deploy.rs"]
mod deploy;
#[path = "mond/election.rs"]
mod election;
#[path = "mond/failover.rs"]
mod failover;
#[path = "mond/lab/mod.rs"]
mod lab;
#[path = "mond/membership.rs"]
mod membership;
#[path = "mond/migrate.rs"]
mod migrate;
#[path = "mond/partition.rs"]
mod partition;
#[path = "mond/peer_service.rs"]
mod peer_service;
#[path = "mond/restart.rs"]
mod restart;
#[path = "mond/tls.rs"]
mod tls;
#[path = "mond/transport_log.rs"]
mod transport_log;
