//! How a daemon starts: find its mysql-mmm config file, install the TLS provider and the log
//! subscriber, run its async body on a runtime, and turn the outcome into an exit code.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mmm_core::config::{Config, ConfigKind, Program};

use crate::config::LoadOptions;
use crate::{fatal, logging};

/// The config file a daemon reads: `--config FILE` when given, else mysql-mmm's search path for
/// `kind` (with `@CLUSTER` picking `mmm_<kind>_CLUSTER.conf`).
pub fn config_path(
    explicit: Option<&Path>,
    cluster: Option<&str>,
    kind: ConfigKind,
) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(c) = cluster
        && !c.starts_with('@')
    {
        bail!("invalid cluster argument '{c}' (expected @NAME)");
    }
    crate::config::find_default(kind, cluster).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Finds the config file as [`config_path`] does and loads it for `program`: includes look
/// beside a file given with `--config` first, and follow mysql-mmm's search order for a file
/// found on the search path. `this_monitor` (mmm-mond's `--this`) stands in for the files'
/// `this_monitor`.
pub fn load_config(
    explicit: Option<&Path>,
    cluster: Option<&str>,
    kind: ConfigKind,
    program: Program,
    this_monitor: Option<&str>,
) -> anyhow::Result<(PathBuf, Config)> {
    let path = config_path(explicit, cluster, kind)?;
    let options = match explicit {
        Some(_) => LoadOptions::default(),
        None => LoadOptions::default().for_found_file(),
    }
    .as_monitor(this_monitor);
    let config = crate::config::load_with(&path, program, &options)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading {}", path.display()))?;
    Ok((path, config))
}

/// Runs a daemon's body: selects the one rustls crypto provider (ring), installs the log
/// subscriber (mysql-mmm's layout or JSON), and logs a failure at FATAL before exiting non-zero.
/// `workers` is the runtime's worker threads (at least one).
pub fn run_daemon<Fut>(log_json: bool, workers: usize, body: Fut) -> ExitCode
where
    Fut: Future<Output = anyhow::Result<()>>,
{
    let _ = rustls::crypto::ring::default_provider().install_default();
    logging::capture_local_offset();
    logging::init(log_json, false);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            fatal!("Can't start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fatal!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_wins_and_cluster_needs_an_at_sign() {
        let p = config_path(
            Some(Path::new("/x/y.conf")),
            Some("nope"),
            ConfigKind::Agent,
        );
        assert_eq!(p.unwrap(), PathBuf::from("/x/y.conf"));
        let err = config_path(None, Some("nope"), ConfigKind::Agent).unwrap_err();
        assert!(err.to_string().contains("expected @NAME"), "{err}");
    }
}
