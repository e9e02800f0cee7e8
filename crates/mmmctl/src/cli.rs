//! Command-line grammar: mmm_control's commands plus cluster, history, config and completions.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  mmmctl show                          host states and roles (mmm_control show)
  mmmctl @c2 show                      the cluster described by mmm_mon_c2.conf
  mmmctl checks db2 mysql              one check of one host
  mmmctl set_online db2                bring a recovered host back
  mmmctl move_role writer db1          move the writer role (exclusive roles)
  mmmctl --json show                   the same data as JSON (see JSON.md)
  mmmctl -m 10.0.0.5:9988 ping         talk to a monitor without a config file
  mmmctl cluster status                Raft leader, term, members
  mmmctl history --limit 20            the last 20 replicated state changes
  mmmctl config check /etc/mysql-mmm/mmm_mon.conf

Exit codes: 0 success, 1 the monitor refused the command, 2 usage or config error,
3 no monitor reachable or no quorum.";

/// mmm operator CLI, compatible with mysql-mmm's mmm_control.
#[derive(Debug, Parser)]
#[command(
    name = "mmmctl",
    version,
    about = "Control an mmm monitor cluster (mysql-mmm's mmm_control, plus cluster management)",
    after_help = EXAMPLES,
    disable_help_subcommand = true,
    propagate_version = true
)]
pub struct Cli {
    /// Connection and output options.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Cluster name: read mmm_mon_NAME.conf (same as a leading `@NAME` argument).
    #[arg(long = "cluster", short = 'C', global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Monitor config file to find the monitors in (default: mmm_mon[_CLUSTER].conf in
    /// /etc, /etc/mmm, /etc/mysql-mmm).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Monitor Control address host:port; repeat for several. Overrides the config's monitors.
    #[arg(long = "monitor", short = 'm', global = true, value_name = "HOST:PORT")]
    pub monitors: Vec<String>,
    /// Print JSON instead of mmm_control's text (show, checks, mode, cluster status/members, history).
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for a TCP/TLS connection to one monitor (more than 0, at most 3600).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 1.0)]
    pub connect_timeout: f64,
    /// Seconds to wait for the monitors' answer, leader changes included (more than 0, at
    /// most 3600).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print mmm_control's command list.
    Help,
    /// Check that a monitor answers.
    Ping,
    /// Host states, roles, passive-mode cause and preferred-role notes.
    Show,
    /// Check status: `checks [HOST|all [CHECK|all]]`.
    Checks {
        /// Host name or `all`.
        host: Option<String>,
        /// ping, mysql, rep_threads, rep_backlog or `all`.
        check: Option<String>,
    },
    /// Set a host ONLINE (from ADMIN_OFFLINE or AWAITING_RECOVERY).
    #[command(name = "set_online", visible_alias = "set-online")]
    SetOnline {
        /// Host name.
        host: String,
    },
    /// Set a host ADMIN_OFFLINE and remove its roles.
    #[command(name = "set_offline", visible_alias = "set-offline")]
    SetOffline {
        /// Host name.
        host: String,
    },
    /// Print the monitor mode: ACTIVE, MANUAL, WAIT or PASSIVE.
    Mode,
    /// Switch into active mode.
    #[command(name = "set_active", visible_alias = "set-active")]
    SetActive,
    /// Switch into manual mode.
    #[command(name = "set_manual", visible_alias = "set-manual")]
    SetManual,
    /// Switch into passive mode.
    #[command(name = "set_passive", visible_alias = "set-passive")]
    SetPassive,
    /// Move an exclusive role to a host (or remove a balanced role from it).
    #[command(name = "move_role", visible_alias = "move-role")]
    MoveRole {
        /// Move the active-master role to a REPLICATION_FAIL/DELAY host. Only use --force if
        /// you know what you are doing!
        #[arg(long)]
        force: bool,
        /// Role name.
        role: String,
        /// Target host.
        host: String,
    },
    /// In passive mode, assign the role IP to a host.
    #[command(name = "set_ip", visible_alias = "set-ip")]
    SetIp {
        /// A role IP.
        ip: IpAddr,
        /// Target host.
        host: String,
    },
    /// Declare that a host cannot take writes any more (powered off, cut off from its
    /// clients), so a writer role held back until it is fenced may move. The monitors move
    /// the writer on their own only when its agent confirmed the drop, its MySQL was fenced
    /// over SQL, or kill_host_bin succeeded; use this only when you are sure, or two hosts may
    /// take writes.
    #[command(name = "confirm_fenced", visible_alias = "confirm-fenced")]
    ConfirmFenced {
        /// Host name.
        host: String,
    },
    /// Monitor cluster (Raft) status and membership.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Replicated history of state and role changes, newest last.
    History {
        /// At most this many entries (0 = the monitor's default).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script.
    Completions {
        /// Target shell.
        shell: CompletionShell,
    },
}

/// `mmmctl cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Leader, term, log positions and members.
    Status,
    /// The members only.
    Members,
    /// Add a monitor node (named in the config's `<monitor NAME>` sections) to the cluster.
    Add {
        /// Monitor node name.
        name: String,
    },
    /// Remove a monitor node from the cluster.
    Remove {
        /// Monitor node name.
        name: String,
    },
    /// Ask the leader to hand leadership to another node.
    #[command(name = "transfer-leader", visible_alias = "transfer_leader")]
    TransferLeader {
        /// Monitor node name.
        name: String,
    },
}

/// `mmmctl config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate a config file; print the effective cluster.
    Check {
        /// Validate as this program would.
        #[arg(long = "as", value_enum, default_value_t = ProgramArg::Monitor)]
        program: ProgramArg,
        /// The file to check.
        file: PathBuf,
    },
}

/// Program whose rules `config check` applies.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgramArg {
    /// mmm-mond.
    Monitor,
    /// mmm-agentd.
    Agent,
    /// mmmctl / mmm_control.
    Control,
}

/// Shells `completions` can target.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// Whether the raw arguments ask for JSON (`--json` before any `--`), so that even an
/// argument error can be reported as JSON.
pub fn wants_json(args: &[String]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

/// Moves mmm_control's leading `@CLUSTER` argument into `--cluster CLUSTER`, so clap sees
/// ordinary options. Only the first argument after the program name is considered, as in
/// mmm_control.
pub fn rewrite_cluster_arg(mut args: Vec<String>) -> Vec<String> {
    if let Some(first) = args.get(1)
        && let Some(name) = first.strip_prefix('@')
    {
        let name = name.to_string();
        args.splice(1..2, ["--cluster".to_string(), name]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn leading_at_becomes_cluster_option() {
        assert_eq!(
            rewrite_cluster_arg(strings(&["mmmctl", "@c2", "show"])),
            strings(&["mmmctl", "--cluster", "c2", "show"])
        );
        assert_eq!(
            rewrite_cluster_arg(strings(&["mmmctl", "show", "@x"])),
            strings(&["mmmctl", "show", "@x"])
        );
    }

    #[test]
    fn mmm_control_spellings_parse() {
        let cli = Cli::try_parse_from(["mmmctl", "move_role", "--force", "writer", "db2"])
            .expect("parses");
        assert!(matches!(cli.command, Command::MoveRole { force: true, .. }));
        let cli = Cli::try_parse_from(["mmmctl", "checks", "all", "mysql"]).expect("parses");
        assert!(matches!(cli.command, Command::Checks { .. }));
        assert!(Cli::try_parse_from(["mmmctl", "set_ip", "not-an-ip", "db1"]).is_err());
        assert!(Cli::try_parse_from(["mmmctl", "set_online"]).is_err());
    }
}
