//! Content properties: create, strict +1 CAS with DC's 409 text, 400/404 texts, limits.

use crate::util::{self, C, PAGE};
use serde_json::json;

#[tokio::test]
async fn property_compare_and_swap() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let key_path = format!("/rest/api/content/{PAGE}/property/sber-tunnel.head");
    let (s, v) = c.get_json(&key_path).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (
            404,
            Some("No content property found with key: sber-tunnel.head")
        )
    );

    let (s, v) = c
        .put_json(
            &key_path,
            &json!({"value": {"gen": 1}, "version": {"number": 1}}),
        )
        .await;
    assert_eq!(
        (s, v["version"]["number"].as_u64()),
        (200, Some(1)),
        "version 1 creates"
    );
    assert_eq!(v["key"], "sber-tunnel.head");
    assert_eq!(v["_links"]["base"], json!(emu.base_url()));
    let (s, _) = c
        .put_json(
            &key_path,
            &json!({"value": {"gen": 1}, "version": {"number": 1}}),
        )
        .await;
    assert_eq!(s, 409, "creating an existing key conflicts");

    let (s, v) = c
        .put_json(
            &key_path,
            &json!({"value": {"gen": 2}, "version": {"number": 2}}),
        )
        .await;
    assert_eq!((s, v["version"]["number"].as_u64()), (200, Some(2)));
    let (s, v) = c
        .put_json(
            &key_path,
            &json!({"value": {"gen": 9}, "version": {"number": 2}}),
        )
        .await;
    assert_eq!(s, 409, "a stale writer loses");
    assert_eq!(
        v["message"],
        "You're trying to edit an outdated version of that ContentProperty. Latest version is 2"
    );
    let (_, v) = c.get_json(&key_path).await;
    assert_eq!(
        v["value"],
        json!({"gen": 2}),
        "the losing write changed nothing"
    );

    let (s, _) = c.put_json(&key_path, &json!({"value": 1})).await;
    assert_eq!(s, 400, "version is required");
    let (s, v) = c
        .put_json(
            &key_path,
            &json!({"key": "other", "value": 1, "version": {"number": 3}}),
        )
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Path/value mismatch on key"))
    );
    let (s, v) = c
        .put_json(
            &format!("/rest/api/content/{PAGE}/property/nope"),
            &json!({"value": 1, "version": {"number": 2}}),
        )
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (404, Some("Could not find Property to update."))
    );
}

#[tokio::test]
async fn property_post_list_delete_and_limits() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let base = format!("/rest/api/content/{PAGE}/property");
    let (s, _) = c
        .post_json(&base, &json!({"key": "a", "value": [1, 2]}))
        .await;
    assert_eq!(s, 200);
    let (s, _) = c.post_json(&base, &json!({"key": "a", "value": 3})).await;
    assert_eq!(s, 409);
    let (s, _) = c
        .post_json(&format!("{base}/b"), &json!({"value": "x"}))
        .await;
    assert_eq!(s, 200, "POST with the key in the path");
    let big = "x".repeat(32_768);
    let (s, _) = c
        .post_json(&base, &json!({"key": "big", "value": big}))
        .await;
    assert_eq!(s, 400, "values over 32 768 serialized chars are refused");
    let (s, _) = c
        .post_json(&base, &json!({"key": "k".repeat(256), "value": 1}))
        .await;
    assert_eq!(s, 400, "keys over 255 chars are refused");
    for i in 0..12 {
        c.post_json(&base, &json!({"key": format!("p{i:02}"), "value": i}))
            .await;
    }
    let (s, v) = c.get_json(&base).await;
    assert_eq!(
        (s, v["size"].as_u64(), v["limit"].as_u64()),
        (200, Some(10), Some(10)),
        "default limit 10"
    );
    assert!(v["_links"]["next"].is_string());
    let r = c
        .req(reqwest::Method::DELETE, &format!("{base}/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(c.get(&format!("{base}/a")).await.status(), 404);
}
