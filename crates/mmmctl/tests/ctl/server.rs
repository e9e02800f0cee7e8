//! An in-process Control server with fixed replies, for the CLI's own concerns only
//! (argument handling, rendering, JSON, exit codes, leader following, timeouts).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mmm_core::state::HostState;
use mmm_proto::pb::control_server::{Control, ControlServer};
use mmm_proto::{convert, pb};
use tokio::net::TcpListener;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

/// How the fake monitor behaves.
#[derive(Clone)]
pub enum Behaviour {
    /// Answers everything from `Topology`.
    Leader(Topology),
    /// Refuses with UNAVAILABLE + `mmm-leader: ADDR`.
    Follower(String),
    /// A follower during a leader change: redirects to the first address for its first
    /// `usize` calls (a leader that died), then to the second (the newly elected one).
    Electing(String, usize, String),
    /// Refuses with UNAVAILABLE "no quorum".
    NoQuorum,
    /// Refuses like `NoQuorum`, but a `show` with `stale_ok` gets the topology's state from
    /// the named monitor at the given epoch, marked stale.
    NoQuorumStale(Topology, &'static str, u64),
    /// Sleeps this long before answering like a leader.
    Slow(Duration, Topology),
}

/// Which seed topology the fake leader reports.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Seed 000: db1/db2 masters, db3 slave, writer 192.168.1.200.
    Seed000,
    /// Seed 002: db1/db2 masters, db3/db4 slaves, writer 192.168.10.128.
    Seed002,
    /// Seed 000 in PASSIVE mode with an unreachable agent and a preferred role.
    Seed000Passive,
}

/// A running fake monitor.
pub struct FakeMonitor {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every call it received: the RPC name, then the command words.
    pub calls: Arc<Mutex<Vec<Vec<String>>>>,
}

impl FakeMonitor {
    /// `host:port` for `--monitor`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Calls received so far.
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// Starts a fake monitor on a free loopback port inside `rt`.
pub fn start(rt: &tokio::runtime::Runtime, behaviour: Behaviour) -> FakeMonitor {
    start_with(rt, behaviour, None)
}

/// PEM material of a mutual-TLS server: its certificate and key, and the CA clients need.
pub struct ServerTls {
    /// Server certificate.
    pub cert: Vec<u8>,
    /// Server key.
    pub key: Vec<u8>,
    /// CA that must have signed the client's certificate.
    pub client_ca: Vec<u8>,
}

/// Starts a fake monitor, with mutual TLS when `tls` is given.
pub fn start_with(
    rt: &tokio::runtime::Runtime,
    behaviour: Behaviour,
    tls: Option<ServerTls>,
) -> FakeMonitor {
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let service = Fake {
        behaviour,
        calls: calls.clone(),
    };
    rt.spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            let config = tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(tls.cert, tls.key))
                .client_ca_root(tonic::transport::Certificate::from_pem(tls.client_ca));
            builder = builder.tls_config(config).expect("server TLS config");
        }
        let _ = builder
            .add_service(ControlServer::new(service))
            .serve_with_incoming(incoming)
            .await;
    });
    FakeMonitor { addr, calls }
}

/// An address on loopback where nothing listens.
pub fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    addr.to_string()
}

/// UNAVAILABLE `message` with `mmm-leader: leader`.
fn redirect(leader: &str, message: &str) -> Status {
    let mut status = Status::unavailable(message.to_owned());
    if let Ok(value) = leader.parse::<MetadataValue<_>>() {
        status.metadata_mut().insert("mmm-leader", value);
    }
    status
}

struct Fake {
    behaviour: Behaviour,
    calls: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Fake {
    async fn gate(&self, call: Vec<String>) -> Result<Topology, Status> {
        let calls_before = match self.calls.lock() {
            Ok(mut c) => {
                c.push(call);
                c.len() - 1
            }
            Err(_) => 0,
        };
        match &self.behaviour {
            Behaviour::Leader(t) => Ok(*t),
            Behaviour::Follower(leader) => Err(redirect(leader, "not the leader")),
            Behaviour::Electing(old, n, new) => Err(redirect(
                if calls_before < *n { old } else { new },
                "no quorum: the leader is unreachable from this monitor",
            )),
            Behaviour::NoQuorum | Behaviour::NoQuorumStale(..) => {
                Err(Status::unavailable("no quorum: 1 of 3 monitors reachable"))
            }
            Behaviour::Slow(d, t) => {
                tokio::time::sleep(*d).await;
                Ok(*t)
            }
        }
    }
}

fn host(name: &str, ip: &str, mode: &str, state: &str, roles: &[(&str, &str)]) -> pb::HostView {
    pb::HostView {
        name: name.into(),
        ip: ip.into(),
        mode: mode.into(),
        state: convert::state_to_wire(state.parse::<HostState>().expect("state name")),
        roles: roles
            .iter()
            .map(|(r, i)| pb::RoleIp {
                role: (*r).into(),
                ip: (*i).into(),
            })
            .collect(),
        agent_down: false,
    }
}

fn show_reply(t: Topology) -> pb::ShowReply {
    match t {
        Topology::Seed000 | Topology::Seed000Passive => {
            let mut reply = pb::ShowReply {
                mode: "ACTIVE".into(),
                passive_cause: String::new(),
                // Config-file order with writer listed after reader: the CLI must sort.
                hosts: vec![
                    host(
                        "db2",
                        "192.168.1.187",
                        "master",
                        "ONLINE",
                        &[("writer", "192.168.1.200"), ("reader", "192.168.1.201")],
                    ),
                    host("db1", "192.168.1.186", "master", "ONLINE", &[]),
                    host(
                        "db3",
                        "192.168.1.184",
                        "slave",
                        "ONLINE",
                        &[("reader", "192.168.1.202")],
                    ),
                ],
                preferred: vec![],
                epoch: 7,
                ..Default::default()
            };
            if t == Topology::Seed000Passive {
                reply.mode = "PASSIVE".into();
                reply.passive_cause =
                    "Conflicting roles during startup:\nwriter(192.168.1.200) on db1, db2".into();
                reply.hosts[1].agent_down = true;
                reply.preferred = vec![pb::PreferredRoleView {
                    role: "writer".into(),
                    preferred_host: "db1".into(),
                    assigned_host: "db2".into(),
                }];
            }
            reply
        }
        Topology::Seed002 => pb::ShowReply {
            mode: "ACTIVE".into(),
            passive_cause: String::new(),
            hosts: vec![
                host(
                    "db1",
                    "192.168.10.131",
                    "master",
                    "ONLINE",
                    &[("writer", "192.168.10.128")],
                ),
                host("db2", "192.168.10.132", "master", "HARD_OFFLINE", &[]),
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
            preferred: vec![],
            epoch: 3,
            ..Default::default()
        },
    }
}

/// 2012/08/23 17:03:09 +08:00 (the seed's log time) in Unix seconds.
pub const SEED_CHANGE: i64 = 1_345_712_589;

fn hosts_of(t: Topology) -> Vec<&'static str> {
    match t {
        Topology::Seed002 => vec!["db1", "db2", "db3", "db4"],
        _ => vec!["db1", "db2", "db3"],
    }
}

fn checks_reply(t: Topology, host: &str, check: &str) -> pb::ChecksReply {
    let all_checks = ["ping", "mysql", "rep_threads", "rep_backlog"];
    if check != "all" && !all_checks.contains(&check) {
        return pb::ChecksReply {
            checks: vec![],
            error: format!("ERROR: Unknown check '{check}'!"),
        };
    }
    let hosts = hosts_of(t);
    if host != "all" && !hosts.contains(&host) {
        return pb::ChecksReply {
            checks: vec![],
            error: format!("ERROR: Unknown host name '{host}'!"),
        };
    }
    let mut checks = Vec::new();
    for h in hosts.iter().filter(|h| host == "all" || **h == host) {
        for c in all_checks.iter().filter(|c| check == "all" || **c == check) {
            let failed = *h == "db2" && *c == "mysql";
            checks.push(pb::CheckView {
                host: (*h).into(),
                check: (*c).into(),
                ok: !failed,
                last_change: SEED_CHANGE,
                message: if failed {
                    "ERROR: Connect error (host = 192.168.1.187:3308, user = mmm_monitor)! Lost connection to MySQL server at 'reading initial communication packet', system error: 111".into()
                } else {
                    "OK".into()
                },
            });
        }
    }
    pb::ChecksReply {
        checks,
        error: String::new(),
    }
}

fn command_reply(args: &[String]) -> pb::CommandReply {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, text) = match words.as_slice() {
        ["set_online", "db2"] => (
            true,
            "OK: State of 'db2' changed to ONLINE. Now you can wait some time and check its new roles!".to_string(),
        ),
        ["set_online", h] | ["set_offline", h] if !["db1", "db2", "db3"].contains(h) => {
            (false, format!("ERROR: Unknown host name '{h}'!"))
        }
        ["set_offline", h] => (
            true,
            format!("OK: State of '{h}' changed to ADMIN_OFFLINE. Now you can wait some time and check all roles!"),
        ),
        ["set_active"] => (true, "OK: Already in active mode.".to_string()),
        ["set_manual"] => (true, "OK: Switched into manual mode.".to_string()),
        ["set_passive"] => (true, "OK: Switched into passive mode.".to_string()),
        ["move_role", "--force", r, h] => (
            true,
            format!("OK: Role '{r}' has been moved from 'db1' to '{h}' enforcedly. Now you can wait some time and check new roles info!"),
        ),
        ["move_role", r, h] => (
            true,
            format!("OK: Role '{r}' has been moved from 'db2' to '{h}'. Now you can wait some time and check new roles info!"),
        ),
        ["set_ip", _, _] => (
            false,
            "ERROR: This command is only allowed in passive mode".to_string(),
        ),
        other => (false, format!("Invalid command '{}'", other.join(" "))),
    };
    pb::CommandReply { text, ok }
}

fn cluster_reply() -> pb::ClusterStatusReply {
    let member = |id: u64, name: &str, matched: Option<u64>| pb::MemberView {
        id,
        name: name.into(),
        address: format!("10.213.7.{}:9988", 10 + id),
        voter: true,
        matched,
        reachability: match id {
            1 => "self",
            2 => "reachable",
            _ => "unreachable",
        }
        .into(),
        last_contact_ms: (id == 2).then_some(120),
        error: if id == 3 {
            "connection refused".into()
        } else {
            String::new()
        },
    };
    pb::ClusterStatusReply {
        leader_id: 1,
        leader_name: "mon1".into(),
        term: 4,
        last_applied: 42,
        last_log: 43,
        members: vec![
            member(1, "mon1", Some(43)),
            member(2, "mon2", Some(43)),
            member(3, "mon3", None),
        ],
        epoch: 7,
        this_id: 1,
    }
}

#[tonic::async_trait]
impl Control for Fake {
    async fn ping(
        &self,
        _r: Request<pb::ControlPingRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        self.gate(vec!["ping".into()]).await?;
        Ok(Response::new(pb::CommandReply {
            text: "OK: Pinged successfully!".into(),
            ok: true,
        }))
    }

    async fn show(&self, r: Request<pb::ShowRequest>) -> Result<Response<pb::ShowReply>, Status> {
        if r.get_ref().stale_ok
            && let Behaviour::NoQuorumStale(t, name, epoch) = self.behaviour
        {
            self.gate(vec!["show".into(), "stale_ok".into()]).await.ok();
            let mut reply = show_reply(t);
            reply.stale = true;
            reply.stale_reason = "no quorum: this monitor knows no leader".into();
            reply.answered_by = name.into();
            reply.epoch = epoch;
            reply.failsafe = vec![pb::FailsafeView {
                host: "db2".into(),
                remaining_ms: 4000,
            }];
            return Ok(Response::new(reply));
        }
        let t = self.gate(vec!["show".into()]).await?;
        Ok(Response::new(show_reply(t)))
    }

    async fn checks(
        &self,
        r: Request<pb::ChecksRequest>,
    ) -> Result<Response<pb::ChecksReply>, Status> {
        let r = r.into_inner();
        let t = self
            .gate(vec!["checks".into(), r.host.clone(), r.check.clone()])
            .await?;
        Ok(Response::new(checks_reply(t, &r.host, &r.check)))
    }

    async fn command(
        &self,
        r: Request<pb::CommandRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let args = r.into_inner().args;
        let mut call = vec!["command".to_string()];
        call.extend(args.iter().cloned());
        self.gate(call).await?;
        Ok(Response::new(command_reply(&args)))
    }

    async fn cluster_status(
        &self,
        _r: Request<pb::ClusterStatusRequest>,
    ) -> Result<Response<pb::ClusterStatusReply>, Status> {
        self.gate(vec!["cluster_status".into()]).await?;
        Ok(Response::new(cluster_reply()))
    }

    async fn add_member(
        &self,
        r: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let name = r.into_inner().name;
        self.gate(vec!["add_member".into(), name.clone()]).await?;
        let known = ["mon1", "mon2", "mon3", "mon4"].contains(&name.as_str());
        Ok(Response::new(pb::CommandReply {
            text: if known {
                format!("OK: Added monitor '{name}'.")
            } else {
                format!("ERROR: Unknown monitor '{name}'!")
            },
            ok: known,
        }))
    }

    async fn remove_member(
        &self,
        r: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let name = r.into_inner().name;
        self.gate(vec!["remove_member".into(), name.clone()])
            .await?;
        Ok(Response::new(pb::CommandReply {
            text: format!("OK: Removed monitor '{name}'."),
            ok: true,
        }))
    }

    async fn transfer_leader(
        &self,
        r: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let name = r.into_inner().name;
        self.gate(vec!["transfer_leader".into(), name.clone()])
            .await?;
        Ok(Response::new(pb::CommandReply {
            text: format!("OK: Leadership handed to '{name}'."),
            ok: true,
        }))
    }

    async fn history(
        &self,
        r: Request<pb::HistoryRequest>,
    ) -> Result<Response<pb::HistoryReply>, Status> {
        let limit = r.into_inner().limit;
        self.gate(vec!["history".into(), limit.to_string()]).await?;
        Ok(Response::new(pb::HistoryReply {
            entries: vec![
                pb::HistoryEntry {
                    epoch: 6,
                    at_ms: 1_345_712_590_000,
                    line: "State of host 'db2' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)".into(),
                },
                pb::HistoryEntry {
                    epoch: 7,
                    at_ms: 1_345_712_590_500,
                    line: "Orphaned role 'reader(192.168.1.201)' has been assigned to 'db3'".into(),
                },
            ],
        }))
    }
}
