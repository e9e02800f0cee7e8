//! The leader's vocabulary: what its driver tells it ([`Event`]) and what it asks its
//! driver to do ([`Effect`]).
//!
//! Every effect that expects an answer carries a [`CallId`]; the driver answers it with
//! exactly one event naming that id. Client requests carry the driver's [`RequestId`] and
//! get exactly one [`Effect::Reply`].
//!
//! The vocabulary grows in the same shape: another kind of I/O the leader needs (fencing a
//! host's MySQL itself, a kill-host hook) is an effect with a [`CallId`] answered by one
//! event; what an agent reports grows in [`StatusReport`] and becomes per-host facts in the
//! machine; what a push carries is [`StatusPush`], and when and to whom pushes go is decided
//! in one place (the machine's push bookkeeping).

use std::net::IpAddr;
use std::time::Duration;

use crate::admin::Reply;
use crate::agent::lease::LeaseBasis;
use crate::checks::{CheckKind, CheckStatus, MonitorTable};
use crate::command::{Command, Outcome};
use crate::desired::AgentStatus;
use crate::log::LogLine;
use crate::state::{ClusterState, HostState, RoleIp};
use crate::time::Timestamp;

/// A monitor's Raft node id.
pub type NodeId = u64;

/// The two clocks of one step: the wall clock for everything that is replicated or
/// compared with replicated times, and a monotonic clock for the leader's own timers
/// (re-push intervals, call deadlines, election holds), which never jumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Wall-clock time (milliseconds since the Unix epoch).
    pub wall: Timestamp,
    /// Monotonic time since an arbitrary origin.
    pub mono: Duration,
}

impl Now {
    /// Both clocks at `wall` (scenarios and the simulator, whose clock never jumps).
    pub fn at(wall: Timestamp) -> Now {
        Now {
            wall,
            mono: Duration::from_millis(wall.as_millis()),
        }
    }
}

/// Names one effect that expects an answer (a proposal, an agent call, a peer message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// Names one client request; chosen by the driver, answered by one [`Effect::Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// The replicated state as applied on this monitor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replica {
    /// Raft index of the last applied entry (orders replicas; 0 before anything).
    pub index: u64,
    /// The cluster state; None before the first command was applied.
    pub state: Option<ClusterState>,
}

/// Something the leader must know about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Time passed (the driver ticks every few tens of milliseconds).
    Tick,
    /// This node's Raft role or term changed, or it learnt of another leader.
    Leadership {
        /// This node leads.
        leading: bool,
        /// Current Raft term.
        term: u64,
        /// The leader as this node knows it.
        leader: Option<NodeId>,
    },
    /// A quorum acknowledged this leader recently (true) or not (false).
    QuorumFreshness {
        /// Acknowledged within the freshness window.
        fresh: bool,
    },
    /// This monitor's own network self-check changed.
    Network {
        /// The network is usable.
        ok: bool,
    },
    /// Raft applied entries on this monitor.
    Applied(Replica),
    /// A monitor's check table arrived (the leader's own included).
    Observations {
        /// Sender.
        monitor: NodeId,
        /// Its table.
        table: MonitorTable,
    },
    /// A proposal was committed and applied here.
    Committed {
        /// The [`Effect::Propose`] it answers.
        proposal: CallId,
        /// What applying it did.
        outcome: Outcome,
        /// The replica after it.
        replica: Replica,
    },
    /// A proposal was not committed (not the leader, timeout).
    ProposalFailed {
        /// The [`Effect::Propose`] it answers.
        proposal: CallId,
        /// Why.
        error: String,
    },
    /// An agent call finished.
    AgentAnswered {
        /// The [`Effect::Call`] it answers.
        call: CallId,
        /// The host called.
        host: String,
        /// The answer or why there was none.
        result: Result<AgentAnswer, CallFailure>,
    },
    /// Another monitor answered an [`Effect::AskPeer`].
    PeerAnswered {
        /// The ask.
        call: CallId,
        /// Ok, or the error the call met.
        result: Result<(), String>,
    },
    /// An [`Effect::FenceMysql`] finished.
    MysqlFenced {
        /// The fence it answers.
        call: CallId,
        /// The host fenced.
        host: String,
        /// What the fence did, or why it failed (the server may be in any state).
        result: Result<SqlFenced, String>,
    },
    /// An [`Effect::KillHost`] finished.
    HostKilled {
        /// The run it answers.
        call: CallId,
        /// The host.
        host: String,
        /// How the command ended.
        outcome: KillOutcome,
    },
    /// An [`Effect::RunPreFailoverHook`] finished.
    PreFailoverHookRan {
        /// The run it answers.
        call: CallId,
        /// How the hook ended.
        outcome: HookOutcome,
    },
    /// An [`Effect::RunPostChangeHook`] finished.
    PostChangeHookRan {
        /// The run it answers.
        call: CallId,
        /// How the hook ended.
        outcome: HookOutcome,
    },
    /// An [`Effect::AwaitCaughtUp`] finished.
    CaughtUp {
        /// The wait.
        call: CallId,
        /// Ok, or why the monitor did not catch up.
        result: Result<(), String>,
    },
    /// An [`Effect::Campaign`] finished.
    Campaigned {
        /// Ok, or why the election could not be started.
        result: Result<(), String>,
    },
    /// A client request (mmmctl through the Control service).
    Request {
        /// The driver's id for the reply.
        id: RequestId,
        /// What is asked.
        request: Request,
    },
}

/// Something the driver must do for the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Propose commands to Raft (at most one proposal is ever in flight); answered by
    /// [`Event::Committed`] or [`Event::ProposalFailed`].
    Propose {
        /// Names the proposal.
        id: CallId,
        /// The commands, applied all or none.
        commands: Vec<Command>,
    },
    /// Call one host's agent, bounded by `agent_timeout`; answered by
    /// [`Event::AgentAnswered`].
    Call {
        /// Names the call.
        id: CallId,
        /// Host whose agent is called.
        host: String,
        /// The request.
        call: AgentCall,
    },
    /// Send another monitor a leader-transfer message; answered by [`Event::PeerAnswered`].
    AskPeer {
        /// Names the message.
        id: CallId,
        /// The monitor.
        node: NodeId,
        /// What it is asked.
        ask: PeerAsk,
    },
    /// Wait until monitor `node` has replicated this leader's whole log (a transfer's
    /// successor must be able to win the election it is asked to start); answered by
    /// [`Event::CaughtUp`].
    AwaitCaughtUp {
        /// Names the wait.
        id: CallId,
        /// The monitor.
        node: NodeId,
    },
    /// Fence `host`'s MySQL over SQL with the hosts' `agent_user` credentials: store
    /// `epoch` as its fencing epoch, set read_only=1, kill client sessions, read back
    /// (`mmm_mysql::fence::fence_server`), bounded by `agent_timeout`; answered by
    /// [`Event::MysqlFenced`].
    FenceMysql {
        /// Names the fence.
        id: CallId,
        /// The host.
        host: String,
        /// The fencing epoch to store (the writer release's epoch).
        epoch: u64,
    },
    /// Run `kill_host_bin HOST PING` (mysql-mmm's STONITH hook; PING is 1 when the host
    /// answers ping), bounded by [`Timing::kill_host_timeout`]; answered by
    /// [`Event::HostKilled`].
    ///
    /// [`Timing::kill_host_timeout`]: super::Timing::kill_host_timeout
    KillHost {
        /// Names the run.
        id: CallId,
        /// The host.
        host: String,
        /// Whether the host answers ping (mysql-mmm's second argument).
        ping_ok: bool,
    },
    /// Run `pre_failover_hook HOST EPOCH` (with `MMM_HOOK=pre_failover`, `MMM_ROLE`,
    /// `MMM_FAILED_HOST`, `MMM_EPOCH` and `MMM_TARGET` in its environment), bounded by the
    /// monitor's `hook_timeout`; answered by [`Event::PreFailoverHookRan`].
    RunPreFailoverHook {
        /// Names the run.
        id: CallId,
        /// The host the writer role was released from.
        host: String,
        /// The role instance, as the log names it (`writer(10.0.0.100)` or `writer`).
        role: String,
        /// The release's epoch.
        epoch: u64,
        /// Where an operator asked it to go (`""` when nobody did).
        target: String,
    },
    /// Run `post_change_hook EPOCH` (with `MMM_HOOK=post_change`, `MMM_EPOCH`,
    /// `MMM_CHANGES`, `MMM_ROLES` and `MMM_WRITER` in its environment), bounded by the
    /// monitor's `hook_timeout`; answered by [`Event::PostChangeHookRan`].
    RunPostChangeHook {
        /// Names the run.
        id: CallId,
        /// The epoch.
        epoch: u64,
        /// Its history lines, one per line.
        changes: String,
        /// Every host's state and roles now (`db1=ONLINE:writer(…),reader(…) db2=…`).
        roles: String,
        /// The host holding the active-master role now (`""` when none does).
        writer: String,
    },
    /// Start a Raft election now; answered by [`Event::Campaigned`].
    Campaign,
    /// Set Raft's heartbeat and election switches (the only place that flips them).
    SetElections(Switches),
    /// Answer a client request.
    Reply {
        /// The request.
        id: RequestId,
        /// The answer.
        answer: Answer,
    },
    /// Log a line.
    Log(LogLine),
}

/// Raft's two runtime switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switches {
    /// The leader sends heartbeats.
    pub heartbeat: bool,
    /// This node may start elections when it hears no leader.
    pub elect: bool,
}

impl Switches {
    /// Both on: Raft as configured.
    pub const ON: Switches = Switches {
        heartbeat: true,
        elect: true,
    };
}

/// Messages of a leadership transfer (openraft 0.9 has none of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAsk {
    /// A bystander: do not compete for leadership during the transfer window.
    HoldElections,
    /// The successor: campaign until you win or the window closes.
    Campaign,
}

/// The leader's authority as every state-changing agent request carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    /// Fencing epoch of the state the request comes from.
    pub epoch: u64,
    /// Raft term of the sender (diagnostics).
    pub term: u64,
    /// Node id of the sender (diagnostics).
    pub leader_id: NodeId,
}

/// One desired status as pushed to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPush {
    /// What the agent must hold (carries the epoch).
    pub status: AgentStatus,
    /// Raft term of the sender.
    pub term: u64,
    /// Node id of the sender.
    pub leader_id: NodeId,
    /// How long the writer lease lasts on the agent, counted from `basis`.
    pub lease: Duration,
    /// Echo of the agent's latest clock reading (none before any): the agent counts the
    /// lease from it, a moment before this push was sent.
    pub basis: Option<LeaseBasis>,
}

impl StatusPush {
    /// The fence the push carries.
    pub fn fence(&self) -> Fence {
        Fence {
            epoch: self.status.epoch,
            term: self.term,
            leader_id: self.leader_id,
        }
    }
}

/// One agent RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCall {
    /// SET_STATUS: the desired status with epoch and lease.
    SetStatus(StatusPush),
    /// GET_AGENT_STATUS: the agent's own view (startup vote).
    GetStatus,
    /// GET_SYSTEM_STATUS: the real system (startup vote).
    GetSystemStatus,
    /// CLEAR_BAD_ROLES (startup cleanup).
    ClearBadRoles(Fence),
    /// PING before admin commands.
    Ping,
}

/// What an agent answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAnswer {
    /// To SET_STATUS.
    Status(StatusReport),
    /// To GET_AGENT_STATUS.
    Agent(AgentView),
    /// To GET_SYSTEM_STATUS.
    System(SystemView),
    /// To CLEAR_BAD_ROLES: mysql-mmm's reply text.
    Cleared(String),
    /// To PING.
    Pong,
}

/// The agent's answer to a status push.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusReport {
    /// Epoch the agent stores now.
    pub epoch: u64,
    /// MySQL accepts writes after the change.
    pub writable: bool,
    /// Role IPs on the interface after the change.
    pub present: Vec<RoleIp>,
    /// Actions that failed and will be retried, in mysql-mmm's wording.
    pub errors: Vec<String>,
    /// The host's OS uptime, when known.
    pub uptime: Option<Duration>,
    /// The agent process and its clock when it built the answer (echoed in later pushes).
    pub basis: Option<LeaseBasis>,
    /// Highest epoch at which the agent's writer lease ran out.
    pub writer_ran_out_epoch: Option<u64>,
    /// The server's own lease timer is usable (event scheduler ON, event in place): this agent
    /// process grants a writer lease only after arming it, so the server fences itself when
    /// the lease runs out even without the agent.
    pub server_timer_on: bool,
}

/// The agent's own view (GET_AGENT_STATUS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentView {
    /// State the agent holds (None: a name it did not know).
    pub state: Option<HostState>,
    /// Roles the agent holds.
    pub roles: Vec<RoleIp>,
}

/// The real system (GET_SYSTEM_STATUS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemView {
    /// MySQL answered and accepts writes.
    pub writable: bool,
    /// Role IPs configured on the interface.
    pub present: Vec<RoleIp>,
    /// Master_Host of the host's replication, if it is a slave of something.
    pub master_ip: Option<IpAddr>,
}

/// What a successful SQL fence left in the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlFenced {
    /// The fencing epoch the server stores now (≥ the one asked for).
    pub epoch: u64,
    /// Client sessions killed.
    pub killed: usize,
}

/// How an operator's command (`kill_host_bin`, a hook) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillOutcome {
    /// Its exit code; None when it did not run, timed out or died of a signal.
    pub code: Option<i32>,
    /// Its stdout and stderr (or why it did not run).
    pub output: String,
}

/// How a hook run ended (the same facts as a `kill_host_bin` run).
pub type HookOutcome = KillOutcome;

/// Why an agent call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The driver did not send it (it found the quorum stale right before the call).
    NotSent(String),
    /// The agent answered with an error (it is reachable).
    Refused(String),
    /// No answer: transport failure or timeout.
    Unreachable(String),
}

impl CallFailure {
    /// The error text.
    pub fn message(&self) -> &str {
        match self {
            CallFailure::NotSent(e) | CallFailure::Refused(e) | CallFailure::Unreachable(e) => e,
        }
    }
}

/// A client request the leader answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// An mmm_control command line (`set_online db1`, `show` is served elsewhere).
    Command(Vec<String>),
    /// `checks [host|all [check|all]]` on the merged table ("" means all).
    Checks {
        /// Host name, `all` or "".
        host: String,
        /// Check name, `all` or "".
        check: String,
    },
    /// Hand leadership to another monitor (on the leader).
    Transfer {
        /// The successor.
        to: NodeId,
    },
    /// A transfer to another monitor is under way: hold elections for a while.
    HoldElections,
    /// This monitor was chosen as successor: campaign for a while.
    Campaign,
}

/// The leader's answer to a client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// mmm_control's reply text.
    Reply(Reply),
    /// The merged check rows, or mmm_control's error for an unknown host or check.
    Checks(Result<Vec<CheckRow>, String>),
    /// The leader cannot serve it now ("no quorum: …").
    Unavailable(String),
}

/// One row of `checks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    /// Host name.
    pub host: String,
    /// The check.
    pub check: CheckKind,
    /// Its merged status, None while unknown.
    pub status: Option<CheckStatus>,
}
