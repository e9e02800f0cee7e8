//! Running the operator's commands — mysql-mmm's `kill_host_bin` and the pre-failover hook —
//! as the leader's driver does: stdin closed, stdout and stderr captured, killed when it runs
//! past its timeout, the outcome logged.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mmm_core::leader::KillOutcome;

/// Runs `bin args…` with `env` added, killed after `timeout`; never fails, the outcome says
/// what happened.
pub async fn run_command(
    bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> KillOutcome {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let outcome = match cmd.spawn() {
        Err(e) => KillOutcome {
            code: None,
            output: format!("could not run '{}': {e}", bin.display()),
        },
        Ok(child) => match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Err(_) => KillOutcome {
                code: None,
                output: format!("killed after {timeout:?} without exiting"),
            },
            Ok(Err(e)) => KillOutcome {
                code: None,
                output: format!("waiting for it failed: {e}"),
            },
            Ok(Ok(out)) => KillOutcome {
                code: out.status.code(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            },
        },
    };
    tracing::info!(
        command = %bin.display(),
        ?args,
        code = ?outcome.code,
        output = %outcome.output.trim(),
        "operator command ran"
    );
    outcome
}

/// Runs the pre-failover hook `bin HOST EPOCH` with its facts in the environment.
pub async fn pre_failover(bin: &Path, facts: &PreFailoverFacts, timeout: Duration) -> KillOutcome {
    let epoch = facts.epoch.to_string();
    let env = [
        ("MMM_HOOK", "pre_failover"),
        ("MMM_ROLE", facts.role.as_str()),
        ("MMM_FAILED_HOST", facts.host.as_str()),
        ("MMM_EPOCH", epoch.as_str()),
        ("MMM_TARGET", facts.target.as_str()),
    ];
    run_command(bin, &[facts.host.as_str(), epoch.as_str()], &env, timeout).await
}

/// Runs the post-change hook `bin EPOCH` with its facts in the environment.
pub async fn post_change(bin: &Path, facts: &PostChangeFacts, timeout: Duration) -> KillOutcome {
    let epoch = facts.epoch.to_string();
    let env = [
        ("MMM_HOOK", "post_change"),
        ("MMM_EPOCH", epoch.as_str()),
        ("MMM_CHANGES", facts.changes.as_str()),
        ("MMM_ROLES", facts.roles.as_str()),
        ("MMM_WRITER", facts.writer.as_str()),
    ];
    run_command(bin, &[epoch.as_str()], &env, timeout).await
}

/// What the post-change hook is told.
#[derive(Debug, Clone)]
pub struct PostChangeFacts {
    /// The epoch.
    pub epoch: u64,
    /// Its history lines, one per line.
    pub changes: String,
    /// Every host's state and roles now.
    pub roles: String,
    /// The host holding the active-master role now (`""` when none does).
    pub writer: String,
}

/// What the pre-failover hook is told.
#[derive(Debug, Clone)]
pub struct PreFailoverFacts {
    /// The host the writer role was released from.
    pub host: String,
    /// The role instance (`writer(10.0.0.100)` or `writer`).
    pub role: String,
    /// The release's epoch.
    pub epoch: u64,
    /// Where an operator asked it to go (`""` when nobody did).
    pub target: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("hook");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    fn facts() -> PreFailoverFacts {
        PreFailoverFacts {
            host: "db1".into(),
            role: "writer(10.0.0.100)".into(),
            epoch: 7,
            target: String::new(),
        }
    }

    #[tokio::test]
    async fn the_hook_gets_its_facts_and_its_exit_code_and_output_come_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = script(
            dir.path(),
            "echo \"$1 $2 $MMM_HOOK $MMM_ROLE $MMM_FAILED_HOST $MMM_EPOCH\"; exit 3",
        );
        let out = pre_failover(&bin, &facts(), Duration::from_secs(5)).await;
        assert_eq!(out.code, Some(3));
        assert_eq!(
            out.output.trim(),
            "db1 7 pre_failover writer(10.0.0.100) db1 7"
        );
    }

    #[tokio::test]
    async fn the_post_change_hook_gets_the_epoch_its_changes_and_the_roles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = script(
            dir.path(),
            "echo \"$1 $MMM_HOOK $MMM_EPOCH $MMM_WRITER\"; echo \"$MMM_CHANGES\"; echo \"$MMM_ROLES\"",
        );
        let facts = PostChangeFacts {
            epoch: 9,
            changes: "line one\nline two".into(),
            roles: "db1=ONLINE:writer(10.0.0.100) db2=ONLINE:".into(),
            writer: "db1".into(),
        };
        let out = post_change(&bin, &facts, Duration::from_secs(5)).await;
        assert_eq!(out.code, Some(0));
        assert_eq!(
            out.output,
            "9 post_change 9 db1\nline one\nline two\ndb1=ONLINE:writer(10.0.0.100) db2=ONLINE:\n"
        );
    }

    #[tokio::test]
    async fn a_hung_or_missing_hook_has_no_exit_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = script(dir.path(), "sleep 30");
        let out = pre_failover(&bin, &facts(), Duration::from_millis(200)).await;
        assert_eq!(out.code, None);
        assert!(out.output.contains("killed after"), "{}", out.output);
        let missing =
            pre_failover(&dir.path().join("nope"), &facts(), Duration::from_secs(1)).await;
        assert_eq!(missing.code, None);
        assert!(
            missing.output.contains("could not run"),
            "{}",
            missing.output
        );
    }
}
