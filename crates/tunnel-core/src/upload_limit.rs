//! The attachment size a page's server accepts, learned from its refusals and remembered.
//!
//! Confluence refuses an attachment over its "Attachment Maximum Size" (an answer that names
//! the limit), and a reverse proxy in front of it refuses a request body over its own limit
//! with a bare 413 page (no number). Either arrives as
//! [`RemoteError::TooLarge`](crate::remote::RemoteError::TooLarge). The sync then cuts chunks
//! and packs no larger than the learned limit ([`next_limit`]), tries again, and stores the
//! limit per page in the journal ([`store`]), so later syncs start at the right size and make
//! no failing request.
//!
//! Invariants:
//! - a limit only ever goes down; one that names no number halves the size that was refused;
//! - nothing below [`MIN_UPLOAD_LIMIT`] is adopted (a refusal that small is not about chunk
//!   size — a content property's value limit, say — and is reported as the error it is);
//! - [`limited_settings`] keeps the configuration's own order: pack threshold ≤ pack target ≤
//!   chunk size.

use serde::{Deserialize, Serialize};

use crate::config::SyncSettings;
use crate::ids::PageId;
use crate::journal::{Journal, JournalError};

/// The smallest upload size the sync adapts down to (bytes).
pub const MIN_UPLOAD_LIMIT: u64 = 256 * 1024;

/// How many times one sync shrinks its sizes before giving up with the refusal.
pub const MAX_SHRINKS: u32 = 8;

/// A limit learned for one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LearnedLimit {
    /// Largest upload (chunk or pack) to send, bytes.
    pub bytes: u64,
    /// Whether the server named it (`false`: halved after a proxy's bare 413).
    pub reported: bool,
    /// When it was learned, Unix seconds.
    pub learned_at: i64,
}

/// The next upload size after a refusal of an upload of at most `current` bytes, where the
/// server named `reported` as its limit (or nothing). `None`: shrinking cannot help.
pub fn next_limit(current: u64, reported: Option<u64>) -> Option<LearnedLimit> {
    let (bytes, reported) = match reported {
        Some(l) => (l, true),
        None => (current / 2, false),
    };
    (bytes < current && bytes >= MIN_UPLOAD_LIMIT).then_some(LearnedLimit {
        bytes,
        reported,
        learned_at: 0,
    })
}

/// `settings` with chunks and packs cut no larger than `limit` bytes (unchanged when the
/// limit is above them).
pub fn limited_settings(settings: &SyncSettings, limit: Option<u64>) -> SyncSettings {
    let mut s = settings.clone();
    if let Some(l) = limit {
        s.chunk_size = s.chunk_size.min(l);
        s.pack_target = s.pack_target.min(s.chunk_size);
        s.pack_threshold = s.pack_threshold.min(s.pack_target);
    }
    s
}

fn key(page: &PageId) -> String {
    format!("upload-limit:{page}")
}

/// The limit learned for `page`, if any.
pub fn stored(journal: &Journal, page: &PageId) -> Result<Option<LearnedLimit>, JournalError> {
    Ok(journal
        .get_config(&key(page))?
        .and_then(|t| serde_json::from_str(&t).ok()))
}

/// Remember `limit` for `page`.
pub fn store(journal: &Journal, page: &PageId, limit: &LearnedLimit) -> Result<(), JournalError> {
    let text = serde_json::to_string(limit).unwrap_or_default();
    journal.set_config(&key(page), &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_named_limit_is_taken_and_a_bare_refusal_halves() {
        assert_eq!(
            next_limit(100 * MIB, Some(3 * MIB)).map(|l| (l.bytes, l.reported)),
            Some((3 * MIB, true))
        );
        assert_eq!(
            next_limit(8 * MIB, None).map(|l| (l.bytes, l.reported)),
            Some((4 * MIB, false))
        );
    }

    #[test]
    fn shrinking_stops_where_it_cannot_help() {
        assert_eq!(
            next_limit(3 * MIB, Some(3 * MIB)),
            None,
            "refused at the named limit: not a size problem"
        );
        assert_eq!(next_limit(3 * MIB, Some(8 * MIB)), None, "never grows");
        assert_eq!(
            next_limit(100 * MIB, Some(32_768)),
            None,
            "a tiny limit is another limit (a content property's value)"
        );
        assert_eq!(next_limit(MIN_UPLOAD_LIMIT, None), None, "the floor");
        assert!(next_limit(2 * MIN_UPLOAD_LIMIT, None).is_some());
    }

    #[test]
    fn limited_settings_keep_threshold_target_and_chunk_in_order() {
        let s = SyncSettings::default();
        assert_eq!(limited_settings(&s, None).chunk_size, s.chunk_size);
        let l = limited_settings(&s, Some(3 * MIB));
        assert_eq!(l.chunk_size, 3 * MIB);
        assert!(l.pack_threshold <= l.pack_target && l.pack_target <= l.chunk_size);
        let big = limited_settings(&s, Some(u64::MAX));
        assert_eq!(
            (big.chunk_size, big.pack_target, big.pack_threshold),
            (s.chunk_size, s.pack_target, s.pack_threshold),
            "a limit above the sizes changes nothing"
        );
    }

    #[test]
    fn the_limit_is_remembered_per_page() {
        let j = Journal::open_in_memory().expect("journal");
        let a = PageId::parse("1").expect("id");
        let b = PageId::parse("2").expect("id");
        assert_eq!(stored(&j, &a).expect("read"), None);
        let l = LearnedLimit {
            bytes: 3 * MIB,
            reported: true,
            learned_at: 7,
        };
        store(&j, &a, &l).expect("write");
        assert_eq!(stored(&j, &a).expect("read"), Some(l));
        assert_eq!(stored(&j, &b).expect("read"), None, "another page");
    }
}
