//! Text renderings of mmm_control's read commands (`show`, `checks`, `help`).
//!
//! The monitor answers with structured data; these pure functions turn it into the exact
//! text mysql-mmm 2.2.1 printed, so scripts that parse `mmm_control show` keep working.

use std::fmt::Write as _;

/// The four checks in the order mysql-mmm lists them.
pub const CHECK_ORDER: [&str; 4] = ["ping", "mysql", "rep_threads", "rep_backlog"];

/// Everything `show` prints: mode, passive cause, hosts and preferred-role notes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShowView {
    /// ACTIVE, MANUAL, WAIT or PASSIVE.
    pub mode: String,
    /// Why the monitor is passive; may span several lines. Ignored unless mode is PASSIVE.
    pub passive_cause: String,
    /// Every host, in any order (the rendering sorts them by name).
    pub hosts: Vec<HostView>,
    /// Roles that have a preferred host, in config-file order.
    pub preferred: Vec<PreferredView>,
    /// Why the writer role is held back (see [`writer_held`]); empty when it is not.
    pub writer_held: String,
}

/// What `show` says of a pending writer release: which host it left at which epoch, and what
/// it waits for — the proof that host cannot take writes, the pre-failover hook's verdict — or
/// that the hook vetoed it.
pub fn writer_held(rel: &crate::state::WriterRelease, config: &crate::config::Config) -> String {
    let role = rel.role(config);
    let head = format!(
        "Role '{role}' is held back since host '{}' lost it at epoch {}",
        rel.host, rel.epoch
    );
    let Some(proof) = rel.proof else {
        return format!(
            "{head}: host '{}' is not proven unable to take writes",
            rel.host
        );
    };
    match &rel.hook {
        Some(v) if !v.allowed => format!(
            "{head}: the pre-failover hook vetoed the failover ({}); 'move_role {} HOST' moves it",
            v.how, role.role
        ),
        None if !crate::decide::hook_allows(rel, config) => {
            format!("{head}: {proof}; waiting for the pre-failover hook")
        }
        _ => format!("{head}: {proof}; it goes to the next eligible host"),
    }
}

/// One host line of `show`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostView {
    /// Host name (`db1`).
    pub name: String,
    /// Its permanent IP as written in the config.
    pub ip: String,
    /// `master` or `slave`.
    pub mode: String,
    /// Host state (`ONLINE`, `HARD_OFFLINE`, ...).
    pub state: String,
    /// Assigned roles as (role name, role IP).
    pub roles: Vec<(String, String)>,
    /// The monitor cannot reach this host's agent.
    pub agent_down: bool,
}

/// One role with a `prefer` host, for the notes at the end of `show`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreferredView {
    /// Role name.
    pub role: String,
    /// The configured preferred host.
    pub preferred_host: String,
    /// Where the role is now; `None` when it is orphaned.
    pub assigned_host: Option<String>,
}

/// One row of `checks`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckView {
    /// Host name.
    pub host: String,
    /// Check name (`ping`, `mysql`, `rep_threads`, `rep_backlog`).
    pub check: String,
    /// Whether the check currently passes.
    pub ok: bool,
    /// Last status change, already formatted as `yyyy/MM/dd HH:mm:ss`.
    pub last_change: String,
    /// The checker's message (`OK`, `ERROR: ...`, `UNKNOWN: ...`).
    pub message: String,
}

/// `show`'s reply text, byte for byte as mysql-mmm's monitor produced it (ends with a newline
/// unless there is nothing to show).
pub fn render_show(view: &ShowView) -> String {
    let mut out = String::new();
    if view.mode.eq_ignore_ascii_case("PASSIVE") {
        out.push_str("# --- Monitor is in PASSIVE MODE ---\n");
        let cause = format!("Cause: {}", view.passive_cause);
        for line in cause.split('\n') {
            let _ = writeln!(out, "# {line}");
        }
    }
    let mut hosts: Vec<&HostView> = view.hosts.iter().collect();
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    for host in hosts.iter().filter(|h| h.agent_down) {
        let _ = writeln!(
            out,
            "# Warning: agent on host {} is not reachable",
            host.name
        );
    }
    if !view.writer_held.is_empty() {
        let _ = writeln!(out, "# Warning: {}", view.writer_held);
    }
    for host in &hosts {
        let mut roles: Vec<String> = host
            .roles
            .iter()
            // A VIP-less role travels with an empty IP and shows as its bare name.
            .map(|(role, ip)| {
                if ip.is_empty() {
                    role.clone()
                } else {
                    format!("{role}({ip})")
                }
            })
            .collect();
        roles.sort();
        let _ = writeln!(
            out,
            "  {}({}) {}/{}. Roles: {}",
            host.name,
            host.ip,
            host.mode,
            host.state,
            roles.join(", ")
        );
    }
    for pref in &view.preferred {
        let (role, preferred) = (&pref.role, &pref.preferred_host);
        match pref.assigned_host.as_deref() {
            Some(other) if other == preferred => {
                let _ = writeln!(
                    out,
                    "# Role {role} is assigned to it's preferred host {preferred}."
                );
            }
            Some(other) if !other.is_empty() => {
                let _ = writeln!(
                    out,
                    "# Role {role} has {preferred} configured as it's preferred host but is assigned to {other} at the moment."
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "# Role {role} has {preferred} configured as it's preferred host."
                );
            }
        }
    }
    out
}

/// `checks`' reply text with mysql-mmm's padding rules.
///
/// `single_host` says the operator named one host (no host padding). A request for one check
/// is recognised from the rows themselves: every row names the same check. One host and one
/// check give a single line without a trailing newline, as mysql-mmm did; otherwise every
/// line ends with a newline. Rows keep the given host order; within a host, checks follow
/// [`CHECK_ORDER`].
pub fn render_checks(checks: &[CheckView], single_host: bool) -> String {
    let single_check = match checks.first() {
        Some(first) => checks.len() == 1 || checks.iter().all(|c| c.check == first.check),
        None => false,
    };
    if single_host
        && single_check
        && let Some(c) = checks.first()
    {
        return format!(
            "{}  {}  [last change: {}]  {}",
            c.host, c.check, c.last_change, c.message
        );
    }
    let width = if single_host {
        0
    } else {
        checks
            .iter()
            .map(|c| c.host.chars().count())
            .max()
            .unwrap_or(0)
    };
    let mut out = String::new();
    for c in ordered(checks) {
        let host = pad(&c.host, width);
        let check = if single_check {
            c.check.clone()
        } else {
            pad(&c.check, 11)
        };
        let _ = writeln!(
            out,
            "{host}  {check}  [last change: {}]  {}",
            c.last_change, c.message
        );
    }
    out
}

/// Rows grouped by host in first-seen order, checks in mysql-mmm's order within a host.
fn ordered(checks: &[CheckView]) -> Vec<&CheckView> {
    let mut hosts: Vec<&str> = Vec::new();
    for c in checks {
        if !hosts.contains(&c.host.as_str()) {
            hosts.push(&c.host);
        }
    }
    let rank = |name: &str| {
        CHECK_ORDER
            .iter()
            .position(|k| *k == name)
            .unwrap_or(CHECK_ORDER.len())
    };
    let mut rows = Vec::with_capacity(checks.len());
    for host in hosts {
        let mut of_host: Vec<&CheckView> = checks.iter().filter(|c| c.host == host).collect();
        of_host.sort_by_key(|c| rank(&c.check));
        rows.extend(of_host);
    }
    rows
}

/// Left-align `s` in a field of `width` characters (Perl's `%-Ns`).
fn pad(s: &str, width: usize) -> String {
    let len = s.chars().count();
    let mut out = String::from(s);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    out
}

/// mmm_control's command listing, as `help` printed it.
pub fn help_text() -> &'static str {
    "Valid commands are:
    help                              - show this message
    ping                              - ping monitor
    show                              - show status
    checks [<host>|all [<check>|all]] - show checks status
    set_online <host>                 - set host <host> online
    set_offline <host>                - set host <host> offline
    mode                              - print current mode.
    set_active                        - switch into active mode.
    set_manual                        - switch into manual mode.
    set_passive                       - switch into passive mode.
    move_role [--force] <role> <host> - move exclusive role <role> to host <host>
                                        (Only use --force if you know what you are doing!)
    set_ip <ip> <host>                - set role with ip <ip> to host <host>
    confirm_fenced <host>             - declare that <host> cannot take writes (powered off or
                                        cut off); a writer role held back until <host> is
                                        fenced may then move (Only use it if you are sure!)
"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, ip: &str, mode: &str, state: &str, roles: &[(&str, &str)]) -> HostView {
        HostView {
            name: name.into(),
            ip: ip.into(),
            mode: mode.into(),
            state: state.into(),
            roles: roles
                .iter()
                .map(|(r, i)| ((*r).to_string(), (*i).to_string()))
                .collect(),
            agent_down: false,
        }
    }

    fn seed000_after_failover() -> ShowView {
        ShowView {
            mode: "ACTIVE".into(),
            passive_cause: String::new(),
            hosts: vec![
                host(
                    "db3",
                    "192.168.1.184",
                    "slave",
                    "ONLINE",
                    &[("reader", "192.168.1.202")],
                ),
                host(
                    "db2",
                    "192.168.1.187",
                    "master",
                    "ONLINE",
                    &[("writer", "192.168.1.200"), ("reader", "192.168.1.201")],
                ),
                host("db1", "192.168.1.186", "master", "ONLINE", &[]),
            ],
            preferred: vec![],
            writer_held: String::new(),
        }
    }

    #[test]
    fn show_seed000_initial() {
        let view = ShowView {
            mode: "ACTIVE".into(),
            hosts: vec![
                host(
                    "db1",
                    "192.168.1.186",
                    "master",
                    "ONLINE",
                    &[("writer", "192.168.1.200")],
                ),
                host(
                    "db2",
                    "192.168.1.187",
                    "master",
                    "ONLINE",
                    &[("reader", "192.168.1.201")],
                ),
                host(
                    "db3",
                    "192.168.1.184",
                    "slave",
                    "ONLINE",
                    &[("reader", "192.168.1.202")],
                ),
            ],
            ..ShowView::default()
        };
        assert_eq!(
            render_show(&view),
            "  db1(192.168.1.186) master/ONLINE. Roles: writer(192.168.1.200)\n\
             \x20 db2(192.168.1.187) master/ONLINE. Roles: reader(192.168.1.201)\n\
             \x20 db3(192.168.1.184) slave/ONLINE. Roles: reader(192.168.1.202)\n"
        );
    }

    #[test]
    fn show_seed000_sorts_hosts_and_roles_and_keeps_empty_roles() {
        assert_eq!(
            render_show(&seed000_after_failover()),
            "  db1(192.168.1.186) master/ONLINE. Roles: \n\
             \x20 db2(192.168.1.187) master/ONLINE. Roles: reader(192.168.1.201), writer(192.168.1.200)\n\
             \x20 db3(192.168.1.184) slave/ONLINE. Roles: reader(192.168.1.202)\n"
        );
    }

    #[test]
    fn show_prints_a_vip_less_role_by_its_name() {
        let view = ShowView {
            mode: "ACTIVE".into(),
            hosts: vec![host(
                "db1",
                "10.0.0.11",
                "master",
                "ONLINE",
                &[("writer", "")],
            )],
            ..ShowView::default()
        };
        assert_eq!(
            render_show(&view),
            "  db1(10.0.0.11) master/ONLINE. Roles: writer\n"
        );
    }

    #[test]
    fn show_seed002_four_hosts() {
        let view = ShowView {
            mode: "ACTIVE".into(),
            hosts: vec![
                host(
                    "db1",
                    "192.168.10.131",
                    "master",
                    "ONLINE",
                    &[("writer", "192.168.10.128")],
                ),
                host("db2", "192.168.10.132", "master", "ONLINE", &[]),
                host(
                    "db3",
                    "192.168.10.133",
                    "slave",
                    "ONLINE",
                    &[("reader", "192.168.10.129")],
                ),
                host(
                    "db4",
                    "192.168.10.134",
                    "slave",
                    "ONLINE",
                    &[("reader", "192.168.10.130")],
                ),
            ],
            ..ShowView::default()
        };
        assert_eq!(
            render_show(&view),
            "  db1(192.168.10.131) master/ONLINE. Roles: writer(192.168.10.128)\n\
             \x20 db2(192.168.10.132) master/ONLINE. Roles: \n\
             \x20 db3(192.168.10.133) slave/ONLINE. Roles: reader(192.168.10.129)\n\
             \x20 db4(192.168.10.134) slave/ONLINE. Roles: reader(192.168.10.130)\n"
        );
    }

    #[test]
    fn show_passive_with_multiline_cause_warnings_and_preferences() {
        let mut view = seed000_after_failover();
        view.mode = "PASSIVE".into();
        view.passive_cause =
            "Conflicting roles during startup:\n\nRoles:\n  writer on db1, db2".into();
        view.hosts[0].agent_down = true; // db3
        view.hosts[2].agent_down = true; // db1
        view.preferred = vec![
            PreferredView {
                role: "writer".into(),
                preferred_host: "db2".into(),
                assigned_host: Some("db2".into()),
            },
            PreferredView {
                role: "backup".into(),
                preferred_host: "db1".into(),
                assigned_host: Some("db3".into()),
            },
            PreferredView {
                role: "batch".into(),
                preferred_host: "db1".into(),
                assigned_host: None,
            },
        ];
        assert_eq!(
            render_show(&view),
            "# --- Monitor is in PASSIVE MODE ---\n\
             # Cause: Conflicting roles during startup:\n\
             # \n\
             # Roles:\n\
             #   writer on db1, db2\n\
             # Warning: agent on host db1 is not reachable\n\
             # Warning: agent on host db3 is not reachable\n\
             \x20 db1(192.168.1.186) master/ONLINE. Roles: \n\
             \x20 db2(192.168.1.187) master/ONLINE. Roles: reader(192.168.1.201), writer(192.168.1.200)\n\
             \x20 db3(192.168.1.184) slave/ONLINE. Roles: reader(192.168.1.202)\n\
             # Role writer is assigned to it's preferred host db2.\n\
             # Role backup has db1 configured as it's preferred host but is assigned to db3 at the moment.\n\
             # Role batch has db1 configured as it's preferred host.\n"
        );
    }

    #[test]
    fn show_passive_cause_is_ignored_when_not_passive() {
        let mut view = seed000_after_failover();
        view.passive_cause = "stale".into();
        assert!(!render_show(&view).contains("PASSIVE"));
    }

    fn checks_for(hosts: &[&str], checks: &[&str]) -> Vec<CheckView> {
        let mut rows = Vec::new();
        for h in hosts {
            for c in checks {
                let ok = !(*h == "db2" && *c == "mysql");
                rows.push(CheckView {
                    host: (*h).into(),
                    check: (*c).into(),
                    ok,
                    last_change: "2012/08/23 17:03:09".into(),
                    message: if ok {
                        "OK".into()
                    } else {
                        "ERROR: Connect error (host = 192.168.1.187:3308, user = mmm_monitor)!"
                            .into()
                    },
                });
            }
        }
        rows
    }

    #[test]
    fn checks_all_all_pads_host_and_check_in_mmm_order() {
        let reversed: Vec<&str> = CHECK_ORDER.iter().rev().copied().collect();
        let rows = checks_for(&["db1", "db2", "db10"], &reversed);
        let text = render_checks(&rows, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 12);
        assert_eq!(
            lines[0],
            "db1   ping         [last change: 2012/08/23 17:03:09]  OK"
        );
        assert_eq!(
            lines[1],
            "db1   mysql        [last change: 2012/08/23 17:03:09]  OK"
        );
        assert_eq!(
            lines[2],
            "db1   rep_threads  [last change: 2012/08/23 17:03:09]  OK"
        );
        assert_eq!(
            lines[3],
            "db1   rep_backlog  [last change: 2012/08/23 17:03:09]  OK"
        );
        assert_eq!(
            lines[5],
            "db2   mysql        [last change: 2012/08/23 17:03:09]  ERROR: Connect error (host = 192.168.1.187:3308, user = mmm_monitor)!"
        );
        assert_eq!(
            lines[8],
            "db10  ping         [last change: 2012/08/23 17:03:09]  OK"
        );
        assert!(text.ends_with("OK\n"));
    }

    #[test]
    fn checks_one_host_all_checks_pads_only_the_check() {
        let rows = checks_for(&["db1"], &CHECK_ORDER);
        assert_eq!(
            render_checks(&rows, true),
            "db1  ping         [last change: 2012/08/23 17:03:09]  OK\n\
             db1  mysql        [last change: 2012/08/23 17:03:09]  OK\n\
             db1  rep_threads  [last change: 2012/08/23 17:03:09]  OK\n\
             db1  rep_backlog  [last change: 2012/08/23 17:03:09]  OK\n"
        );
    }

    #[test]
    fn checks_all_hosts_one_check_pads_only_the_host() {
        let rows = checks_for(&["db1", "db10"], &["mysql"]);
        assert_eq!(
            render_checks(&rows, false),
            "db1   mysql  [last change: 2012/08/23 17:03:09]  OK\n\
             db10  mysql  [last change: 2012/08/23 17:03:09]  OK\n"
        );
    }

    #[test]
    fn checks_one_host_one_check_is_one_bare_line() {
        let rows = checks_for(&["db2"], &["mysql"]);
        assert_eq!(
            render_checks(&rows, true),
            "db2  mysql  [last change: 2012/08/23 17:03:09]  ERROR: Connect error (host = 192.168.1.187:3308, user = mmm_monitor)!"
        );
    }

    #[test]
    fn checks_empty_is_empty() {
        assert_eq!(render_checks(&[], false), "");
        assert_eq!(render_checks(&[], true), "");
    }

    #[test]
    fn help_lists_every_command() {
        let help = help_text();
        for cmd in [
            "help ",
            "ping ",
            "show ",
            "checks [<host>|all [<check>|all]]",
            "set_online <host>",
            "set_offline <host>",
            "mode ",
            "set_active ",
            "set_manual ",
            "set_passive ",
            "move_role [--force] <role> <host>",
            "(Only use --force if you know what you are doing!)",
            "set_ip <ip> <host>",
        ] {
            assert!(help.contains(cmd), "{cmd} missing");
        }
        assert!(help.starts_with("Valid commands are:\n"));
    }
}
