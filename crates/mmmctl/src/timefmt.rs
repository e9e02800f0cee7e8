//! Wall-clock formatting in mysql-mmm's `yyyy/MM/dd HH:mm:ss`, in the operator's local time.

use time::{OffsetDateTime, UtcOffset, format_description::FormatItem, macros::format_description};

const MMM_DATE: &[FormatItem<'static>] =
    format_description!("[year]/[month]/[day] [hour]:[minute]:[second]");

/// The local UTC offset. Read it before any thread starts: the `time` crate refuses to
/// read it from a multi-threaded process. Falls back to UTC.
pub fn local_offset() -> UtcOffset {
    UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)
}

/// `secs` since the Unix epoch as `yyyy/MM/dd HH:mm:ss` at `offset`; out-of-range values
/// print as the epoch.
pub fn format_secs(secs: i64, offset: UtcOffset) -> String {
    let at = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.to_offset(offset)
        .format(MMM_DATE)
        .unwrap_or_else(|_| secs.to_string())
}

/// Milliseconds since the Unix epoch, formatted like [`format_secs`].
pub fn format_millis(ms: u64, offset: UtcOffset) -> String {
    format_secs(i64::try_from(ms / 1000).unwrap_or(0), offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_log4perl() {
        assert_eq!(
            format_secs(1_345_712_590, UtcOffset::UTC),
            "2012/08/23 09:03:10"
        );
        let cst = UtcOffset::from_hms(8, 0, 0).expect("valid offset");
        assert_eq!(format_secs(1_345_712_590, cst), "2012/08/23 17:03:10");
        assert_eq!(format_millis(1_345_712_590_999, cst), "2012/08/23 17:03:10");
        assert_eq!(format_secs(0, UtcOffset::UTC), "1970/01/01 00:00:00");
    }
}
