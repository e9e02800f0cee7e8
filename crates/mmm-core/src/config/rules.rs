//! Which sections exist and which keys each one accepts (mysql-mmm's ruleset plus mmm's
//! extensions). Parsing rejects anything not listed here.

/// The section types of the configuration format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    /// `<host NAME>`.
    Host,
    /// `<role NAME>`.
    Role,
    /// `<check NAME>`.
    Check,
    /// `<monitor>` (shared settings) and `<monitor NAME>` (cluster members).
    Monitor,
    /// `<socket>`.
    Socket,
    /// `<copy_method NAME>` (tools).
    CopyMethod,
}

/// Whether a section type takes a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// Never named (`<socket>`).
    Unique,
    /// Always named (`<host db1>`).
    Named,
    /// Both forms exist (`<monitor>` and `<monitor mon1>`).
    Either,
}

impl Kind {
    /// The word used in tags.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Role => "role",
            Kind::Check => "check",
            Kind::Monitor => "monitor",
            Kind::Socket => "socket",
            Kind::CopyMethod => "copy_method",
        }
    }

    /// The section type a tag word names.
    pub(crate) fn from_word(word: &str) -> Option<Kind> {
        [
            Kind::Host,
            Kind::Role,
            Kind::Check,
            Kind::Monitor,
            Kind::Socket,
            Kind::CopyMethod,
        ]
        .into_iter()
        .find(|kind| kind.word() == word)
    }

    /// Whether sections of this type carry a name.
    pub(crate) fn naming(self) -> Naming {
        match self {
            Kind::Host | Kind::Role | Kind::Check | Kind::CopyMethod => Naming::Named,
            Kind::Socket => Naming::Unique,
            Kind::Monitor => Naming::Either,
        }
    }

    /// Whether a section called `default` of this type is a template for the others.
    pub(crate) fn has_template(self) -> bool {
        matches!(self, Kind::Host | Kind::Check | Kind::CopyMethod)
    }
}

/// Where a directive stands: which keys are valid depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Outside any section.
    Top,
    /// Inside an unnamed section.
    Unique(Kind),
    /// Inside a named section.
    Named(Kind),
}

const TOP_KEYS: &[&str] = &[
    "this",
    "debug",
    "active_master_role",
    "max_kill_retries",
    "default_copy_method",
    "clone_dirs",
    "catchup_timeout",
    "use_gtid",
    "failsafe_mode",
    "this_monitor",
];

/// Keys of `<host NAME>` that only the tools use; kept verbatim in `HostConfig::tools`.
pub(crate) const HOST_TOOLS_KEYS: &[&str] = &[
    "mysql_pidfile",
    "mysql_rcscript",
    "mysql_cnf",
    "ssh_user",
    "ssh_port",
    "ssh_parameters",
    "tools_user",
    "tools_password",
    "backup_dir",
    "restore_dir",
    "lvm_bin_lvcreate",
    "lvm_bin_lvremove",
    "lvm_snapshot_size",
    "lvm_logical_volume",
    "lvm_volume_group",
    "lvm_mount_dir",
    "lvm_mount_opts",
];

const HOST_KEYS: &[&str] = &[
    "ip",
    "mode",
    "peer",
    "pid_path",
    "bin_path",
    "agent_port",
    "http_port",
    "cluster_interface",
    "mysql_port",
    "agent_user",
    "agent_password",
    "monitor_user",
    "monitor_password",
    "replication_user",
    "replication_password",
];

const ROLE_KEYS: &[&str] = &["mode", "hosts", "ips", "prefer"];

const CHECK_KEYS: &[&str] = &[
    "check_period",
    "trap_period",
    "timeout",
    "restart_after",
    "max_backlog",
];

/// Keys of the unnamed `<monitor>` section (shared by every monitor node).
const MONITOR_SHARED_KEYS: &[&str] = &[
    "ip",
    "port",
    "pid_path",
    "bin_path",
    "status_path",
    "ping_interval",
    "ping_ips",
    "flap_duration",
    "flap_count",
    "auto_set_online",
    "kill_host_bin",
    "pre_failover_hook",
    "post_change_hook",
    "hook_timeout",
    "pre_failover_default",
    "careful_startup",
    "mode",
    "wait_for_other_master",
    "agent_lease",
    "lease_margin",
    "status_interval",
    "agent_timeout",
    "observer_quorum",
    "raft_port",
    "http_port",
    "data_dir",
    "id",
];

/// Keys of a named `<monitor NAME>` section (one monitor node).
const MONITOR_NODE_KEYS: &[&str] = &["ip", "port", "raft_port", "http_port", "data_dir", "id"];

const SOCKET_KEYS: &[&str] = &["type", "cert_file", "key_file", "ca_file"];

const COPY_METHOD_KEYS: &[&str] = &[
    "backup_command",
    "restore_command",
    "incremental_command",
    "incremental",
    "single_run",
    "true_copy",
];

/// The names allowed for `<check NAME>` (besides the `default` template).
pub(crate) const CHECK_NAMES: [&str; 4] = ["ping", "mysql", "rep_backlog", "rep_threads"];

/// The keys valid in `scope`.
pub(crate) fn keys(scope: Scope) -> &'static [&'static str] {
    match scope {
        Scope::Top => TOP_KEYS,
        Scope::Unique(Kind::Monitor) => MONITOR_SHARED_KEYS,
        Scope::Named(Kind::Monitor) => MONITOR_NODE_KEYS,
        Scope::Unique(Kind::Socket) | Scope::Named(Kind::Socket) => SOCKET_KEYS,
        Scope::Unique(Kind::Host) | Scope::Named(Kind::Host) => HOST_KEYS,
        Scope::Unique(Kind::Role) | Scope::Named(Kind::Role) => ROLE_KEYS,
        Scope::Unique(Kind::Check) | Scope::Named(Kind::Check) => CHECK_KEYS,
        Scope::Unique(Kind::CopyMethod) | Scope::Named(Kind::CopyMethod) => COPY_METHOD_KEYS,
    }
}

/// Whether `key` is valid in `scope`.
pub(crate) fn is_known(scope: Scope, key: &str) -> bool {
    keys(scope).contains(&key)
        || (scope == Scope::Named(Kind::Host) && HOST_TOOLS_KEYS.contains(&key))
}

/// Where an unknown key would have been valid, as a hint for the error message.
pub(crate) fn home_of(key: &str) -> Option<&'static str> {
    const HOMES: [(Scope, &str); 8] = [
        (Scope::Top, "at the top level, outside any section"),
        (Scope::Named(Kind::Host), "in a <host NAME> section"),
        (Scope::Named(Kind::Role), "in a <role NAME> section"),
        (Scope::Named(Kind::Check), "in a <check NAME> section"),
        (Scope::Named(Kind::Monitor), "in a <monitor NAME> section"),
        (
            Scope::Unique(Kind::Monitor),
            "in the unnamed <monitor> section",
        ),
        (Scope::Unique(Kind::Socket), "in the <socket> section"),
        (
            Scope::Named(Kind::CopyMethod),
            "in a <copy_method NAME> section",
        ),
    ];
    HOMES
        .iter()
        .find(|(scope, _)| is_known(*scope, key))
        .map(|(_, home)| *home)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_word() {
        for kind in [
            Kind::Host,
            Kind::Role,
            Kind::Check,
            Kind::Monitor,
            Kind::Socket,
            Kind::CopyMethod,
        ] {
            assert_eq!(Kind::from_word(kind.word()), Some(kind));
        }
        assert_eq!(Kind::from_word("hosts"), None);
    }

    #[test]
    fn tools_keys_only_in_named_hosts() {
        assert!(is_known(Scope::Named(Kind::Host), "lvm_mount_dir"));
        assert!(!is_known(Scope::Top, "lvm_mount_dir"));
        assert!(is_known(Scope::Unique(Kind::Monitor), "ping_ips"));
        assert!(!is_known(Scope::Named(Kind::Monitor), "ping_ips"));
    }

    #[test]
    fn hints_name_the_right_section() {
        assert_eq!(
            home_of("ping_ips"),
            Some("in the unnamed <monitor> section")
        );
        assert_eq!(home_of("peer"), Some("in a <host NAME> section"));
        assert_eq!(home_of("raft_port"), Some("in a <monitor NAME> section"));
        assert_eq!(home_of("nonsense"), None);
    }
}
