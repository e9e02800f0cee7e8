//! Log output in mysql-mmm's layout (`yyyy/MM/dd HH:mm:ss LEVEL message`) or JSON.
//!
//! mysql-mmm has a FATAL level above ERROR; here it is an ERROR event with the field
//! `fatal = true`, written as `FATAL` in the classic layout. Use [`fatal!`](crate::fatal).

use std::fmt;
use std::sync::OnceLock;

use time::{OffsetDateTime, UtcOffset, macros::format_description};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Logs at mysql-mmm's FATAL level (tracing ERROR with `fatal = true`).
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)+) => { ::tracing::error!(fatal = true, $($arg)+) };
}

static OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local UTC offset; call before any thread is started (the `time` crate refuses later).
pub fn capture_local_offset() {
    let off = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = OFFSET.set(off);
}

/// The classic formatter.
struct MmmLayout;

#[derive(Default)]
struct Fields {
    message: String,
    fatal: bool,
    /// Other structured fields, appended as ` key=value` after the message.
    extra: String,
}

impl Fields {
    fn push_extra(&mut self, name: &str, value: &dyn fmt::Display) {
        use std::fmt::Write as _;
        let _ = write!(self.extra, " {name}={value}");
    }
}

impl Visit for Fields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "fatal" {
            self.fatal = value;
        } else {
            self.push_extra(field.name(), &value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push_extra(field.name(), &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push_extra(field.name(), &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            // Lines carrying their mysql-mmm level as data (`mmm_level = "FATAL"`).
            "mmm_level" => self.fatal |= value == "FATAL",
            name => self.push_extra(name, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.push_extra(field.name(), &format_args!("{value:?}"));
        }
    }
}

/// The level word mysql-mmm prints.
fn level_word(level: Level, fatal: bool) -> &'static str {
    if fatal {
        return "FATAL";
    }
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// One line in mysql-mmm's layout.
fn render(now: OffsetDateTime, level: &str, message: &str) -> String {
    let fmt = format_description!("[year]/[month]/[day] [hour]:[minute]:[second]");
    let stamp = now.format(fmt).unwrap_or_default();
    format!("{stamp} {level:>5} {message}")
}

impl<S, N> FormatEvent<S, N> for MmmLayout
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let now = OffsetDateTime::now_utc().to_offset(*OFFSET.get().unwrap_or(&UtcOffset::UTC));
        let level = level_word(*event.metadata().level(), fields.fatal);
        let message = format!("{}{}", fields.message, fields.extra);
        writeln!(writer, "{}", render(now, level, &message))
    }
}

/// Installs the global subscriber: classic layout on stderr, or JSON lines.
///
/// openraft's own ERROR lines about one peer's failed RPC (one per retry, several a second
/// while a peer is down) are left out: mmm-mond's network writes one human line per streak
/// of failures instead (`Can't reach monitor mon2 (…): connection refused`).
pub fn init(json: bool, debug: bool) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{FilterExt as _, filter_fn};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let default = if debug {
        "debug,openraft=warn"
    } else {
        "info,openraft=error"
    };
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let filter = env.and(filter_fn(|m| !is_openraft_peer_rpc_error(m)));
    let registry = tracing_subscriber::registry();
    if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr);
        registry.with(layer.with_filter(filter)).init();
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .event_format(MmmLayout)
            .with_writer(std::io::stderr);
        registry.with(layer.with_filter(filter)).init();
    }
}

/// openraft 0.9's per-target RPC failure events: replication's `RPCError` (fields `message`,
/// `err`) and the core's vote / leadership-confirmation failures (`message`, `error`,
/// `target`). Storage errors and everything else openraft logs carry other fields and stay.
fn is_openraft_peer_rpc_error(m: &tracing::Metadata<'_>) -> bool {
    if !m.is_event() || *m.level() != Level::ERROR {
        return false;
    }
    let names: Vec<&str> = m.fields().iter().map(|f| f.name()).collect();
    match m.target() {
        "openraft::replication" => names == ["message", "err"],
        "openraft::core::raft_core" => {
            names.len() == 3
                && ["message", "error", "target"]
                    .iter()
                    .all(|n| names.contains(n))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_layout() {
        let t = time::macros::datetime!(2010-05-07 07:50:00 UTC);
        assert_eq!(
            render(t, level_word(Level::ERROR, true), "Lease expired"),
            "2010/05/07 07:50:00 FATAL Lease expired"
        );
        assert_eq!(
            render(t, level_word(Level::INFO, false), "END"),
            "2010/05/07 07:50:00  INFO END"
        );
        assert_eq!(level_word(Level::WARN, false), "WARN");
    }
}
