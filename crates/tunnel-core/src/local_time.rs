//! Times as people read and write them on the command line: RFC 3339, or this machine's
//! local time `YYYY-MM-DD HH:MM[:SS]`; shown back in local time. Used by `history` and
//! `restore`.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A time as people write it: RFC 3339 (`2026-03-01T14:30:00+03:00`, `…Z`), or local
/// `YYYY-MM-DD HH:MM[:SS]` (also with a `T`), or a local date alone (its midnight).
/// Returns ms since the Unix epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(millis(dt));
    }
    let normal = t.replacen('T', " ", 1);
    let with_seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let minutes = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let day = format_description!("[year]-[month]-[day]");
    let local = PrimitiveDateTime::parse(&normal, with_seconds)
        .or_else(|_| PrimitiveDateTime::parse(&normal, minutes))
        .or_else(|_| time::Date::parse(&normal, day).map(|d| d.with_time(time::Time::MIDNIGHT)))
        .map_err(|_| {
            format!(
                "cannot read the time {text:?}: write it as 2026-03-01T14:30:00+03:00 (RFC 3339) \
                 or as local time 2026-03-01 14:30"
            )
        })?;
    let offset = local_offset_at(local.assume_utc());
    Ok(millis(local.assume_offset(offset)))
}

fn millis(dt: OffsetDateTime) -> i64 {
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// This machine's offset from UTC around `at` (UTC when the system does not say).
fn local_offset_at(at: OffsetDateTime) -> UtcOffset {
    UtcOffset::local_offset_at(at).unwrap_or(UtcOffset::UTC)
}

/// `2026-03-01 14:30:05` in local time (`?` for a time that cannot be shown).
pub fn local_time_text(ms: i64) -> String {
    let Ok(utc) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return "?".into();
    };
    let local = utc.to_offset(local_offset_at(utc));
    local
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_rfc_3339_and_local_forms() {
        assert_eq!(
            parse_time("2026-03-01T14:30:00Z").unwrap(),
            1_772_375_400_000,
            "RFC 3339 in UTC"
        );
        assert_eq!(
            parse_time("2026-03-01T17:30:00+03:00").unwrap(),
            1_772_375_400_000,
            "RFC 3339 with an offset is the same instant"
        );
        let local = parse_time("2026-03-01 14:30").unwrap();
        let offset = local_offset_at(OffsetDateTime::from_unix_timestamp(1_772_375_400).unwrap());
        assert_eq!(
            local + i64::from(offset.whole_seconds()) * 1000,
            1_772_375_400_000,
            "a local time is shifted by this machine's offset"
        );
        assert_eq!(parse_time("2026-03-01 14:30:59").unwrap(), local + 59_000);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-13-01 10:00").is_err());
    }
}
