//! Conflict copies settled with "keep both", remembered per folder in the journal's `config`
//! table (`conflicts-kept-both:<folder id>`, a JSON list of paths; no schema change): both
//! files stay under their names and the pair is no longer listed. A path the synced tree no
//! longer holds is forgotten by [`super::list`].

use std::collections::BTreeSet;

use crate::ids::FolderId;
use crate::journal::{Journal, JournalError};
use crate::rel_path::RelPath;

fn key(folder: FolderId) -> String {
    format!("conflicts-kept-both:{folder}")
}

/// The copies of `folder` settled with "keep both". A damaged value reads as none (the pairs
/// are listed again; nothing is lost).
pub fn kept_both(j: &Journal, folder: FolderId) -> Result<BTreeSet<RelPath>, JournalError> {
    let Some(raw) = j.get_config(&key(folder))? else {
        return Ok(BTreeSet::new());
    };
    let paths: Vec<String> = serde_json::from_str(&raw).unwrap_or_default();
    Ok(paths.iter().filter_map(|p| RelPath::new(p).ok()).collect())
}

fn store(j: &Journal, folder: FolderId, set: &BTreeSet<RelPath>) -> Result<(), JournalError> {
    let paths: Vec<&str> = set.iter().map(RelPath::as_str).collect();
    let raw = serde_json::to_string(&paths).unwrap_or_else(|_| "[]".to_string());
    j.set_config(&key(folder), &raw)
}

/// Remember that `copy` was settled with "keep both".
pub fn record_kept_both(j: &Journal, folder: FolderId, copy: &RelPath) -> Result<(), JournalError> {
    let mut set = kept_both(j, folder)?;
    if set.insert(copy.clone()) {
        store(j, folder, &set)?;
    }
    Ok(())
}

/// Forget these copies (gone from the synced tree).
pub fn forget_kept_both(
    j: &Journal,
    folder: FolderId,
    copies: &[RelPath],
) -> Result<(), JournalError> {
    let mut set = kept_both(j, folder)?;
    let before = set.len();
    for c in copies {
        set.remove(c);
    }
    if set.len() != before {
        store(j, folder, &set)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_both_round_trips_per_folder_and_forgets() {
        let j = Journal::open_in_memory().expect("open");
        let (a, b) = (FolderId::new(1), FolderId::new(2));
        let copy = RelPath::new("d/x (conflict from laptop 2026-01-01 101010).txt").expect("path");
        assert!(kept_both(&j, a).expect("read").is_empty(), "nothing yet");
        record_kept_both(&j, a, &copy).expect("record");
        record_kept_both(&j, a, &copy).expect("record twice is once");
        assert_eq!(kept_both(&j, a).expect("read").len(), 1);
        assert!(kept_both(&j, b).expect("read").is_empty(), "per folder");
        forget_kept_both(&j, a, std::slice::from_ref(&copy)).expect("forget");
        assert!(kept_both(&j, a).expect("read").is_empty(), "forgotten");
    }

    #[test]
    fn a_damaged_value_reads_as_nothing_kept() {
        let j = Journal::open_in_memory().expect("open");
        j.set_config(&key(FolderId::new(1)), "not json")
            .expect("set");
        assert!(kept_both(&j, FolderId::new(1)).expect("read").is_empty());
    }
}
