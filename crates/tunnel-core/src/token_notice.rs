//! Warning ahead of a personal access token's expiry: the pure decision (no clock, no I/O).
//!
//! Once a PAT has expired, Confluence does not refuse it: it serves the requests as an
//! anonymous user, so syncing stops with "not permitted" answers. Users are told days ahead
//! (default [`DEFAULT_WARN_DAYS`], `remote.token-expiry-warn-days`; 0 turns it off) in
//! `status`, the app's banner and the CLI.

use serde::{Deserialize, Serialize};

/// Days ahead of the expiry that the warning starts, unless configured.
pub const DEFAULT_WARN_DAYS: u32 = 14;

/// The warning to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenNotice {
    /// The token's name on the server.
    pub name: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Whole days left (0: expires within a day; negative: expired).
    pub days_left: i64,
    /// Already expired.
    pub expired: bool,
    /// One line for a person.
    pub message: String,
}

/// The expiry day as `YYYY-MM-DD` (UTC); empty when out of range. The front ends word the
/// notice in the reader's language from the notice's fields and this date.
pub fn expiry_date(expires_at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(expires_at)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default()
}

/// The notice for a token named `name` expiring at `expires_at`, seen at `now` (Unix
/// seconds), when it is due: within `warn_days` days of the expiry, or past it.
pub fn notice(name: &str, expires_at: i64, now: i64, warn_days: u32) -> Option<TokenNotice> {
    if warn_days == 0 {
        return None;
    }
    let left = expires_at - now;
    if left > i64::from(warn_days) * 86_400 {
        return None;
    }
    let days_left = left.div_euclid(86_400);
    let expired = left <= 0;
    let date = expiry_date(expires_at);
    let label = if name.is_empty() {
        "The personal access token".to_string()
    } else {
        format!("The personal access token \"{name}\"")
    };
    let message = if expired {
        format!(
            "{label} expired on {date}: Confluence now treats sber-tunnel as an anonymous \
             user. Create a new token in Confluence (profile → Settings → Personal Access \
             Tokens) and enter it in the connection settings."
        )
    } else {
        let when = match days_left {
            0 => "within a day".to_string(),
            1 => "in 1 day".to_string(),
            n => format!("in {n} days"),
        };
        format!(
            "{label} expires {when} ({date}). Create a new one in Confluence (profile → \
             Settings → Personal Access Tokens) and enter it in the connection settings \
             before then, or syncing stops."
        )
    };
    Some(TokenNotice {
        name: name.to_string(),
        expires_at,
        days_left,
        expired,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_796_000_000;

    #[test]
    fn warns_within_the_window_and_not_before() {
        assert_eq!(
            notice("t", NOW + 15 * DAY, NOW, 14),
            None,
            "15 days: not yet"
        );
        let n = notice("t", NOW + 14 * DAY, NOW, 14).expect("14 days: due");
        assert_eq!((n.days_left, n.expired), (14, false));
        assert!(n.message.contains("in 14 days"), "{}", n.message);
        let n = notice("t", NOW + 3600, NOW, 14).expect("an hour left");
        assert_eq!(n.days_left, 0);
        assert!(n.message.contains("within a day"), "{}", n.message);
    }

    #[test]
    fn an_expired_token_says_what_happens_now() {
        let n = notice("laptop", NOW - DAY, NOW, 14).expect("expired");
        assert!(n.expired && n.days_left < 0);
        assert!(n.message.contains("expired") && n.message.contains("anonymous"));
        assert!(n.message.contains("\"laptop\""));
    }

    #[test]
    fn zero_days_turns_it_off() {
        assert_eq!(notice("t", NOW - DAY, NOW, 0), None);
    }
}
