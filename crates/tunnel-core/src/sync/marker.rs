//! The folder marker: a small file ([`FOLDER_MARKER`]) in the root of every synced folder that
//! holds the folder's identity (the journal's `folder_uuid`, one line).
//!
//! A sync runs only when the marker is there and names this folder. A missing marker (or root)
//! is an unmounted or removed folder ([`SyncError::FolderMissing`]); a marker naming another
//! folder, or one that is empty, unreadable as an id, or not a regular file, means that
//! something else now stands at the synced folder's path — typically another synced folder
//! moved or restored there ([`SyncError::FolderReplaced`]). Syncing that would publish its
//! files as this folder's and delete this folder's files on every other device.
//!
//! Format: the UUID followed by a newline (every version wrote exactly that); surrounding
//! whitespace and a byte-order mark are ignored when reading, case does not matter.

use std::io::Read as _;
use std::path::Path;

use crate::error::SyncError;
use crate::journal::FolderRecord;

use super::FOLDER_MARKER;

/// Longest marker read; ours is 37 bytes.
const MARKER_MAX_BYTES: u64 = 4096;

/// What a folder's root holds under the marker's name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    /// Nothing.
    Missing,
    /// A directory, a symbolic link or another special file.
    NotAFile,
    /// An empty file (or only whitespace).
    Empty,
    /// A file whose text is not a folder id.
    NotAnId,
    /// A folder id.
    Id(String),
}

/// Write the marker of a new folder.
pub(crate) fn write(root: &Path, folder_uuid: &str) -> Result<(), SyncError> {
    let marker = root.join(FOLDER_MARKER);
    std::fs::write(&marker, format!("{folder_uuid}\n"))
        .map_err(|e| SyncError::io(format!("writing {}", marker.display()), e))
}

/// Check that `folder`'s root is there and holds its own marker. `others` (every folder of
/// this device, may be empty) lets the error name the folder a foreign marker belongs to.
pub(crate) fn check(folder: &FolderRecord, others: &[FolderRecord]) -> Result<(), SyncError> {
    let root = &folder.path;
    if !root.is_dir() {
        return Err(SyncError::FolderMissing(root.clone()));
    }
    let found = read(root)?;
    let found = match found {
        Found::Id(id) if id.eq_ignore_ascii_case(&folder.folder_uuid) => return Ok(()),
        Found::Missing => return Err(SyncError::FolderMissing(root.clone())),
        other => other,
    };
    Err(SyncError::FolderReplaced {
        folder: root.clone(),
        found: describe(&found, folder, others),
    })
}

fn read(root: &Path) -> Result<Found, SyncError> {
    let marker = root.join(FOLDER_MARKER);
    let meta = match std::fs::symlink_metadata(&marker) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(SyncError::io(format!("reading {}", marker.display()), e)),
    };
    if !meta.is_file() {
        return Ok(Found::NotAFile);
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&marker)
        .and_then(|f| f.take(MARKER_MAX_BYTES).read_to_end(&mut bytes))
        .map_err(|e| SyncError::io(format!("reading {}", marker.display()), e))?;
    Ok(parse(&bytes))
}

fn parse(bytes: &[u8]) -> Found {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Found::NotAnId;
    };
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Found::Empty;
    }
    match uuid::Uuid::parse_str(text) {
        Ok(_) => Found::Id(text.to_ascii_lowercase()),
        Err(_) => Found::NotAnId,
    }
}

fn describe(found: &Found, folder: &FolderRecord, others: &[FolderRecord]) -> String {
    let file = format!("its marker file {FOLDER_MARKER}");
    match found {
        Found::Missing => format!("{file} is missing"),
        Found::NotAFile => format!("{file} is not a regular file (a folder or a link)"),
        Found::Empty => format!("{file} is empty"),
        Found::NotAnId => format!("{file} does not hold a folder id"),
        Found::Id(id) => match others
            .iter()
            .find(|o| o.id != folder.id && o.folder_uuid.eq_ignore_ascii_case(id))
        {
            Some(o) => format!(
                "{file} belongs to another synced folder, {} (page {})",
                o.path.display(),
                o.page_id
            ),
            None => format!(
                "{file} belongs to another folder (id {id}), not one synced on this device \
                 (copied from another computer, or a folder no longer synced)"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_text_is_read_leniently_but_only_as_an_id() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(parse(format!("{id}\n").as_bytes()), Found::Id(id.into()));
        assert_eq!(
            parse(format!("\u{feff}{}\r\n", id.to_uppercase()).as_bytes()),
            Found::Id(id.into())
        );
        assert_eq!(parse(b""), Found::Empty);
        assert_eq!(parse(b" \n\t"), Found::Empty);
        assert_eq!(parse(b"hello"), Found::NotAnId);
        assert_eq!(parse(&[0xff, 0xfe, 0x00]), Found::NotAnId);
        assert_eq!(parse(format!("{id}\n{id}\n").as_bytes()), Found::NotAnId);
    }

    fn record(id: i64, path: &Path, uuid: &str) -> FolderRecord {
        FolderRecord {
            id: crate::ids::FolderId::new(id),
            path: path.to_path_buf(),
            page_id: crate::ids::PageId::parse(&format!("100{id}")).expect("digits"),
            folder_uuid: uuid.into(),
            paused: false,
            generation: None,
            seq: None,
            last_sync_at: None,
            last_error: None,
        }
    }

    #[test]
    fn only_our_own_marker_lets_the_sync_run() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("F1");
        std::fs::create_dir(&root).expect("mkdir");
        let mine = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let theirs = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let f1 = record(1, &root, mine);
        let f2 = record(2, &tmp.path().join("F2"), theirs);
        let marker = root.join(FOLDER_MARKER);

        assert!(matches!(check(&f1, &[]), Err(SyncError::FolderMissing(_))));
        write(&root, mine).expect("marker");
        check(&f1, &[]).expect("own marker");

        write(&root, theirs).expect("marker");
        let e = check(&f1, &[f1.clone(), f2.clone()]).expect_err("foreign marker");
        let text = e.to_string();
        assert!(matches!(e, SyncError::FolderReplaced { .. }), "{e:?}");
        assert!(text.contains("F2") && text.contains("page 1002"), "{text}");
        let e = check(&f1, &[]).expect_err("foreign marker");
        assert!(e.to_string().contains(theirs), "{e}");

        std::fs::write(&marker, "").expect("empty");
        assert!(matches!(
            check(&f1, &[]),
            Err(SyncError::FolderReplaced { .. })
        ));
        std::fs::write(&marker, "garbage").expect("garbage");
        assert!(matches!(
            check(&f1, &[]),
            Err(SyncError::FolderReplaced { .. })
        ));
        std::fs::remove_file(&marker).expect("rm");
        std::fs::create_dir(&marker).expect("marker as a directory");
        assert!(matches!(
            check(&f1, &[]),
            Err(SyncError::FolderReplaced { .. })
        ));
        std::fs::remove_dir(&marker).expect("rmdir");
        #[cfg(unix)]
        {
            // A link to a file that holds our id is still not our marker.
            let elsewhere = tmp.path().join("copy");
            std::fs::write(&elsewhere, format!("{mine}\n")).expect("copy");
            std::os::unix::fs::symlink(&elsewhere, &marker).expect("symlink");
            assert!(matches!(
                check(&f1, &[]),
                Err(SyncError::FolderReplaced { .. })
            ));
        }
        std::fs::remove_dir_all(&root).expect("rm root");
        assert!(matches!(check(&f1, &[]), Err(SyncError::FolderMissing(_))));
    }
}
