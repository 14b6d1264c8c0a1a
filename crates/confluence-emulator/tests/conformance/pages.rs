//! Page GET/PUT, `_links` with and without a context path, 404/409/400/415 answers.

use crate::util::{self, C, PAGE};
use serde_json::json;

#[tokio::test]
async fn page_get_has_dc_shape_and_links_with_context_path() {
    let emu = util::builder()
        .context_path("/confluence")
        .spawn()
        .await
        .unwrap();
    let base = emu.base_url();
    assert!(
        base.ends_with("/confluence") && !base.ends_with('/'),
        "base url carries the context path: {base}"
    );
    let c = C::alice(&emu);
    let (s, v) = c.get_json(&format!("/rest/api/content/{PAGE}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["id"], json!(PAGE), "ids are strings");
    assert_eq!(v["type"], "page");
    assert_eq!(v["title"], format!("Page {PAGE}"));
    assert_eq!(v["space"]["key"], "TST", "default expand includes space");
    assert_eq!(v["version"]["number"], 1, "default expand includes version");
    assert!(v["history"]["createdDate"].as_str().unwrap().contains('T'));
    assert_eq!(v["_links"]["base"], json!(base));
    assert_eq!(v["_links"]["context"], "/confluence");
    assert_eq!(
        v["_links"]["self"],
        json!(format!("{base}/rest/api/content/{PAGE}"))
    );
    assert_eq!(
        v["_links"]["webui"],
        json!(format!("/display/TST/Page+{PAGE}")),
        "webui is relative to base"
    );
    // Without the context path, nothing is served.
    let root = base.trim_end_matches("/confluence");
    let r = util::http()
        .get(format!("{root}/rest/api/content/{PAGE}"))
        .basic_auth("alice", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn page_without_context_path_has_empty_context() {
    let emu = util::start().await;
    let (_, v) = C::alice(&emu)
        .get_json(&format!("/rest/api/content/{PAGE}?expand=version"))
        .await;
    assert_eq!(v["_links"]["context"], "");
    assert_eq!(v["_links"]["base"], json!(emu.base_url()));
    assert!(
        v.get("space").is_none() && v["_expandable"]["space"].is_string(),
        "only asked expansions are inlined"
    );
}

#[tokio::test]
async fn missing_page_is_404_with_content_id_text() {
    let emu = util::start().await;
    let (s, v) = C::alice(&emu).get_json("/rest/api/content/999").await;
    assert_eq!(s, 404);
    assert_eq!(v["statusCode"], 404);
    assert_eq!(v["message"], "No content found with id: ContentId{id=999}");
    assert_eq!(v["reason"], "Not Found");
    assert_eq!(v["data"]["successful"], false);
}

#[tokio::test]
async fn page_put_requires_exactly_the_next_version() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let path = format!("/rest/api/content/{PAGE}");
    let body = |n: u64| json!({"id": PAGE, "type": "page", "title": "Renamed", "version": {"number": n, "minorEdit": true}});
    let (s, v) = c.put_json(&path, &body(3)).await;
    assert_eq!(s, 409);
    assert_eq!(
        v["message"],
        "Version must be incremented on update. Current version is: 1"
    );
    assert_eq!(v["reason"], "Conflict");
    let (s, v) = c
        .put_json(&path, &json!({"id": PAGE, "type": "page", "title": "x"}))
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        "Must supply an incremented version when updating Content. No version supplied."
    );
    let (s, v) = c.put_json(&path, &body(2)).await;
    assert_eq!(
        (s, v["version"]["number"].as_u64(), v["title"].as_str()),
        (200, Some(2), Some("Renamed"))
    );
    assert!(
        emu.notifications().is_empty(),
        "a minor page edit notifies nobody"
    );
    let (s, _) = c
        .put_json(
            &path,
            &json!({"id": PAGE, "type": "page", "title": "Renamed", "version": {"number": 3}}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        emu.notifications().len(),
        1,
        "a non-minor page edit notifies watchers"
    );
}

#[tokio::test]
async fn json_body_without_json_content_type_is_415() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let r = c
        .req(reqwest::Method::PUT, &format!("/rest/api/content/{PAGE}"))
        .header("Content-Type", "text/plain")
        .body(r#"{"version":{"number":2}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
}
