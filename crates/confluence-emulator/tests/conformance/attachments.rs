//! Attachment endpoints: listing and paging, create rules, `/data`, metadata PUT, versions,
//! trash and purge, the download servlet, notifications and the request log.

use std::collections::BTreeSet;

use crate::util::{self, C, PAGE};
use confluence_emulator::NotificationKind;
use serde_json::{json, Value};

fn list_path() -> String {
    format!("/rest/api/content/{PAGE}/child/attachment")
}

async fn upload_many(c: &C, n: usize) {
    let names: Vec<String> = (0..n).map(|i| format!("f{i:04}.bin")).collect();
    for chunk in names.chunks(25) {
        let files: Vec<(&str, &[u8])> = chunk.iter().map(|n| (n.as_str(), b"x" as &[u8])).collect();
        let (s, v) = c.upload(&files).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v["size"].as_u64(),
            Some(chunk.len() as u64),
            "one result per file"
        );
    }
}

#[tokio::test]
async fn listing_pages_by_50_and_caps_at_200_following_next() {
    let emu = util::builder()
        .context_path("/confluence")
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    upload_many(&c, 230).await;

    let (s, v) = c.get_json(&list_path()).await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["start"].as_u64(), v["limit"].as_u64(), v["size"].as_u64()),
        (Some(0), Some(50), Some(50)),
        "default limit 50"
    );
    let next = v["_links"]["next"]
        .as_str()
        .expect("next present when more exist");
    assert_eq!(
        next,
        format!("{}?limit=50&start=50", list_path()),
        "next is relative to base (no context path)"
    );
    assert!(
        v["_links"].get("prev").is_none(),
        "no prev on the first page"
    );

    let (_, v) = c.get_json(&format!("{}?limit=500", list_path())).await;
    assert_eq!(v["size"].as_u64(), Some(200), "silent cap at 200");
    assert_eq!(v["limit"].as_u64(), Some(500), "limit echoes the request");
    let next = v["_links"]["next"].as_str().unwrap().to_string();

    // Follow next to the end, as a client must.
    let mut ids = BTreeSet::new();
    let mut path = format!("{}?limit=200&expand=version", list_path());
    let mut pages = 0;
    loop {
        let (s, v) = c.get_json(&path).await;
        assert_eq!(s, 200);
        pages += 1;
        for r in v["results"].as_array().unwrap() {
            assert!(
                r["version"]["number"].is_u64(),
                "expand=version inlines the version"
            );
            ids.insert(r["id"].as_str().unwrap().to_string());
        }
        match v["_links"]["next"].as_str() {
            Some(n) => path = n.to_string(),
            None => break,
        }
        assert!(pages < 10, "paging terminates");
    }
    assert_eq!((ids.len(), pages), (230, 2));
    let (_, v) = c.get_json(&next).await;
    assert_eq!(
        v["size"].as_u64(),
        Some(30),
        "the next link after the cap continues at 200"
    );
    assert!(
        v["_links"]["prev"].is_string(),
        "prev present when start > 0"
    );
    assert!(v["_links"].get("next").is_none());
}

#[tokio::test]
async fn filename_filter_is_case_insensitive() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    c.upload_one("Report.BIN", b"1").await;
    c.upload_one("other.bin", b"2").await;
    let (_, v) = c
        .get_json(&format!("{}?filename=report.bin", list_path()))
        .await;
    assert_eq!(v["size"].as_u64(), Some(1));
    assert_eq!(v["results"][0]["title"], "Report.BIN");
    let a = &v["results"][0];
    assert_eq!(a["extensions"]["fileSize"], 1, "fileSize is a number");
    assert_eq!(
        a["metadata"]["labels"]["size"], 0,
        "metadata.labels is always expanded"
    );
    assert!(a["_links"]["download"]
        .as_str()
        .unwrap()
        .starts_with(&format!(
            "/download/attachments/{PAGE}/Report.BIN?version=1&modificationDate="
        )));
    assert!(a.get("version").is_none(), "version only when expanded");
}

#[tokio::test]
async fn create_rules_duplicates_comments_and_allow_duplicated() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let path = list_path();

    let r = c
        .upload_to(&path, &[("a.bin", b"1"), ("a.bin", b"2")], &[])
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "Cannot add new attachments with duplicate file name: a.bin"
    );

    let r = c
        .upload_to(
            &path,
            &[("a.bin", b"1"), ("b.bin", b"2")],
            &[("comment", "only one")],
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "Must be same number of attachment files and comments."
    );

    let r = c.upload_to(&path, &[], &[("comment", "x")]).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "At least one attachment file must be included."
    );
    assert!(
        emu.attachments(PAGE).is_empty(),
        "rejected requests store nothing"
    );

    let id = c.upload_one("a.bin", b"first").await;
    let r = c.upload_to(&path, &[("a.bin", b"again")], &[]).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    let msg = v["message"].as_str().unwrap();
    let prefix = "Cannot add a new attachment with same file name as an existing attachment: a.bin. Log referral number is ";
    assert!(msg.starts_with(prefix), "{msg}");
    assert!(
        uuid::Uuid::parse_str(&msg[prefix.len()..]).is_ok(),
        "referral number is a uuid: {msg}"
    );

    // allowDuplicated=true is create-or-update: a new version of the same attachment.
    let r = c
        .upload_to(
            &format!("{path}?allowDuplicated=true"),
            &[("a.bin", b"second")],
            &[("minorEdit", "true")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["results"][0]["id"], json!(id));
    assert_eq!(
        v["results"][0]["version"]["number"], 2,
        "create answers are expanded with version"
    );
    assert_eq!(v["results"][0]["container"]["id"], PAGE, "…and container");

    // Case: the pre-check is case-sensitive, the lookup is not: A.BIN becomes version 3 of a.bin.
    let r = c
        .upload_to(&path, &[("A.BIN", b"third")], &[("minorEdit", "true")])
        .await;
    assert_eq!(r.status(), 200);
    let snap = emu.attachments(PAGE);
    assert_eq!(snap.len(), 1);
    assert_eq!(
        (snap[0].title.as_str(), snap[0].versions.len()),
        ("a.bin", 3)
    );

    // Path components are stripped.
    let r = c
        .upload_to(&path, &[("dir/sub/c.bin", b"c")], &[("minorEdit", "true")])
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["results"][0]["title"], "c.bin");

    // Comments over 255 characters are refused.
    let long = "x".repeat(256);
    let r = c
        .upload_to(&path, &[("d.bin", b"d")], &[("comment", &long)])
        .await;
    assert_eq!(r.status(), 500);
}

#[tokio::test]
async fn put_on_child_attachment_is_405_with_empty_body() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let r = c
        .req(reqwest::Method::PUT, &list_path())
        .header("X-Atlassian-Token", "no-check")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn data_adds_versions_and_renames_on_a_different_filename() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let id = c.upload_one("manifest.json", b"v1").await;
    let data = format!("/rest/api/content/{PAGE}/child/attachment/{id}/data");
    let r = c
        .upload_to(
            &data,
            &[("manifest.json", b"v2")],
            &[("minorEdit", "true"), ("comment", "second")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], json!(id), "a single object, not a RestList");
    assert_eq!(v["version"]["number"], 2);
    assert_eq!(v["metadata"]["comment"], "second");
    let (_, page) = c
        .get_json(&format!("/rest/api/content/{PAGE}?expand=version"))
        .await;
    assert_eq!(
        page["version"]["number"], 1,
        "attachment versions do not bump the page"
    );

    let r = c
        .upload_to(&data, &[("renamed.json", b"v3")], &[("minorEdit", "true")])
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["title"].as_str(), v["version"]["number"].as_u64()),
        (Some("renamed.json"), Some(3)),
        "rename trap"
    );

    let r = c
        .upload_to(
            &format!("/rest/api/content/{PAGE}/child/attachment/att1/data"),
            &[("x", b"x")],
            &[],
        )
        .await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Can't find attachment with id: att1");

    // Version history (newest first) and an old version's bytes.
    let (s, v) = c
        .get_json(&format!("/rest/experimental/content/{id}/version"))
        .await;
    assert_eq!(s, 200);
    let numbers: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![3, 2, 1]);
    let r = c
        .get(&format!(
            "/download/attachments/{PAGE}/renamed.json?version=1"
        ))
        .await;
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        b"v1",
        "old versions carry the new name"
    );
}

#[tokio::test]
async fn metadata_put_accepts_equal_or_next_version_only() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let id = c.upload_one("m.bin", b"m").await;
    let path = format!("/rest/api/content/{PAGE}/child/attachment/{id}");
    let body = |n: u64| json!({"id": id, "type": "attachment", "title": "m.bin", "version": {"number": n, "minorEdit": true}, "metadata": {"comment": format!("c{n}")}});
    let (s, v) = c.put_json(&path, &body(1)).await;
    assert_eq!(
        (s, v["version"]["number"].as_u64()),
        (200, Some(1)),
        "equal is accepted"
    );
    let (s, v) = c.put_json(&path, &body(2)).await;
    assert_eq!(
        (
            s,
            v["version"]["number"].as_u64(),
            v["metadata"]["comment"].as_str()
        ),
        (200, Some(2), Some("c2"))
    );
    let (s, v) = c.put_json(&path, &body(5)).await;
    assert_eq!(s, 409);
    assert!(
        v["message"].as_str().unwrap().starts_with(
            "You're trying to edit the wrong version of that Attachment. Latest version is 2"
        ),
        "{v}"
    );
    let (s, v) = c
        .put_json(
            &path,
            &json!({"type": "attachment", "version": {"number": 2}}),
        )
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Updated attachment must include an id"))
    );
}

#[tokio::test]
async fn download_servlet_versions_ranges_and_404s() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let id = c.upload_one("d a.bin", b"0123456789").await;
    let (_, v) = c
        .get_json(&format!("/rest/api/content/{id}?expand=version"))
        .await;
    let link = v["_links"]["download"].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!(
            "/download/attachments/{PAGE}/d%20a.bin?version=1&"
        )),
        "{link}"
    );
    let r = c.get(&link).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"0123456789");

    let r = c
        .req(
            reqwest::Method::GET,
            &format!("/download/attachments/{PAGE}/d%20a.bin"),
        )
        .header("Range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 2-5/10");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"2345");
    let r = c
        .req(
            reqwest::Method::GET,
            &format!("/download/attachments/{PAGE}/d%20a.bin"),
        )
        .header("Range", "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"789");
    let r = c
        .req(
            reqwest::Method::GET,
            &format!("/download/attachments/{PAGE}/d%20a.bin"),
        )
        .header("Range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */10");

    assert_eq!(
        c.get(&format!("/download/attachments/{PAGE}/d%20a.bin?version=9"))
            .await
            .status(),
        404
    );
    assert_eq!(
        c.get(&format!("/download/attachments/{PAGE}/missing.bin"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn trash_purge_and_version_delete_rules() {
    let emu = util::start().await;
    let alice = C::alice(&emu);
    let admin = C::new(&emu, "admin", "adminpw");
    let id = alice.upload_one("t.bin", b"t").await;
    let del = |c: &C, q: &str| {
        c.req(
            reqwest::Method::DELETE,
            &format!("/rest/api/content/{id}{q}"),
        )
        .send()
    };

    let r = del(&admin, "?status=trashed").await.unwrap();
    assert_eq!(r.status(), 400, "purge needs the item trashed first");
    let r = del(&C::new(&emu, "bob", "pw"), "").await.unwrap();
    assert_eq!(r.status(), 403, "read-only users cannot delete");
    let r = del(&alice, "").await.unwrap();
    assert_eq!(r.status(), 204);
    let (_, v) = alice.get_json(&list_path()).await;
    assert_eq!(v["size"], 0, "trashed attachments are hidden from listings");
    assert_eq!(
        alice
            .get(&format!("/download/attachments/{PAGE}/t.bin"))
            .await
            .status(),
        404
    );
    assert_eq!(
        alice.get(&format!("/rest/api/content/{id}")).await.status(),
        404
    );
    let (s, v) = alice
        .get_json(&format!("/rest/api/content/{id}?status=trashed"))
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("trashed")));
    assert_eq!(emu.attachments(PAGE)[0].status, "trashed", "still stored");

    let r = del(&alice, "?status=trashed").await.unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "You do not have permission to purge content from trash in space: TST"
    );
    let r = del(&alice, "?status=bogus").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = del(&admin, "?status=trashed").await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(emu.attachments(PAGE).is_empty(), "purged for good");

    // Version deletion.
    let id = alice.upload_one("v.bin", b"1").await;
    alice
        .upload_to(
            &format!("/rest/api/content/{PAGE}/child/attachment/{id}/data"),
            &[("v.bin", b"2")],
            &[("minorEdit", "true")],
        )
        .await;
    let r = alice
        .req(
            reqwest::Method::DELETE,
            &format!("/rest/experimental/content/{id}/version/1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let snap = emu.attachments(PAGE);
    assert_eq!(
        snap[0]
            .versions
            .iter()
            .map(|v| v.number)
            .collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(
        alice
            .get(&format!("/download/attachments/{PAGE}/v.bin?version=1"))
            .await
            .status(),
        404
    );
    let kinds: Vec<NotificationKind> = emu.notifications().iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        vec![
            NotificationKind::AttachmentTrashed,
            NotificationKind::AttachmentVersionDeleted
        ],
        "deletes notify, minor uploads do not"
    );
}

#[tokio::test]
async fn uploads_without_minor_edit_notify_watchers() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let r = c.upload_to(&list_path(), &[("n.bin", b"n")], &[]).await;
    assert_eq!(r.status(), 200);
    let r = c
        .upload_to(&list_path(), &[("q.bin", b"q")], &[("minorEdit", "true")])
        .await;
    assert_eq!(r.status(), 200);
    let r = c
        .upload_to(&list_path(), &[("h.bin", b"h")], &[("hidden", "true")])
        .await;
    assert_eq!(
        r.status(),
        200,
        "hidden uploads are stored but do not notify"
    );
    let n = emu.notifications();
    assert_eq!(
        n.len(),
        1,
        "only the upload without minorEdit=true notifies: {n:?}"
    );
    assert_eq!(
        (n[0].kind, n[0].title.as_str(), n[0].user.as_str()),
        (NotificationKind::AttachmentCreated, "n.bin", "alice")
    );
}

#[tokio::test]
async fn request_log_records_multipart_fields_and_sizes() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    emu.clear_requests();
    c.upload_to(
        &list_path(),
        &[("log.bin", b"12345")],
        &[("minorEdit", "true"), ("comment", "sha256=ab")],
    )
    .await;
    let r = c
        .get(&format!("/download/attachments/{PAGE}/log.bin?version=1"))
        .await;
    assert_eq!(r.bytes().await.unwrap().len(), 5);
    let log = emu.requests();
    assert_eq!(log.len(), 2);
    let up = &log[0];
    assert_eq!(
        (up.method.as_str(), up.path.as_str(), up.status),
        ("POST", list_path().as_str(), 200)
    );
    assert_eq!(
        up.multipart_fields,
        vec![
            ("minorEdit".to_string(), "true".to_string()),
            ("comment".to_string(), "sha256=ab".to_string())
        ]
    );
    assert_eq!(up.file_names, vec!["log.bin".to_string()]);
    assert_eq!(up.header("x-atlassian-token"), Some("no-check"));
    assert_eq!(up.header("user-agent"), Some(util::UA));
    assert!(up.bytes_in > 5, "multipart framing counts too");
    let down = &log[1];
    assert_eq!((down.query.as_str(), down.bytes_out), ("version=1", 5));
}

#[tokio::test]
async fn listing_bug_past_200_can_be_reproduced() {
    let emu = util::builder()
        .listing_bug_past_200(true)
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    upload_many(&c, 228).await;
    let (_, v) = c
        .get_json(&format!("{}?start=200&limit=50", list_path()))
        .await;
    assert_eq!(v["size"], 50, "CONFSERVER-95396 reports a full page");
    assert!(v["_links"]["next"].is_string(), "…and keeps emitting next");
    let (_, v) = c
        .get_json(&format!("{}?start=1000&limit=50", list_path()))
        .await;
    assert!(v["_links"]["next"].is_string(), "forever");
    let (_, v) = c
        .get_json(&format!("{}?start=150&limit=50", list_path()))
        .await;
    assert_eq!(v["size"], 50, "below 200 paging is correct");
}

#[tokio::test]
async fn metadata_put_restores_trashed_attachment_for_space_admins() {
    let emu = util::start().await;
    let alice = C::alice(&emu);
    let id = alice.upload_one("r.bin", b"r").await;
    let r = alice
        .req(reqwest::Method::DELETE, &format!("/rest/api/content/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let path = format!("/rest/api/content/{PAGE}/child/attachment/{id}");
    let body = json!({"id": id, "type": "attachment", "title": "r.bin", "version": {"number": 2}});
    let (s, _) = alice.put_json(&path, &body).await;
    assert_eq!(s, 403, "restoring needs space admin");
    let (s, v) = C::new(&emu, "admin", "adminpw")
        .put_json(&path, &body)
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("current")));
    let (_, v) = alice.get_json(&list_path()).await;
    assert_eq!(v["size"], 1, "listed again after restore");
}
