//! `<check NAME>` sections: the four checks, always present, with mysql-mmm's defaults.

use super::super::model::{CheckConfig, ChecksConfig};
use super::super::rules::{CHECK_NAMES, Kind};
use super::super::tree::Tree;
use super::super::value;
use super::context::{Ctx, View};

/// Builds the four checks; a check of another name is an error.
pub(super) fn build(ctx: &mut Ctx, tree: &Tree) -> ChecksConfig {
    for (name, section) in tree.named(Kind::Check) {
        if !CHECK_NAMES.contains(&name.as_str()) {
            let allowed: Vec<String> = CHECK_NAMES
                .iter()
                .chain(&["default"])
                .map(|n| format!("'{n}'"))
                .collect();
            ctx.error(
                &section.at,
                format!(
                    "Invalid check '{name}' in configuration allowed values are: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    ChecksConfig {
        ping: one(ctx, tree, "ping"),
        mysql: one(ctx, tree, "mysql"),
        rep_threads: one(ctx, tree, "rep_threads"),
        rep_backlog: one(ctx, tree, "rep_backlog"),
    }
}

fn one(ctx: &mut Ctx, tree: &Tree, name: &str) -> CheckConfig {
    let Some((_, section)) = tree.named(Kind::Check).iter().find(|(n, _)| n == name) else {
        return CheckConfig::default();
    };
    let view = View::named(Kind::Check, name, section);
    let defaults = CheckConfig::default();
    CheckConfig {
        check_period: ctx.parse_or(
            &view,
            "check_period",
            defaults.check_period,
            value::positive_seconds,
        ),
        trap_period: ctx.parse_or(&view, "trap_period", defaults.trap_period, value::seconds),
        timeout: ctx.parse_or(&view, "timeout", defaults.timeout, value::positive_seconds),
        restart_after: ctx.parse_or(
            &view,
            "restart_after",
            defaults.restart_after,
            value::unsigned,
        ),
        max_backlog: ctx.parse_or(&view, "max_backlog", defaults.max_backlog, value::unsigned),
    }
}
