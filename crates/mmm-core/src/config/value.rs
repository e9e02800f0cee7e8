//! Parsers for the value types the directives take. Each returns a reason on failure; the
//! caller adds the key, value and location.

use std::net::IpAddr;
use std::time::Duration;

/// The words mysql-mmm accepts as booleans, in its order.
pub(crate) const BOOLEAN_WORDS: &str = "true, on, yes, 1, false, off, no, 0";

/// `true/on/yes/1` or `false/off/no/0`, case-insensitive.
pub(crate) fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("allowed values are: {BOOLEAN_WORDS}")),
    }
}

/// Seconds as mysql-mmm writes them, with an optional fraction (`5`, `0.2`, `1.25`);
/// exact to the nanosecond, never negative.
pub(crate) fn seconds(text: &str) -> Result<Duration, String> {
    if text.starts_with('-') {
        return Err("a duration in seconds must not be negative".to_owned());
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err("expected a number of seconds such as 5 or 0.5".to_owned());
    }
    if fraction.len() > 9 {
        return Err("at most nine decimal places (nanoseconds) are supported".to_owned());
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "too many seconds".to_owned())?
    };
    let nanos = if fraction.is_empty() {
        0
    } else {
        let padded = format!("{fraction:0<9}");
        padded
            .parse::<u32>()
            .map_err(|_| "expected a number of seconds such as 5 or 0.5".to_owned())?
    };
    Ok(Duration::new(secs, nanos))
}

/// Seconds that must be more than zero.
pub(crate) fn positive_seconds(text: &str) -> Result<Duration, String> {
    let duration = seconds(text)?;
    if duration.is_zero() {
        return Err("must be more than zero seconds".to_owned());
    }
    Ok(duration)
}

/// A non-negative whole number.
pub(crate) fn unsigned<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    if text.starts_with('-') {
        return Err("must not be negative".to_owned());
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a whole number".to_owned());
    }
    text.parse().map_err(|_| "number too large".to_owned())
}

/// A TCP port, 1 to 65535.
pub(crate) fn port(text: &str) -> Result<u16, String> {
    match unsigned::<u16>(text) {
        Ok(0) => Err("a port must be between 1 and 65535".to_owned()),
        Ok(port) => Ok(port),
        Err(_) => Err("a port must be between 1 and 65535".to_owned()),
    }
}

/// An IPv4 or IPv6 address literal.
pub(crate) fn ip(text: &str) -> Result<IpAddr, String> {
    text.parse().map_err(|_| "not an IP address".to_owned())
}

/// A comma-separated list, items trimmed (mysql-mmm's `split /\s*,\s*/`); an empty item
/// is refused instead of being kept as an empty name.
pub(crate) fn list(text: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = text.split(',').map(|item| item.trim().to_owned()).collect();
    if items.iter().any(String::is_empty) {
        return Err("the list has an empty item (stray comma?)".to_owned());
    }
    Ok(items)
}

/// Every item of a list parsed with `item`; the first failure names its item.
pub(crate) fn list_of<T>(
    text: &str,
    item: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    list(text)?
        .iter()
        .map(|value| item(value).map_err(|why| format!("'{value}': {why}")))
        .collect()
}

/// Formats a duration as seconds the way the config writes it (`5`, `0.2`, `1.25`).
pub(crate) fn format_seconds(duration: Duration) -> String {
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        return duration.as_secs().to_string();
    }
    let fraction = format!("{nanos:09}");
    format!("{}.{}", duration.as_secs(), fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_case_insensitive() {
        for word in ["true", "ON", "Yes", "1"] {
            assert_eq!(boolean(word), Ok(true), "{word}");
        }
        for word in ["false", "Off", "NO", "0"] {
            assert_eq!(boolean(word), Ok(false), "{word}");
        }
        assert!(boolean("1 # x").is_err());
        assert!(boolean("2").is_err());
    }

    #[test]
    fn fractional_seconds_are_exact() {
        assert_eq!(seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(seconds("0.2"), Ok(Duration::from_millis(200)));
        assert_eq!(seconds(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("3."), Ok(Duration::from_secs(3)));
        assert_eq!(seconds("1.000000001"), Ok(Duration::new(1, 1)));
        assert_eq!(seconds("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_seconds_are_refused() {
        for bad in [
            "-1",
            "-0.5",
            "abc",
            "",
            ".",
            "1.2.3",
            "1e3",
            "5s",
            "0.0000000001",
            "1 # x",
            "+1",
        ] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert!(seconds("99999999999999999999999").is_err());
        assert!(positive_seconds("0").is_err());
        assert!(positive_seconds("0.001").is_ok());
    }

    #[test]
    fn numbers_ports_ips() {
        assert_eq!(unsigned::<u32>("10"), Ok(10));
        assert!(unsigned::<u32>("-1").is_err());
        assert!(unsigned::<u32>("4294967296").is_err());
        assert_eq!(port("3306"), Ok(3306));
        for bad in ["0", "65536", "-1", "http"] {
            assert!(port(bad).is_err(), "{bad}");
        }
        assert!(ip("10.213.7.10").is_ok());
        assert!(ip("::1").is_ok());
        assert!(ip("db1").is_err());
    }

    #[test]
    fn lists_split_on_commas_with_spaces() {
        assert_eq!(
            list("db1, db2 ,db3"),
            Ok(vec!["db1".into(), "db2".into(), "db3".into()])
        );
        assert!(list("db1,,db2").is_err());
        assert!(list("db1,").is_err());
        assert_eq!(
            list_of("1.2.3.4,x", ip),
            Err("'x': not an IP address".to_owned())
        );
    }

    #[test]
    fn seconds_format_round_trips() {
        for text in ["5", "0.2", "1.25", "0", "3600", "0.000000001"] {
            assert_eq!(seconds(text).map(format_seconds), Ok(text.to_owned()));
        }
    }
}
