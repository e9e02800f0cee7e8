//! mmm-core's integration tests: golden scenarios, properties of `apply`, the simulator.

#[path = "core/fixtures.rs"]
mod fixtures;
#[path = "core/scenario.rs"]
mod scenario;
#[path = "core/config_tests/mod.rs"]
mod config_tests;
