//! Every `RemoteStore` method against the emulator, and what the server saw of it.

use bytes::Bytes;
use serde_json::json;
use tunnel_confluence::{
    ConfluenceClient, HEAD_PROPERTY_KEY, MAX_HEAD_CHARS, PROBE_ATTACHMENT_NAME,
};
use tunnel_core::hash::Digest;
use tunnel_core::remote::{BlobSource, RemoteError, RemoteStore};

use crate::*;

#[tokio::test]
async fn probe_names_user_and_page_even_under_a_context_path() {
    let emu = builder().context_path("/confluence").spawn().await.unwrap();
    assert!(emu.base_url().ends_with("/confluence"));
    // A trailing slash in the configured address is tolerated.
    let client = ConfluenceClient::new(settings(
        &format!("{}/", emu.base_url()),
        basic(USER, PASSWORD),
    ))
    .unwrap();
    let id = client.store(PAGE).probe().await.unwrap();
    assert_eq!(id.user, USER);
    assert_eq!(id.title, "Sync storage");
    assert_eq!(client.current_user().await.unwrap(), USER);
    // Every request carried our own user agent and asked for JSON.
    for r in emu.requests() {
        assert!(
            r.path.starts_with("/confluence/"),
            "context path kept: {}",
            r.path
        );
        let ua = r.header("user-agent").unwrap_or("");
        assert!(ua.starts_with("sber-tunnel/"), "non-browser UA, got {ua:?}");
        assert_eq!(r.header("accept"), Some("application/json"));
    }
}

#[tokio::test]
async fn probe_works_with_a_personal_access_token() {
    let emu = emulator().await;
    let client = ConfluenceClient::new(settings(
        &emu.base_url(),
        Auth::Bearer {
            token: Secret::new(TOKEN),
        },
    ))
    .unwrap();
    assert_eq!(client.store(PAGE).probe().await.unwrap().user, USER);
}

#[tokio::test]
async fn head_is_a_compare_and_swap_register() {
    let emu = emulator().await;
    let s = store(&emu);
    assert_eq!(
        s.read_head().await.unwrap(),
        None,
        "fresh page: no head yet"
    );

    let v1 = s.write_head(&json!({"gen": 1}), None).await.unwrap();
    let head = s.read_head().await.unwrap().expect("head exists now");
    assert_eq!((head.value.clone(), head.version), (json!({"gen": 1}), v1));

    let v2 = s.write_head(&json!({"gen": 2}), Some(v1)).await.unwrap();
    assert_eq!(v2, v1 + 1, "each update is one version");

    // A writer that still believes in v1 loses, and learns the current version.
    match s.write_head(&json!({"gen": "stale"}), Some(v1)).await {
        Err(RemoteError::Conflict { current }) => assert_eq!(current, Some(v2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Creating again when it exists is a conflict too.
    assert!(matches!(
        s.write_head(&json!({"gen": "again"}), None).await,
        Err(RemoteError::Conflict { .. })
    ));
    let head = s.read_head().await.unwrap().unwrap();
    assert_eq!(
        (head.value, head.version),
        (json!({"gen": 2}), v2),
        "losers changed nothing"
    );

    // Property writes were JSON requests on the documented key, and nobody was notified.
    let puts = requests_to(&emu, Some("PUT"), &format!("/property/{HEAD_PROPERTY_KEY}"));
    assert_eq!(puts.len(), 2);
    assert!(emu.notifications().is_empty(), "{:?}", emu.notifications());
}

#[tokio::test]
async fn an_oversized_head_is_refused_without_a_request() {
    let emu = emulator().await;
    let client = client(&emu);
    let s = client.store(PAGE);
    let before = client.request_count();
    let big = json!({ "x": "a".repeat(MAX_HEAD_CHARS) });
    match s.write_head(&big, None).await {
        Err(RemoteError::TooLarge { limit, .. }) => assert_eq!(limit, Some(MAX_HEAD_CHARS as u64)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(client.request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn put_find_get_round_trip_with_ranges_and_versions() {
    let emu = emulator().await;
    let s = store(&emu);
    let blob = name("chunk-0001.bin");
    let data = bytes_of(100_000, 3);
    let info = s
        .put_blob(&blob, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    assert_eq!((info.size, info.version), (100_000, 1));
    assert!(info.id.starts_with("att"), "{}", info.id);

    assert_eq!(s.find_blob(&blob).await.unwrap(), Some(info.clone()));
    assert_eq!(s.find_blob(&name("absent.bin")).await.unwrap(), None);

    assert_eq!(download(&s, &blob, None, None).await.unwrap(), data);
    assert_eq!(download(&s, &blob, Some(1), None).await.unwrap(), data);
    assert_eq!(
        download(&s, &blob, None, Some(10..20)).await.unwrap(),
        data[10..20],
        "a range brings exactly those bytes"
    );
    assert_eq!(
        download(&s, &blob, None, Some(99_000..100_000))
            .await
            .unwrap(),
        data[99_000..]
    );
    assert!(download(&s, &blob, None, Some(5..5))
        .await
        .unwrap()
        .is_empty());

    // Downloads are built from the name: no listing per file.
    emu.clear_requests();
    download(&s, &blob, None, None).await.unwrap();
    let reqs = emu.requests();
    assert_eq!(reqs.len(), 1, "one request per download: {reqs:?}");
    assert_eq!(
        reqs[0].path,
        format!("/download/attachments/{PAGE}/chunk-0001.bin")
    );

    // A missing blob is NotFound with its name.
    match download(&s, &name("nope.bin"), None, None).await {
        Err(RemoteError::NotFound(m)) => assert!(m.contains("nope.bin"), "{m}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn put_blob_is_idempotent_and_does_not_resend_big_blobs() {
    let emu = emulator().await;
    let s = store(&emu);
    let small = name("small.bin");
    let first = s
        .put_blob(&small, BlobSource::Bytes(bytes_of(10, 1)))
        .await
        .unwrap();
    let again = s
        .put_blob(&small, BlobSource::Bytes(bytes_of(10, 1)))
        .await
        .unwrap();
    assert_eq!(first, again, "same blob, same id and version");

    let big = name("big.bin");
    let data = bytes_of(1_000_000, 2);
    let first = s
        .put_blob(&big, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    emu.clear_requests();
    let again = s.put_blob(&big, BlobSource::Bytes(data)).await.unwrap();
    assert_eq!(first, again);
    let uploads: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(
        uploads.is_empty(),
        "an existing big blob is not sent again: {uploads:?}"
    );

    let atts = emu.attachments(PAGE);
    assert_eq!(atts.len(), 2, "no duplicates: {atts:?}");
    assert!(
        atts.iter().all(|a| a.versions.len() == 1),
        "no extra versions: {atts:?}"
    );
}

#[tokio::test]
async fn uploads_are_minor_edits_with_a_hash_comment_and_notify_nobody() {
    let emu = emulator().await;
    let s = store(&emu);
    let data = bytes_of(5000, 9);
    s.put_blob(&name("a.bin"), BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    s.put_mutable(&name("manifest.json"), Bytes::from_static(b"{}"))
        .await
        .unwrap();
    s.put_mutable(&name("manifest.json"), Bytes::from_static(b"{\"v\":2}"))
        .await
        .unwrap();
    s.probe_write().await.unwrap();
    s.probe_write().await.unwrap();

    let uploads: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("/child/attachment"))
        .collect();
    assert_eq!(uploads.len(), 5, "{uploads:?}");
    for r in &uploads {
        let field = |k: &str| {
            r.multipart_fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(field("minorEdit").as_deref(), Some("true"), "{r:?}");
        let comment = field("comment").expect("a comment on every upload");
        assert!(
            comment.starts_with("sha256=") && comment.len() == 71,
            "{comment}"
        );
        assert_eq!(r.header("x-atlassian-token"), Some("no-check"));
        assert_eq!(r.file_names.len(), 1, "one file per request");
    }
    let first = &uploads[0];
    assert_eq!(
        first
            .multipart_fields
            .iter()
            .find(|(n, _)| n == "comment")
            .map(|(_, v)| v.clone()),
        Some(format!("sha256={}", Digest::of(&data).to_hex()))
    );
    let kinds: Vec<_> = emu.notifications().into_iter().map(|n| n.kind).collect();
    // probe_write deletes the previous probe version (not gated by minorEdit on real DC).
    assert!(
        kinds
            .iter()
            .all(|k| *k == confluence_emulator::NotificationKind::AttachmentVersionDeleted),
        "uploads notify nobody: {kinds:?}"
    );
}

#[tokio::test]
async fn put_blob_streams_a_file_slice_and_refuses_a_changed_file() {
    let emu = emulator().await;
    let s = store(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source.dat");
    let content = bytes_of(700_000, 5);
    std::fs::write(&path, &content).unwrap();
    let slice = &content[1000..601_000];
    let info = s
        .put_blob(
            &name("slice.bin"),
            BlobSource::File {
                path: path.clone(),
                offset: 1000,
                len: slice.len() as u64,
                sha256: Digest::of(slice),
            },
        )
        .await
        .unwrap();
    assert_eq!(info.size, slice.len() as u64);
    assert_eq!(
        download(&s, &name("slice.bin"), None, None).await.unwrap(),
        slice
    );

    // The caller's hash no longer matches the file: nothing may be stored.
    for len in [100_usize, 600_000] {
        let blob = name(&format!("changed-{len}.bin"));
        let err = s
            .put_blob(
                &blob,
                BlobSource::File {
                    path: path.clone(),
                    offset: 0,
                    len: len as u64,
                    sha256: Digest::of(b"what the file used to hold"),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RemoteError::SourceChanged(p) if *p == path),
            "{err:?}"
        );
        assert_eq!(
            s.find_blob(&blob).await.unwrap(),
            None,
            "no torn upload kept"
        );
    }
    assert_eq!(
        emu.attachments(PAGE).len(),
        1,
        "{:?}",
        emu.attachments(PAGE)
    );

    // A missing file is a local I/O error.
    let err = s
        .put_blob(
            &name("gone.bin"),
            BlobSource::File {
                path: dir.path().join("missing"),
                offset: 0,
                len: 1,
                sha256: Digest::of(b"x"),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Io(_)), "{err:?}");
}

#[tokio::test]
async fn put_mutable_adds_versions_under_the_exact_current_title() {
    let emu = emulator().await;
    let s = store(&emu);
    let m = name("manifest.json");
    let v1 = s.put_mutable(&m, Bytes::from_static(b"one")).await.unwrap();
    let v2 = s
        .put_mutable(&m, Bytes::from_static(b"second"))
        .await
        .unwrap();
    assert_eq!(v1.id, v2.id, "same attachment");
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v2.size, 6);
    assert_eq!(download(&s, &m, None, None).await.unwrap(), b"second");
    assert_eq!(download(&s, &m, Some(1), None).await.unwrap(), b"one");

    let data_posts = requests_to(&emu, Some("POST"), "/data");
    assert_eq!(data_posts.len(), 1);
    assert_eq!(data_posts[0].file_names, vec!["manifest.json".to_string()]);

    // delete_blob_version removes exactly that version.
    let v3 = s
        .put_mutable(&m, Bytes::from_static(b"third"))
        .await
        .unwrap();
    s.delete_blob_version(&v3, 1).await.unwrap();
    let att = emu
        .attachments(PAGE)
        .into_iter()
        .find(|a| a.id == v3.id)
        .unwrap();
    let numbers: Vec<u64> = att.versions.iter().map(|v| v.number).collect();
    assert_eq!(numbers, vec![2, 3]);
    assert_eq!(download(&s, &m, None, None).await.unwrap(), b"third");
}

#[tokio::test]
async fn put_mutable_keeps_a_differently_cased_title() {
    let emu = emulator().await;
    // Someone attached "MANIFEST.JSON" by hand; our lower-case name finds it (Confluence
    // matches names case-insensitively) and must not rename it.
    let raw = reqwest::Client::new();
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"old".to_vec()).file_name("MANIFEST.JSON"),
        )
        .text("minorEdit", "true");
    let resp = raw
        .post(format!(
            "{}/rest/api/content/{PAGE}/child/attachment",
            emu.base_url()
        ))
        .basic_auth(USER, Some(PASSWORD))
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let s = store(&emu);
    let info = s
        .put_mutable(&name("manifest.json"), Bytes::from_static(b"new"))
        .await
        .unwrap();
    assert_eq!(info.version, 2);
    let atts = emu.attachments(PAGE);
    assert_eq!(atts.len(), 1);
    assert_eq!(
        atts[0].title, "MANIFEST.JSON",
        "the rename trap was avoided"
    );
}

#[tokio::test]
async fn list_blobs_pages_past_200_and_skips_foreign_attachments() {
    // With and without DC's endless listing past 200 (CONFSERVER-95396).
    for bug in [false, true] {
        let emu = builder().listing_bug_past_200(bug).spawn().await.unwrap();
        let s = store(&emu);
        let mut expected = Vec::new();
        for i in 0..230 {
            let info = s
                .put_blob(
                    &name(&format!("c{i:04}.bin")),
                    BlobSource::Bytes(bytes_of(i + 1, 0)),
                )
                .await
                .unwrap();
            expected.push(info);
        }
        s.probe_write().await.unwrap();
        emu.clear_requests();
        let mut listed = s.list_blobs().await.unwrap();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        expected.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            listed, expected,
            "every blob once, the probe file left out (bug: {bug})"
        );
        let pages = emu.requests();
        assert!(pages.len() >= 2, "followed _links.next: {pages:?}");
        assert!(
            pages.len() <= 4,
            "stopped despite an endless next (bug: {bug}): {pages:?}"
        );
        assert!(
            pages.iter().all(|r| r.query.contains("limit=200")),
            "{pages:?}"
        );
    }
}

#[tokio::test]
async fn delete_blob_trashes_and_is_idempotent() {
    let emu = emulator().await;
    let s = store(&emu);
    let b = name("old.bin");
    let info = s
        .put_blob(&b, BlobSource::Bytes(bytes_of(10, 0)))
        .await
        .unwrap();
    s.delete_blob(&info).await.unwrap();
    assert_eq!(s.find_blob(&b).await.unwrap(), None);
    assert!(s.list_blobs().await.unwrap().is_empty());
    s.delete_blob(&info).await.unwrap();
    let atts = emu.attachments(PAGE);
    assert_eq!(
        atts[0].status, "trashed",
        "DC moves deleted attachments to the trash"
    );
}

#[tokio::test]
async fn probe_write_reuses_one_tidy_probe_attachment() {
    let emu = emulator().await;
    let s = store(&emu);
    s.probe_write().await.unwrap();
    s.probe_write().await.unwrap();
    s.probe_write().await.unwrap();
    let atts = emu.attachments(PAGE);
    assert_eq!(atts.len(), 1, "{atts:?}");
    assert_eq!(atts[0].title, PROBE_ATTACHMENT_NAME);
    assert_eq!(
        atts[0].versions.len(),
        1,
        "old probe versions deleted: {atts:?}"
    );
    assert!(atts[0].versions.iter().all(|v| v.minor_edit));
}

#[tokio::test]
async fn list_blobs_keeps_hand_attached_files_out_and_tells_each_blobs_time() {
    let emu = emulator().await;
    let s = store(&emu);
    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap()
        - 2_000;
    let ours = s
        .put_blob(&name("c-ours"), BlobSource::Bytes(bytes_of(10, 0)))
        .await
        .unwrap();
    // A person attaches files through the browser: names in any case.
    let http = reqwest::Client::new();
    for title in ["P-1.jpg", "Report.PDF", "C-ABCDEF"] {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"by hand".to_vec()).file_name(title),
        );
        let r = http
            .post(format!(
                "{}/rest/api/content/{PAGE}/child/attachment",
                emu.base_url()
            ))
            .basic_auth(USER, Some(PASSWORD))
            .header("X-Atlassian-Token", "no-check")
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{title}: {}", r.status());
    }
    let listed = s.list_blobs().await.unwrap();
    assert_eq!(
        listed.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        vec!["c-ours"],
        "titles that are not blob names as they stand are not blobs (never lower-cased into one)"
    );
    let when = listed[0]
        .modified_ms
        .expect("the listing says when it was written");
    assert!(when >= before_ms, "{when} is the upload's time");
    assert_eq!(
        ours.modified_ms,
        Some(when),
        "the upload's answer says the same"
    );
}

/// `put_blob_created` is `true` only when the call's own POST created the attachment (the
/// commit spares the look-up right after it of such blobs: `tunnel-core/src/sync/
/// fresh_blobs.rs`); a blob found on the page — small (the server refuses the name) or big
/// (looked up before sending) — is `false`, and so is one re-created after a trash, seen
/// again: the attachment behind the name is then a new one (a new id), never the trashed one.
#[tokio::test]
async fn put_blob_created_says_whether_the_call_created_the_attachment() {
    let emu = emulator().await;
    let s = store(&emu);
    for (n, size) in [("small.bin", 10), ("big.bin", 1_000_000)] {
        let data = bytes_of(size, 7);
        let (first, created) = s
            .put_blob_created(&name(n), BlobSource::Bytes(data.clone()))
            .await
            .unwrap();
        assert!(created, "{n}: created by this call");
        let (again, created) = s
            .put_blob_created(&name(n), BlobSource::Bytes(data.clone()))
            .await
            .unwrap();
        assert!(!created, "{n}: found on the page");
        assert_eq!(first, again);
        s.delete_blob(&first).await.unwrap();
        let (renewed, created) = s
            .put_blob_created(&name(n), BlobSource::Bytes(data))
            .await
            .unwrap();
        assert!(created, "{n}: created again after the trash");
        assert_ne!(
            renewed.id, first.id,
            "{n}: a new attachment, not the trashed one"
        );
    }
}
