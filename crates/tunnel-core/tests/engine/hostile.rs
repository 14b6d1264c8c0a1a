//! Hostile or broken remote data, written straight into the [`MemoryStore`] the way a
//! malicious or buggy writer could: a delta appended to a valid head (with the right size and
//! hash, so only the content is hostile), a forged head, or a corrupted blob.
//!
//! For every case the victim's sync fails with a clear error (or, for bad chunks, refuses the
//! file), nothing is written outside its folder, no partial file is left, and its folder is
//! unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::remote::{BlobName, BlobSource, RemoteError, RemoteStore};

use crate::util::{runtime, stray_hidden, Device};

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every entry of `dir` (recursively) as relative paths: what exists around a folder.
pub(crate) fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            }
            let rel = e.path().strip_prefix(dir).map(|p| p.display().to_string());
            out.push(rel.unwrap_or_default());
        }
    }
    out.sort();
    out
}

/// A valid remote written by `writer`, with one small file, and a victim that synced it.
struct Setup {
    store: MemoryStore,
    writer: Device,
    victim: Device,
}

async fn setup() -> Setup {
    let store = MemoryStore::new();
    let writer = Device::new("writer");
    let victim = Device::new("victim");
    writer.write("hello.txt", b"hello");
    writer.sync(&store).await.expect("writer sync");
    victim.sync(&store).await.expect("victim sync");
    Setup {
        store,
        writer,
        victim,
    }
}

/// Append a delta with `bytes` (its real size and hash) to the head.
pub(crate) async fn append_delta(store: &MemoryStore, bytes: Vec<u8>) {
    let head = store.head().expect("a head").value;
    let seq = head["seq"].as_u64().expect("seq");
    let sha = sha_hex(&bytes);
    let name = format!("d-{sha}.json");
    let blob = BlobName::new(name).expect("blob name");
    store
        .put_blob(&blob, BlobSource::Bytes(Bytes::from(bytes.clone())))
        .await
        .expect("put delta");
    // The head's entry count of the part: what the document holds (at least 1, as a head
    // with an empty delta part is refused before the hostile content is looked at).
    let entries = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["entries"].as_array().map(|a| a.len()))
        .unwrap_or(1)
        .max(1);
    let mut head = head;
    head["seq"] = json!(seq + 1);
    let deltas = head["deltas"].as_array_mut().expect("deltas");
    // Format 3 heads name every commit's time.
    deltas.push(json!({"seq": seq + 1, "time_ms": 1_700_000_000_000i64,
        "parts": [{"sha256": sha, "size": bytes.len(), "entries": entries}]}));
    store.force_head(head);
}

/// The blob name of the last delta's (only) part in a format 2 head.
fn last_delta_name(head: &Value) -> String {
    let sha = head["deltas"]
        .as_array()
        .and_then(|d| d.last())
        .and_then(|d| d["parts"][0]["sha256"].as_str())
        .expect("delta part");
    format!("d-{sha}.json")
}

pub(crate) fn delta_doc(store: &MemoryStore, entries: Vec<Value>) -> Vec<u8> {
    let head = store.head().expect("a head").value;
    let doc = json!({
        "format": 2,
        "generation": head["generation"],
        "seq": head["seq"].as_u64().expect("seq") + 1,
        "device": "mallory",
        "part": 0,
        "parts": 1,
        "entries": entries,
    });
    serde_json::to_vec(&doc).expect("json")
}

/// A live-file entry for `path` whose content is `content`, stored as a pack in the store.
pub(crate) async fn file_entry(store: &MemoryStore, path: &str, content: &[u8]) -> Value {
    let sha = sha_hex(content);
    let blob = format!("p-{}", sha_hex(format!("pack{path}").as_bytes()));
    store
        .put_blob(
            &BlobName::new(blob.clone()).expect("name"),
            BlobSource::Bytes(Bytes::copy_from_slice(content)),
        )
        .await
        .expect("put pack");
    json!({"path": path, "kind": "file", "deleted": false, "size": content.len(),
           "mtime_ns": 1_700_000_000_000_000_000i64, "sha256": sha, "version": 1,
           "device": "mallory",
           "chunks": [{"sha256": sha, "size": content.len(), "blob": blob, "offset": 0}]})
}

/// The victim's sync must fail clearly and leave everything as it was.
async fn victim_refuses(s: &Setup, case: &str, expect_in_message: &[&str]) -> String {
    let around = s.victim.root.parent().expect("temp dir").to_path_buf();
    let before_around = listing(&around);
    let before = s.victim.tree();
    let err = match s.victim.sync(&s.store).await {
        Ok(summary) => panic!("{case}: the victim accepted hostile data: {summary:?}"),
        Err(e) => e.to_string(),
    };
    let lower = err.to_lowercase();
    assert!(
        expect_in_message
            .iter()
            .any(|w| lower.contains(&w.to_lowercase())),
        "{case}: unclear error {err:?}, expected one of {expect_in_message:?}"
    );
    let after_around: Vec<String> = listing(&around)
        .into_iter()
        .filter(|p| !p.starts_with("journal.db"))
        .collect();
    let before_around: Vec<String> = before_around
        .into_iter()
        .filter(|p| !p.starts_with("journal.db"))
        .collect();
    assert_eq!(after_around, before_around, "{case}: something was written");
    assert_eq!(s.victim.tree(), before, "{case}: the folder changed");
    assert!(
        stray_hidden(&s.victim.root).is_empty(),
        "{case}: partial file left"
    );
    err
}

#[test]
fn hostile_paths_in_a_delta_are_refused() {
    let rt = runtime();
    rt.block_on(async {
        let long = "x".repeat(300);
        let deep = vec!["d"; 3000].join("/");
        let cases: Vec<(&str, String)> = vec![
            ("parent", "../escape.txt".into()),
            ("parent inside", "a/../../escape.txt".into()),
            ("absolute", "/tmp/sber-tunnel-evil.txt".into()),
            ("backslash", "..\\escape.txt".into()),
            ("drive letter", "C:/evil.txt".into()),
            ("drive relative", "C:evil.txt".into()),
            ("NUL", "a\u{0}b.txt".into()),
            ("control", "a\u{1}b.txt".into()),
            ("dot", "./x.txt".into()),
            ("empty component", "a//b.txt".into()),
            ("trailing slash", "a/".into()),
            ("empty", "".into()),
            ("long name", long),
            ("long path", deep),
        ];
        for (case, path) in cases {
            let s = setup().await;
            let entry = file_entry(&s.store, &path, b"evil").await;
            let doc = delta_doc(&s.store, vec![entry]);
            append_delta(&s.store, doc).await;
            victim_refuses(&s, case, &["path", "invalid", "file list"]).await;
            assert!(!Path::new("/tmp/sber-tunnel-evil.txt").exists());
            // The writer refuses too: the remote is broken for everyone, not silently used.
            let w = s.writer.sync(&s.store).await;
            assert!(w.is_err(), "{case}: the writer accepted the hostile delta");
        }
    });
}

#[test]
fn inconsistent_entries_are_refused() {
    let rt = runtime();
    rt.block_on(async {
        type Mutate = fn(&mut Value);
        let cases: Vec<(&str, Mutate)> = vec![
            ("size does not add up", |e| e["size"] = json!(9)),
            ("chunk larger than file", |e| {
                e["chunks"][0]["size"] = json!(99)
            }),
            ("no hash", |e| {
                e.as_object_mut().expect("object").remove("sha256");
            }),
            ("bad hash", |e| e["sha256"] = json!("zz")),
            ("version 0", |e| e["version"] = json!(0)),
            ("empty device", |e| e["device"] = json!("")),
            ("unknown field", |e| e["owner"] = json!("root")),
            ("dir with chunks", |e| e["kind"] = json!("dir")),
            ("bad kind", |e| e["kind"] = json!("symlink")),
            ("offset overflow", |e| {
                e["chunks"][0]["offset"] = json!(u64::MAX)
            }),
            ("bad blob name", |e| {
                e["chunks"][0]["blob"] = json!("../../x")
            }),
            ("negative size", |e| e["size"] = json!(-4)),
        ];
        for (case, mutate) in cases {
            let s = setup().await;
            let mut entry = file_entry(&s.store, "x.txt", b"evil").await;
            mutate(&mut entry);
            let doc = delta_doc(&s.store, vec![entry]);
            append_delta(&s.store, doc).await;
            victim_refuses(&s, case, &["invalid", "file list", "json"]).await;
        }
        // Two entries for one path, and a file that is the parent of another entry.
        let s = setup().await;
        let one = file_entry(&s.store, "dup.txt", b"one").await;
        let two = file_entry(&s.store, "dup.txt", b"two").await;
        let doc = delta_doc(&s.store, vec![one, two]);
        append_delta(&s.store, doc).await;
        victim_refuses(&s, "duplicate path", &["twice", "duplicate", "invalid"]).await;
        let s = setup().await;
        let parent = file_entry(&s.store, "f", b"file").await;
        let child = file_entry(&s.store, "f/child.txt", b"child").await;
        let doc = delta_doc(&s.store, vec![parent, child]);
        append_delta(&s.store, doc).await;
        victim_refuses(&s, "file as a parent", &["parent", "invalid"]).await;
    });
}

#[test]
fn broken_documents_are_refused() {
    let rt = runtime();
    rt.block_on(async {
        // Not JSON at all, and truncated JSON.
        for (case, bytes) in [
            ("invalid JSON", b"{not json".to_vec()),
            ("truncated JSON", b"{\"format\":1,\"generation\":".to_vec()),
            ("empty", Vec::new()),
            ("array", b"[1,2,3]".to_vec()),
        ] {
            let s = setup().await;
            append_delta(&s.store, bytes).await;
            victim_refuses(&s, case, &["json", "invalid", "file list", "format"]).await;
        }
        // A delta from a newer format.
        let s = setup().await;
        let mut doc: Value = serde_json::from_slice(&delta_doc(&s.store, vec![])).expect("json");
        doc["format"] = json!(4);
        append_delta(&s.store, serde_json::to_vec(&doc).expect("json")).await;
        let err = victim_refuses(&s, "newer delta", &["newer", "upgrade", "format"]).await;
        assert!(err.contains("upgrade") || err.contains("newer"), "{err}");
        // A head from a newer format, a head that is not an object, a head with a seq gap.
        let s = setup().await;
        let mut head = s.store.head().expect("head").value;
        head["format"] = json!(7);
        s.store.force_head(head);
        victim_refuses(&s, "newer head", &["newer", "upgrade"]).await;
        let s = setup().await;
        s.store.force_head(json!("surprise"));
        victim_refuses(&s, "string head", &["invalid", "json", "head", "format"]).await;
        let s = setup().await;
        let mut head = s.store.head().expect("head").value;
        head["seq"] = json!(head["seq"].as_u64().expect("seq") + 5);
        s.store.force_head(head);
        victim_refuses(&s, "seq gap", &["seq", "gap", "invalid"]).await;
    });
}

#[test]
fn enormous_or_mis_sized_documents_are_refused_without_reading_them_whole() {
    let rt = runtime();
    rt.block_on(async {
        // The head names a 1 TiB delta: refused from the head, before any download.
        let s = setup().await;
        let mut head = s.store.head().expect("head").value;
        let seq = head["seq"].as_u64().expect("seq");
        head["seq"] = json!(seq + 1);
        let sha = "ab".repeat(32);
        head["deltas"]
            .as_array_mut()
            .expect("deltas")
            .push(json!({"seq": seq + 1, "time_ms": 1_700_000_000_000i64,
                         "parts": [{"sha256": sha, "size": 1u64 << 40, "entries": 1}]}));
        s.store.force_head(head);
        victim_refuses(&s, "1 TiB delta", &["large", "size", "limit", "file list"]).await;
        // A delta blob much larger than the head says: the reader must stop at the size.
        let s = setup().await;
        let doc = delta_doc(&s.store, vec![]);
        append_delta(&s.store, doc.clone()).await;
        let head = s.store.head().expect("head").value;
        let name = last_delta_name(&head);
        let mut big = doc;
        big.extend(std::iter::repeat_n(b' ', 20 << 20));
        assert!(s
            .store
            .corrupt_blob(&BlobName::new(name).expect("name"), Bytes::from(big)));
        victim_refuses(&s, "oversized delta blob", &["integrity", "size", "bytes"]).await;
    });
}

#[test]
fn a_chunk_whose_hash_does_not_match_never_lands() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let writer = Device::new("writer");
        let victim = Device::new("victim");
        writer.write("ok.txt", b"fine");
        writer.sync(&store).await.expect("writer");
        victim.sync(&store).await.expect("victim");
        // A new file whose pack is then overwritten on the server with other bytes.
        writer.write("target.txt", b"the real content");
        writer.sync(&store).await.expect("writer");
        let packs: Vec<BlobName> = store
            .blob_names()
            .into_iter()
            .filter(|n| n.as_str().starts_with("m-"))
            .collect();
        for p in &packs {
            let len = store.blob_bytes(p).map(|b| b.len()).unwrap_or(0);
            store.corrupt_blob(p, Bytes::from(vec![b'X'; len]));
        }
        let before: BTreeMap<_, _> = victim.tree();
        let r = victim.sync(&store).await;
        let after = victim.tree();
        assert!(
            !after.contains_key("target.txt"),
            "a file with a corrupted chunk landed: {:?} / {r:?}",
            after
                .get("target.txt")
                .map(|b| String::from_utf8_lossy(b).to_string())
        );
        assert_eq!(after, before, "the folder changed: {r:?}");
        assert!(stray_hidden(&victim.root).is_empty(), "partial file left");
        match r {
            Err(e) => {
                let m = e.to_string().to_lowercase();
                assert!(
                    m.contains("integrity") || m.contains("hash"),
                    "unclear: {m}"
                );
            }
            Ok(s) => assert!(
                s.downloaded == 0,
                "reported a download that never landed: {s:?}"
            ),
        }
    });
}

/// A store that, for one blob, streams `extra` bytes more than the blob holds (a server or
/// proxy that sends an endless body), and records how many bytes the reader's sink accepted.
struct Flooding {
    inner: MemoryStore,
    target: BlobName,
    extra: u64,
    accepted: std::sync::Mutex<u64>,
}

#[async_trait::async_trait]
impl RemoteStore for Flooding {
    async fn probe(&self) -> Result<tunnel_core::remote::RemoteIdentity, RemoteError> {
        self.inner.probe().await
    }
    async fn probe_write(&self) -> Result<(), RemoteError> {
        self.inner.probe_write().await
    }
    async fn read_head(&self) -> Result<Option<tunnel_core::remote::HeadState>, RemoteError> {
        self.inner.read_head().await
    }
    async fn write_head(&self, value: &Value, expected: Option<u64>) -> Result<u64, RemoteError> {
        self.inner.write_head(value, expected).await
    }
    async fn put_blob(
        &self,
        name: &BlobName,
        source: BlobSource,
    ) -> Result<tunnel_core::remote::BlobInfo, RemoteError> {
        self.inner.put_blob(name, source).await
    }
    async fn put_mutable(
        &self,
        name: &BlobName,
        data: Bytes,
    ) -> Result<tunnel_core::remote::BlobInfo, RemoteError> {
        self.inner.put_mutable(name, data).await
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
        let wanted = range.map(|r| r.end - r.start).unwrap_or(u64::MAX);
        let piece = vec![b' '; 1 << 20];
        let mut sent = 0u64;
        while sent < wanted.min(self.extra) {
            let n = (wanted.min(self.extra) - sent).min(piece.len() as u64) as usize;
            if sink.write_all(&piece[..n]).await.is_err() {
                break;
            }
            sent += n as u64;
            *self.accepted.lock().expect("lock") = sent;
        }
        Ok(sent)
    }
    async fn find_blob(
        &self,
        name: &BlobName,
    ) -> Result<Option<tunnel_core::remote::BlobInfo>, RemoteError> {
        self.inner.find_blob(name).await
    }
    async fn list_blobs(&self) -> Result<Vec<tunnel_core::remote::BlobInfo>, RemoteError> {
        self.inner.list_blobs().await
    }
    async fn delete_blob(&self, blob: &tunnel_core::remote::BlobInfo) -> Result<(), RemoteError> {
        self.inner.delete_blob(blob).await
    }
    async fn delete_blob_version(
        &self,
        blob: &tunnel_core::remote::BlobInfo,
        version: u64,
    ) -> Result<(), RemoteError> {
        self.inner.delete_blob_version(blob, version).await
    }
}

#[test]
fn an_endless_manifest_body_is_cut_at_the_announced_size() {
    let rt = runtime();
    rt.block_on(async {
        let s = setup().await;
        let doc = delta_doc(&s.store, vec![]);
        let declared = doc.len() as u64;
        append_delta(&s.store, doc).await;
        let head = s.store.head().expect("head").value;
        let name = last_delta_name(&head);
        let flood = Flooding {
            inner: s.store.clone(),
            target: BlobName::new(name).expect("name"),
            extra: 64 << 20,
            accepted: std::sync::Mutex::new(0),
        };
        let r = s
            .victim
            .syncer
            .sync_folder(s.victim.folder, &flood, &Default::default())
            .await;
        assert!(r.is_err(), "an oversized body must be refused");
        let accepted = *flood.accepted.lock().expect("lock");
        assert!(
            accepted <= declared + (1 << 20),
            "the reader took {accepted} bytes of a {declared}-byte delta into memory"
        );
    });
}

/// The page was restored to an older version (the head went back in time): differences become
/// conflicts or downloads, never deletions, on either device.
#[test]
fn a_remote_gone_back_in_time_deletes_nothing() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("x.txt", b"<a1>x");
        a.write("y.txt", b"<a1>y");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        let old = store.head().expect("head").value;
        a.write("z.txt", b"<a2>z, new");
        a.write("y.txt", b"<a2>y, edited");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        // Restore the old head, as a page restore would.
        store.force_head(old);
        let ra = a.sync(&store).await.expect("a after the restore");
        let rb = b.sync(&store).await.expect("b after the restore");
        for _ in 0..2 {
            a.sync(&store).await.expect("a");
            b.sync(&store).await.expect("b");
        }
        for d in [&a, &b] {
            let t = d.tree();
            assert_eq!(
                t.get("z.txt").map(Vec::as_slice),
                Some(&b"<a2>z, new"[..]),
                "z.txt lost on {} ({ra:?} / {rb:?}): {:?}",
                d.id,
                t.keys().collect::<Vec<_>>()
            );
            assert!(
                t.values().any(|v| v == b"<a2>y, edited"),
                "the edit of y.txt lost on {}: {:?}",
                d.id,
                t.keys().collect::<Vec<_>>()
            );
            assert!(t.contains_key("x.txt"), "x.txt deleted on {}", d.id);
        }
        assert_eq!(a.tree(), b.tree(), "devices disagree after the restore");
    });
}

/// Remote entries named like our own bookkeeping files (the folder marker, a partial
/// download) are never written over the local ones, and the folder keeps syncing.
#[test]
fn remote_entries_cannot_overwrite_our_own_files() {
    let rt = runtime();
    rt.block_on(async {
        for name in [tunnel_core::sync::FOLDER_MARKER, ".sbt-evil.partial"] {
            let s = setup().await;
            let marker = s.victim.root.join(tunnel_core::sync::FOLDER_MARKER);
            let before = std::fs::read(&marker).expect("marker");
            let entry = file_entry(&s.store, name, b"mallory was here").await;
            let doc = delta_doc(&s.store, vec![entry]);
            append_delta(&s.store, doc).await;
            let _ = s.victim.sync(&s.store).await;
            assert_eq!(
                std::fs::read(&marker).expect("marker still there"),
                before,
                "{name}: the folder marker was overwritten"
            );
            s.victim.write("later.txt", b"still syncing");
            let r = s.victim.sync(&s.store).await;
            assert!(
                r.is_ok() || !format!("{r:?}").contains("marker"),
                "{name}: the folder no longer syncs: {r:?}"
            );
        }
    });
}
