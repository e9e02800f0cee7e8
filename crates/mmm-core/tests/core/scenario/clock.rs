//! The scripts' clock: `YYYY/MM/DD HH:MM:SS` in UTC, as mysql-mmm's log layout prints it.

use mmm_core::log::LocalDateTime;
use mmm_core::time::Timestamp;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2024/01/01 00:00:10` as a timestamp.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let (date, time) = s.split_once(' ')?;
    let d: Vec<i64> = date
        .split('/')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let days = days_from_civil(*d.first()?, *d.get(1)?, *d.get(2)?);
    let secs = days * 86_400 + t.first()? * 3600 + t.get(1)? * 60 + t.get(2)?;
    Some(Timestamp::from_secs(u64::try_from(secs).ok()?))
}

/// The date and time a log line of `ts` shows.
pub fn local(ts: Timestamp) -> LocalDateTime {
    let secs = i64::try_from(ts.as_secs()).unwrap_or(0);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    LocalDateTime {
        year: y as i32,
        month: m as u8,
        day: d as u8,
        hour: (r / 3600) as u8,
        minute: (r % 3600 / 60) as u8,
        second: (r % 60) as u8,
    }
}
