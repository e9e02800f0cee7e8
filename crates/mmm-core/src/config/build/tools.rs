//! Settings only the backup/clone tools use: `default_copy_method`, `clone_dirs` and the
//! `<copy_method NAME>` sections. They are validated as mysql-mmm does, not stored.

use super::super::model::Program;
use super::super::rules::Kind;
use super::super::tree::Tree;
use super::super::value;
use super::context::{ALL, Ctx, View};

const TOOLS: &[Program] = &[Program::Tools];

/// Validates the tools' settings; required ones only when the tools load the files.
pub(super) fn check(ctx: &mut Ctx, tree: &Tree) {
    let methods = tree.named(Kind::CopyMethod);
    let top = View::top(&tree.top);
    if methods.is_empty() && ctx.needs(TOOLS) {
        let main = ctx.main.clone();
        ctx.missing(&main, "copy_method");
    }
    let names: Vec<&str> = methods.iter().map(|(name, _)| name.as_str()).collect();
    if let Some(entry) = ctx.text(&top, "default_copy_method", TOOLS)
        && !names.contains(&entry.value.as_str())
    {
        ctx.not_allowed(entry, "default_copy_method", &entry.value, &names);
    }
    ctx.parse(&top, "clone_dirs", TOOLS, value::list);
    for (name, section) in methods {
        let view = View::named(Kind::CopyMethod, name, section);
        ctx.text(&view, "backup_command", ALL);
        ctx.text(&view, "restore_command", ALL);
        let incremental = ctx.parse_or(&view, "incremental", false, value::boolean);
        ctx.parse(&view, "single_run", &[], value::boolean);
        ctx.parse(&view, "true_copy", &[], value::boolean);
        if incremental && view.get("incremental_command").is_none() {
            ctx.error(
                &section.at,
                format!(
                    "Config entry '{}' is required because of 'incremental 1', but missing",
                    view.entry_name("incremental_command")
                ),
            );
        }
    }
}
