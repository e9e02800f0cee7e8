//! MMM-style log lines as data, and mysql-mmm's `%d %5p %m` layout.
//!
//! The core never writes logs itself: every decision returns the lines it stands for and
//! the daemons print them (through `tracing`) with [`format_mmm`].

use std::fmt;

/// Severity of a log line, with mysql-mmm's (Log4perl's) names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Level {
    /// Host state changes and admin actions (mysql-mmm mails these).
    Fatal,
    /// Failed checks and failed actions.
    Error,
    /// Unknown check results and suspicious situations.
    Warn,
    /// Role movements and recoveries.
    Info,
    /// Diagnostics.
    Debug,
}

impl Level {
    /// The level name as mysql-mmm prints it (`FATAL`, `ERROR`, `WARN`, `INFO`, `DEBUG`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Fatal => "FATAL",
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

/// One log line produced by a decision, before date and level are laid out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// Severity.
    pub level: Level,
    /// The message, in mysql-mmm's exact wording where one exists.
    pub text: String,
}

impl LogLine {
    /// A line with the given level and text.
    pub fn new(level: Level, text: impl Into<String>) -> Self {
        LogLine {
            level,
            text: text.into(),
        }
    }

    /// A FATAL line (host state changes, admin actions).
    pub fn fatal(text: impl Into<String>) -> Self {
        Self::new(Level::Fatal, text)
    }

    /// An ERROR line.
    pub fn error(text: impl Into<String>) -> Self {
        Self::new(Level::Error, text)
    }

    /// A WARN line.
    pub fn warn(text: impl Into<String>) -> Self {
        Self::new(Level::Warn, text)
    }

    /// An INFO line.
    pub fn info(text: impl Into<String>) -> Self {
        Self::new(Level::Info, text)
    }
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>5} {}", self.level.as_str(), self.text)
    }
}

/// A local date and time already broken down by the caller (the core has no timezone code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDateTime {
    /// Four-digit year.
    pub year: i32,
    /// Month 1-12.
    pub month: u8,
    /// Day of month 1-31.
    pub day: u8,
    /// Hour 0-23.
    pub hour: u8,
    /// Minute 0-59.
    pub minute: u8,
    /// Second 0-60.
    pub second: u8,
}

/// Lays a line out as mysql-mmm does: `2012/08/23 17:03:10 FATAL State of host ...`.
pub fn format_mmm(when: LocalDateTime, line: &LogLine) -> String {
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02} {}",
        when.year, when.month, when.day, when.hour, when.minute, when.second, line
    )
}

/// Formats a duration as mysql-mmm prints seconds: whole numbers plain, fractions with up to
/// three decimals (`10`, `0.5`).
pub fn fmt_secs(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}", ms / 1000)
    } else {
        let s = format!("{}.{:03}", ms / 1000, ms % 1000);
        s.trim_end_matches('0').to_string()
    }
}

/// Formats `d` with the precision `like` was written with (mysql-mmm prints whole seconds
/// for whole-second settings): `fmt_secs_like(0.85 s, 0.8 s)` is `0.8`, and
/// `fmt_secs_like(10.3 s, 10 s)` is `10`. The remainder is cut, not rounded, as mysql-mmm's
/// integer seconds are.
pub fn fmt_secs_like(d: std::time::Duration, like: std::time::Duration) -> String {
    let like_ms = like.as_millis();
    let unit: u128 = [1000, 100, 10]
        .into_iter()
        .find(|u| like_ms.is_multiple_of(*u))
        .unwrap_or(1);
    let ms = d.as_millis() / unit * unit;
    fmt_secs(std::time::Duration::from_millis(
        u64::try_from(ms).unwrap_or(u64::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn layout_matches_mmm() {
        let when = LocalDateTime {
            year: 2012,
            month: 8,
            day: 23,
            hour: 17,
            minute: 3,
            second: 10,
        };
        let l = LogLine::info("Orphaned role 'reader(192.168.1.201)' has been assigned to 'db3'");
        assert_eq!(
            format_mmm(when, &l),
            "2012/08/23 17:03:10  INFO Orphaned role 'reader(192.168.1.201)' has been assigned to 'db3'"
        );
        assert_eq!(
            format_mmm(when, &LogLine::fatal("x")),
            "2012/08/23 17:03:10 FATAL x"
        );
        assert_eq!(
            format_mmm(when, &LogLine::warn("x")),
            "2012/08/23 17:03:10  WARN x"
        );
    }

    #[test]
    fn seconds_format() {
        assert_eq!(fmt_secs(Duration::from_secs(10)), "10");
        assert_eq!(fmt_secs(Duration::from_millis(500)), "0.5");
        assert_eq!(fmt_secs(Duration::from_millis(1250)), "1.25");
    }

    #[test]
    fn seconds_with_the_precision_of_a_setting() {
        let ms = Duration::from_millis;
        assert_eq!(fmt_secs_like(ms(850), ms(800)), "0.8");
        assert_eq!(fmt_secs_like(ms(10_300), Duration::from_secs(10)), "10");
        assert_eq!(fmt_secs_like(ms(900), Duration::from_secs(1)), "0");
        assert_eq!(fmt_secs_like(ms(1_257), ms(1_250)), "1.25");
        assert_eq!(fmt_secs_like(ms(1_257), ms(1_001)), "1.257");
    }
}
