//! Finding the monitors: `--monitor` addresses, or the monitor nodes of the config file.

use std::time::Duration;

use mmm_core::config::Config;

use crate::cli::GlobalOpts;
use mmm_daemon::tls::Tls;

use crate::client::Targets;
use crate::configfile::{self, ConfigFile};
use crate::outcome::Failure;

/// Default Control port (mysql-mmm's monitor port).
pub const DEFAULT_PORT: u16 = 9988;

/// The monitors to try, from the options and (unless `--monitor` alone suffices) the config.
pub fn targets(global: &GlobalOpts) -> Result<Targets, Failure> {
    let connect_timeout = seconds(global.connect_timeout, "--connect-timeout")?;
    let call_timeout = seconds(global.timeout, "--timeout")?;
    if !global.monitors.is_empty() {
        let addresses = global
            .monitors
            .iter()
            .map(|m| normalize(m))
            .collect::<Result<Vec<_>, _>>()?;
        // A config named explicitly still supplies TLS settings.
        let (config_file, tls) = match &global.config {
            Some(path) => {
                let cfg = configfile::load_control(&explicit(path))?;
                (Some(path.clone()), tls_of(&cfg)?)
            }
            None => (None, None),
        };
        return Ok(Targets {
            addresses,
            config_file,
            tls,
            connect_timeout,
            call_timeout,
        });
    }
    let file = match &global.config {
        Some(p) => explicit(p),
        None => configfile::default_path(global.cluster.as_deref())?,
    };
    let cfg = configfile::load_control(&file)?;
    let path = file.path;
    let addresses = addresses_of(&cfg);
    if addresses.is_empty() {
        return Err(Failure::Usage(format!(
            "ERROR: {} names no monitor. Add a <monitor> section (ip, port) or <monitor NAME> sections, or use --monitor HOST:PORT.",
            path.display()
        )));
    }
    Ok(Targets {
        addresses,
        config_file: Some(path),
        tls: tls_of(&cfg)?,
        connect_timeout,
        call_timeout,
    })
}

fn explicit(path: &std::path::Path) -> ConfigFile {
    ConfigFile {
        path: path.to_path_buf(),
        found: false,
    }
}

/// Control addresses of every monitor node, else of the classic `<monitor>` section.
pub fn addresses_of(cfg: &Config) -> Vec<String> {
    if !cfg.monitor_nodes.is_empty() {
        return cfg
            .monitor_nodes
            .iter()
            .map(|n| join(&n.ip.to_string(), n.port))
            .collect();
    }
    cfg.monitor
        .iter()
        .map(|m| join(&m.ip.to_string(), m.port))
        .collect()
}

/// The TLS settings of `cfg`'s `<socket>`, read now (once for the whole run).
fn tls_of(cfg: &Config) -> Result<Option<Tls>, Failure> {
    Tls::from_config(cfg).map_err(|e| {
        Failure::Usage(format!(
            "ERROR: Can't use the TLS files: {e}. Fix the <socket> section of the config."
        ))
    })
}

fn join(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `HOST[:PORT]` with the default port added; IPv6 literals need brackets for a port.
pub fn normalize(addr: &str) -> Result<String, Failure> {
    let addr = addr.trim();
    let bad = || {
        Failure::Usage(format!(
            "ERROR: '{addr}' is not a monitor address. Use HOST:PORT, e.g. 10.0.0.5:9988 or [fd00::5]:9988."
        ))
    };
    if addr.is_empty() || addr.contains('/') || addr.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        return match tail {
            "" => Ok(join(host, DEFAULT_PORT)),
            t => {
                let port: u16 = t
                    .strip_prefix(':')
                    .ok_or_else(bad)?
                    .parse()
                    .map_err(|_| bad())?;
                Ok(join(host, port))
            }
        };
    }
    if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(join(addr, DEFAULT_PORT));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) => {
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.is_empty() || port == 0 {
                return Err(bad());
            }
            Ok(join(host, port))
        }
        None => Ok(join(addr, DEFAULT_PORT)),
    }
}

fn seconds(value: f64, flag: &str) -> Result<Duration, Failure> {
    if value.is_finite() && value > 0.0 && value <= 3600.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Failure::Usage(format!(
            "ERROR: {flag} {value} is out of range: give more than 0 and at most 3600 seconds (e.g. 0.5 or 5)."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_default_ports_and_brackets() {
        assert_eq!(normalize("10.0.0.5").ok(), Some("10.0.0.5:9988".into()));
        assert_eq!(
            normalize("10.0.0.5:1234").ok(),
            Some("10.0.0.5:1234".into())
        );
        assert_eq!(normalize("mon1").ok(), Some("mon1:9988".into()));
        assert_eq!(normalize("::1").ok(), Some("[::1]:9988".into()));
        assert_eq!(normalize("[::1]:7").ok(), Some("[::1]:7".into()));
        for bad in [
            "",
            "a:b",
            ":9",
            "h:0",
            "h:70000",
            "[::1",
            "[x]:1",
            "http://h:1",
            "a b",
        ] {
            assert!(normalize(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert!(seconds(1.0, "--timeout").is_ok());
        assert!(seconds(0.0, "--timeout").is_err());
        assert!(seconds(f64::NAN, "--timeout").is_err());
        assert!(seconds(-1.0, "--timeout").is_err());
        assert!(seconds(3600.0, "--timeout").is_ok());
        assert!(seconds(3600.5, "--timeout").is_err());
        match seconds(0.0, "--timeout") {
            Err(Failure::Usage(m)) => assert_eq!(
                m,
                "ERROR: --timeout 0 is out of range: give more than 0 and at most 3600 seconds (e.g. 0.5 or 5)."
            ),
            other => panic!("{other:?}"),
        }
    }
}
