//! mmm-core's integration tests: golden scenarios, properties of `apply`, the simulator.

#[path = "core/apply_props.rs"]
mod apply_props;
#[path = "core/config_tests/mod.rs"]
mod config_tests;
#[path = "core/fixtures.rs"]
mod fixtures;
#[path = "core/scenario/mod.rs"]
mod scenario;
#[path = "core/simulator/mod.rs"]
mod simulator;
