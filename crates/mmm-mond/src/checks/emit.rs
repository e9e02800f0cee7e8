//! Hands mysql-mmm-style log lines to `tracing`.
//!
//! `tracing` has no FATAL level, so every line carries its mysql-mmm level in the
//! `mmm_level` field; FATAL and ERROR both go out as tracing errors.

use mmm_core::log::{Level, LogLine};

/// Logs `line` through `tracing` at the closest level, keeping the exact wording.
pub fn emit(line: &LogLine) {
    let text = line.text.as_str();
    let mmm_level = line.level.as_str();
    match line.level {
        Level::Fatal | Level::Error => tracing::error!(mmm_level, "{text}"),
        Level::Warn => tracing::warn!(mmm_level, "{text}"),
        Level::Info => tracing::info!(mmm_level, "{text}"),
        Level::Debug => tracing::debug!(mmm_level, "{text}"),
    }
}
