//! Executes one parsed command: builds the request, calls the monitors, prints the reply.

use mmm_proto::pb;
use mmm_proto::pb::control_client::ControlClient;
use time::UtcOffset;
use tonic::transport::Channel;

use crate::cli::{ClusterCommand, Command, GlobalOpts};
use crate::client::{CallFuture, Retry, Targets};
use crate::outcome::Failure;
use crate::views;

/// Runs a command that needs a monitor and returns what to print on success.
pub async fn remote(
    command: &Command,
    global: &GlobalOpts,
    targets: &Targets,
    offset: UtcOffset,
) -> Result<String, Failure> {
    let json = global.json;
    match command {
        Command::Ping => {
            let reply = targets
                .call(Retry::Safe, |mut c| {
                    Box::pin(async move { c.ping(pb::ControlPingRequest {}).await })
                })
                .await?;
            command_result(reply)
        }
        Command::Show => {
            let reply = show_or_stale(targets).await?;
            let text = if json {
                pretty(&views::show_json(&reply))
            } else if reply.stale {
                format!(
                    "{}{}",
                    views::stale_warning(&reply),
                    mmm_reply(&views::show_text(&reply))
                )
            } else {
                mmm_reply(&views::show_text(&reply))
            };
            if reply.stale {
                Err(Failure::Stale(text))
            } else {
                Ok(text)
            }
        }
        Command::Mode => {
            let reply = show(targets).await?;
            if json {
                Ok(pretty(&views::mode_json(&reply.mode)))
            } else {
                Ok(mmm_reply(&reply.mode))
            }
        }
        Command::Checks { host, check } => {
            let host = host.clone().unwrap_or_else(|| "all".into());
            let check = check.clone().unwrap_or_else(|| "all".into());
            let request = pb::ChecksRequest {
                host: host.clone(),
                check,
            };
            let reply = targets
                .call(Retry::Safe, move |mut c| {
                    let request = request.clone();
                    Box::pin(async move { c.checks(request).await })
                })
                .await?;
            if !reply.error.is_empty() {
                return Err(refused(&reply.error, json));
            }
            if json {
                Ok(pretty(&views::checks_json(&reply)))
            } else {
                Ok(mmm_reply(&views::checks_text(
                    &reply,
                    host != "all",
                    offset,
                )))
            }
        }
        Command::SetOnline { host } => admin(targets, &["set_online", host]).await,
        Command::SetOffline { host } => admin(targets, &["set_offline", host]).await,
        Command::SetActive => admin(targets, &["set_active"]).await,
        Command::SetManual => admin(targets, &["set_manual"]).await,
        Command::SetPassive => admin(targets, &["set_passive"]).await,
        Command::MoveRole { force, role, host } => {
            if *force {
                admin(targets, &["move_role", "--force", role, host]).await
            } else {
                admin(targets, &["move_role", role, host]).await
            }
        }
        Command::SetIp { ip, host } => admin(targets, &["set_ip", &ip.to_string(), host]).await,
        Command::ConfirmFenced { host } => admin(targets, &["confirm_fenced", host]).await,
        Command::Cluster(sub) => cluster(sub, json, targets).await,
        Command::History { limit } => {
            let limit = *limit;
            let reply = targets
                .call(Retry::Safe, move |mut c| {
                    Box::pin(async move { c.history(pb::HistoryRequest { limit }).await })
                })
                .await?;
            if json {
                Ok(pretty(&views::history_json(&reply)))
            } else {
                Ok(views::history_text(&reply, offset))
            }
        }
        Command::Help | Command::Config(_) | Command::Completions { .. } => Err(Failure::Usage(
            "ERROR: this command does not talk to a monitor".into(),
        )),
    }
}

async fn show(targets: &Targets) -> Result<pb::ShowReply, Failure> {
    targets
        .call(Retry::Safe, |mut c| {
            Box::pin(async move { c.show(pb::ShowRequest { stale_ok: false }).await })
        })
        .await
}

/// `show` from the leader; when no monitor can serve it with a quorum, the last state a
/// monitor knows, marked stale: of those that answer, the one with the highest epoch.
async fn show_or_stale(targets: &Targets) -> Result<pb::ShowReply, Failure> {
    let failure = match show(targets).await {
        Err(failure @ Failure::Unreachable(_)) => failure,
        other => return other,
    };
    let answers = targets
        .ask_each(|mut c| Box::pin(async move { c.show(pb::ShowRequest { stale_ok: true }).await }))
        .await;
    newest_stale(answers).ok_or(failure)
}

/// The stale answer with the highest epoch (the first of equals, in the configured order).
fn newest_stale(answers: Vec<(String, Result<pb::ShowReply, String>)>) -> Option<pb::ShowReply> {
    let mut best: Option<pb::ShowReply> = None;
    for reply in answers.into_iter().filter_map(|(_, a)| a.ok()) {
        if best.as_ref().is_none_or(|b| reply.epoch > b.epoch) {
            best = Some(reply);
        }
    }
    best
}

async fn admin(targets: &Targets, args: &[&str]) -> Result<String, Failure> {
    let request = pb::CommandRequest {
        args: args.iter().map(|s| (*s).to_string()).collect(),
    };
    let reply = targets
        .call(Retry::OnlyIfNotSent, move |mut c| {
            let request = request.clone();
            Box::pin(async move { c.command(request).await })
        })
        .await?;
    command_result(reply)
}

async fn cluster(sub: &ClusterCommand, json: bool, targets: &Targets) -> Result<String, Failure> {
    match sub {
        ClusterCommand::Status | ClusterCommand::Members => {
            let reply = cluster_status(targets).await?;
            let members_only = matches!(sub, ClusterCommand::Members);
            Ok(match (json, members_only) {
                (true, false) => pretty(&views::cluster_json(&reply)),
                (true, true) => pretty(&views::members_only_json(&reply)),
                (false, false) => views::cluster_text(&reply),
                (false, true) => views::members_text(&reply),
            })
        }
        ClusterCommand::Add { name } => {
            let name = name.clone();
            let reply = targets
                .call(Retry::OnlyIfNotSent, move |mut c| {
                    let name = name.clone();
                    Box::pin(async move { c.add_member(pb::AddMemberRequest { name }).await })
                })
                .await?;
            command_result(reply)
        }
        ClusterCommand::Remove { name } => {
            let name = name.clone();
            let reply = targets
                .call(Retry::OnlyIfNotSent, move |mut c| {
                    let name = name.clone();
                    Box::pin(async move { c.remove_member(pb::RemoveMemberRequest { name }).await })
                })
                .await?;
            command_result(reply)
        }
        ClusterCommand::TransferLeader { name } => {
            let name = name.clone();
            let reply = targets
                .call(Retry::OnlyIfNotSent, move |mut c| {
                    let name = name.clone();
                    Box::pin(
                        async move { c.transfer_leader(pb::TransferLeaderRequest { name }).await },
                    )
                })
                .await?;
            command_result(reply)
        }
    }
}

/// `ClusterStatus` as the leader sees it when the leader answers (only it knows every
/// member's replication and reachability), else as the first monitor that answers sees it.
async fn cluster_status(targets: &Targets) -> Result<pb::ClusterStatusReply, Failure> {
    let ask = |mut c: ControlClient<Channel>| -> CallFuture<pb::ClusterStatusReply> {
        Box::pin(async move { c.cluster_status(pb::ClusterStatusRequest {}).await })
    };
    let reply = targets.call(Retry::Safe, ask).await?;
    if reply.leader_id == 0 || reply.leader_id == reply.this_id {
        return Ok(reply);
    }
    let Some(leader) = reply.members.iter().find(|m| m.id == reply.leader_id) else {
        return Ok(reply);
    };
    let only_leader = Targets {
        addresses: vec![leader.address.clone()],
        ..targets.clone()
    };
    match only_leader.call(Retry::Safe, ask).await {
        Ok(from_leader) if from_leader.this_id == reply.leader_id => Ok(from_leader),
        _ => Ok(reply),
    }
}

/// A `CommandReply` printed the way mmm_control prints any reply.
fn command_result(reply: pb::CommandReply) -> Result<String, Failure> {
    if reply.ok {
        Ok(mmm_reply(&reply.text))
    } else {
        Err(Failure::Refused(mmm_reply(&reply.text)))
    }
}

fn refused(message: &str, json: bool) -> Failure {
    if json {
        Failure::Refused(pretty(&views::error_json(message)))
    } else {
        Failure::Refused(mmm_reply(message))
    }
}

/// mmm_control printed the monitor's reply followed by one newline.
fn mmm_reply(text: &str) -> String {
    format!("{text}\n")
}

fn pretty(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}
