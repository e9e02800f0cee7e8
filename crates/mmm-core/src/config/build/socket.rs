//! `<socket>`: plain TCP or mutual TLS for agent and control connections.

use std::path::PathBuf;

use super::super::model::{Program, SocketConfig, SocketType};
use super::super::rules::Kind;
use super::super::tree::Tree;
use super::context::{Ctx, View};

fn socket_type(text: &str) -> Result<SocketType, String> {
    match text {
        "plain" => Ok(SocketType::Plain),
        "ssl" => Ok(SocketType::Ssl),
        _ => Err("allowed values are: 'plain', 'ssl'".to_owned()),
    }
}

/// Builds the socket settings (plain when the section is absent); with `type ssl`,
/// `cert_file` and `key_file` are required and `ca_file` too for the agent and monitor.
pub(super) fn build(ctx: &mut Ctx, tree: &Tree) -> SocketConfig {
    let Some(section) = tree.unique(Kind::Socket) else {
        return SocketConfig::default();
    };
    let view = View::unique(Kind::Socket, section);
    let kind = ctx.parse_or(&view, "type", SocketType::Plain, socket_type);
    let mut file = |key: &str, needed_by: &[Program]| {
        let entry = view.get(key);
        if entry.is_none() && kind == SocketType::Ssl && ctx.needs(needed_by) {
            ctx.error(
                &section.at,
                format!(
                    "Config entry '{}' is required because of 'type ssl', but missing",
                    view.entry_name(key)
                ),
            );
        }
        entry.map(|entry| PathBuf::from(&entry.value))
    };
    let daemons_and_cli = &[Program::Agent, Program::Control, Program::Monitor];
    SocketConfig {
        kind,
        cert_file: file("cert_file", daemons_and_cli),
        key_file: file("key_file", daemons_and_cli),
        ca_file: file("ca_file", &[Program::Agent, Program::Monitor]),
    }
}
