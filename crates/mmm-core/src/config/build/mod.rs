//! Turns a parsed [`Tree`] into the typed [`Config`] one program needs: templates,
//! defaults, required keys per program, value types, enumerations and references.

mod checks;
mod context;
mod global;
mod hosts;
mod monitor;
mod roles;
mod socket;
mod tools;

use super::error::ConfigError;
use super::model::{Config, Program};
use super::tree::Tree;
use context::Ctx;

/// Validates `tree` for `program` and builds the effective configuration, or returns every
/// problem found.
pub(crate) fn build(mut tree: Tree, program: Program) -> Result<Config, Vec<ConfigError>> {
    tree.create_missing_checks();
    tree.apply_templates();
    let mut ctx = Ctx::new(program, tree.top.at.clone());
    let hosts = hosts::build(&mut ctx, &tree);
    let roles = roles::build(&mut ctx, &tree, &hosts);
    let global = global::build(&mut ctx, &tree, &hosts, &roles);
    let checks = checks::build(&mut ctx, &tree);
    let (monitor, monitor_nodes) = monitor::build(&mut ctx, &tree);
    let socket = socket::build(&mut ctx, &tree);
    tools::check(&mut ctx, &tree);
    ctx.finish(Config {
        this: global.this,
        debug: global.debug,
        active_master_role: global.active_master_role,
        max_kill_retries: global.max_kill_retries,
        catchup_timeout: global.catchup_timeout,
        use_gtid: global.use_gtid,
        failsafe_mode: global.failsafe_mode,
        hosts,
        roles,
        checks,
        monitor,
        monitor_nodes,
        this_monitor: global.this_monitor,
        socket,
    })
}
