//! Integration tests of mmm-mond: real openraft clusters on loopback with redb stores on disk.

#[path = "mond/support.rs"]
mod support;

#[path = "mond/checks.rs"]
mod checks;
#[path = "mond/conformance.rs"]
mod conformance;
#[path = "mond/election.rs"]
mod election;
#[path = "mond/failover.rs"]
mod failover;
#[path = "mond/partition.rs"]
mod partition;
#[path = "mond/restart.rs"]
mod restart;
