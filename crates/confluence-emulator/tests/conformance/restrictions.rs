//! Content restrictions (`confluence-api.md` §17, issue 17 item 6): the DC REST resource, and
//! their enforcement — a second user outside a read restriction is locked out of every read
//! and write route of the page (404, as Confluence hides the page), one outside an update
//! restriction may read but gets 403 on writes, and nobody may lock themselves out.

use reqwest::Method;
use serde_json::{json, Value};

use crate::util::{builder, C, PAGE};

/// alice (writer), carol (second writer), bob (read-only); page PAGE and 777.
async fn start() -> confluence_emulator::EmulatorHandle {
    builder()
        .user("carol", "cpw")
        .group("carol", "team")
        .spawn()
        .await
        .expect("emulator starts")
}

fn private_to(user: &str) -> Value {
    json!([
        { "operation": "read", "restrictions": { "user": [ { "type": "known", "username": user } ], "group": [] } },
        { "operation": "update", "restrictions": { "user": [ { "type": "known", "username": user } ], "group": [] } }
    ])
}

/// What alice puts on the page before restricting it: one attachment and one property.
async fn seed(alice: &C) -> String {
    let att = alice.upload_one("a.txt", b"hello").await;
    let (s, v) = alice
        .post_json(
            &format!("/rest/api/content/{PAGE}/property"),
            &json!({ "key": "k", "value": { "x": 1 } }),
        )
        .await;
    assert_eq!(s, 200, "property created: {v}");
    att
}

/// Every read route of the page, its attachment, property, versions and download.
fn read_routes(att: &str) -> Vec<String> {
    vec![
        format!("/rest/api/content/{PAGE}"),
        format!("/rest/api/content/{PAGE}?expand=version"),
        format!("/rest/api/content/{att}"),
        format!("/rest/api/content/{PAGE}/child/attachment"),
        format!("/rest/api/content/{PAGE}/child/attachment?filename=a.txt"),
        format!("/rest/api/content/{PAGE}/property"),
        format!("/rest/api/content/{PAGE}/property/k"),
        format!("/rest/experimental/content/{att}/version"),
        format!("/rest/experimental/content/{att}/version/1"),
        format!("/rest/api/content/{PAGE}/restriction/byOperation"),
        format!("/rest/api/content/{PAGE}/restriction/byOperation/read"),
        format!("/rest/api/content/{PAGE}/restriction"),
        format!("/rest/experimental/content/{PAGE}/restriction/byOperation"),
        format!("/download/attachments/{PAGE}/a.txt"),
        format!("/download/attachments/{PAGE}/a.txt?version=1"),
    ]
}

/// Statuses of every write route, tried as `c`.
async fn write_statuses(c: &C, att: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    let r = c
        .upload_to(
            &format!("/rest/api/content/{PAGE}/child/attachment"),
            &[("new.txt", b"x")],
            &[("minorEdit", "true")],
        )
        .await;
    out.push(("create attachment".into(), r.status().as_u16()));
    let r = c
        .upload_to(
            &format!("/rest/api/content/{PAGE}/child/attachment/{att}/data"),
            &[("a.txt", b"changed")],
            &[("minorEdit", "true")],
        )
        .await;
    out.push(("attachment data".into(), r.status().as_u16()));
    let (s, _) = c
        .put_json(
            &format!("/rest/api/content/{PAGE}/child/attachment/{att}"),
            &json!({ "id": att, "type": "attachment", "title": "b.txt", "version": { "number": 1 } }),
        )
        .await;
    out.push(("attachment metadata".into(), s));
    let (s, _) = c
        .put_json(
            &format!("/rest/api/content/{PAGE}"),
            &json!({ "type": "page", "title": "T", "version": { "number": 2 } }),
        )
        .await;
    out.push(("page update".into(), s));
    let (s, _) = c
        .post_json(
            &format!("/rest/api/content/{PAGE}/property"),
            &json!({ "key": "k2", "value": 1 }),
        )
        .await;
    out.push(("property create".into(), s));
    let (s, _) = c
        .put_json(
            &format!("/rest/api/content/{PAGE}/property/k"),
            &json!({ "key": "k", "value": 2, "version": { "number": 2 } }),
        )
        .await;
    out.push(("property update".into(), s));
    for (what, path) in [
        (
            "property delete",
            format!("/rest/api/content/{PAGE}/property/k"),
        ),
        (
            "version delete",
            format!("/rest/experimental/content/{att}/version/1"),
        ),
        ("attachment trash", format!("/rest/api/content/{att}")),
        (
            "restriction user delete",
            format!("/rest/api/content/{PAGE}/restriction/byOperation/read/user?userName=alice"),
        ),
    ] {
        let s = c.req(Method::DELETE, &path).send().await.expect("sent");
        out.push((what.into(), s.status().as_u16()));
    }
    let (s, _) = c
        .put_json(&format!("/rest/api/content/{PAGE}/restriction"), &json!([]))
        .await;
    out.push(("restriction replace".into(), s));
    out
}

#[tokio::test]
async fn a_read_restriction_locks_a_second_user_out_of_every_route() {
    let emu = start().await;
    let alice = C::alice(&emu);
    let carol = C::new(&emu, "carol", "cpw");
    let att = seed(&alice).await;
    for path in read_routes(&att) {
        assert_eq!(
            carol.get(&path).await.status().as_u16(),
            200,
            "before any restriction carol, a user of the space, reads {path}"
        );
    }

    let (s, v) = alice
        .put_json(
            &format!("/rest/api/content/{PAGE}/restriction"),
            &private_to("alice"),
        )
        .await;
    assert_eq!(s, 200, "alice may restrict her page to herself: {v}");

    for path in read_routes(&att) {
        let r = carol.get(&path).await;
        assert_eq!(
            r.status().as_u16(),
            404,
            "carol is outside the read restriction: {path} must look like it does not exist"
        );
        if path.starts_with("/rest/api/content/") && !path.contains("restriction") {
            let v: Value = r.json().await.expect("JSON 404");
            assert!(
                v["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("No content found with id")),
                "the same text as for missing content, so the page's existence is hidden: {v}"
            );
        }
        assert_eq!(
            alice.get(&path).await.status().as_u16(),
            200,
            "alice, inside the restriction, still reads {path}"
        );
    }
    for (what, status) in write_statuses(&carol, &att).await {
        assert_eq!(status, 404, "carol's {what} must be refused as not found");
    }
    assert_eq!(
        emu.attachments(PAGE).len(),
        1,
        "none of carol's writes landed"
    );
    assert_eq!(emu.attachments(PAGE)[0].title, "a.txt");
    assert_eq!(
        emu.attachments(PAGE)[0].versions.len(),
        1,
        "carol added no version"
    );
    let other = carol.get("/rest/api/content/777").await;
    assert_eq!(
        other.status().as_u16(),
        200,
        "an unrestricted page stays visible"
    );
}

#[tokio::test]
async fn an_update_restriction_lets_others_read_but_not_write() {
    let emu = start().await;
    let alice = C::alice(&emu);
    let carol = C::new(&emu, "carol", "cpw");
    let att = seed(&alice).await;
    let (s, v) = alice
        .put_json(
            &format!("/rest/api/content/{PAGE}/restriction"),
            &json!([{ "operation": "update", "restrictions": { "user": [ { "username": "alice" } ] } }]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    for path in read_routes(&att) {
        assert_eq!(
            carol.get(&path).await.status().as_u16(),
            200,
            "an update restriction does not hide {path}"
        );
    }
    for (what, status) in write_statuses(&carol, &att).await {
        assert_eq!(
            status, 403,
            "carol may view but not edit: her {what} gets 403"
        );
    }
}

#[tokio::test]
async fn restrictions_read_back_in_the_dc_shape() {
    let emu = start().await;
    let alice = C::alice(&emu);
    let path = format!("/rest/api/content/{PAGE}/restriction/byOperation");
    let (s, open) = alice.get_json(&path).await;
    assert_eq!(s, 200);
    for op in ["read", "update"] {
        assert_eq!(open[op]["operation"], op);
        assert_eq!(
            open[op]["restrictions"]["user"]["size"], 0,
            "no restriction: empty lists (everyone with space access): {open}"
        );
        assert_eq!(open[op]["restrictions"]["group"]["size"], 0);
    }
    let (s, _) = alice
        .put_json(
            &format!("/rest/api/content/{PAGE}/restriction"),
            &private_to("alice"),
        )
        .await;
    assert_eq!(s, 200);
    // POST adds a group to the read restriction without dropping alice.
    let (s, v) = alice
        .post_json(
            &format!("/rest/api/content/{PAGE}/restriction"),
            &json!([{ "operation": "read", "restrictions": { "group": { "results": [ { "type": "group", "name": "team" } ] } } }]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, now) = alice
        .get_json(&format!(
            "{path}?expand=restrictions.user,restrictions.group"
        ))
        .await;
    let read = &now["read"]["restrictions"];
    assert_eq!(read["user"]["results"][0]["username"], "alice", "{now}");
    assert_eq!(read["user"]["results"][0]["type"], "known");
    assert_eq!(read["group"]["results"][0]["name"], "team", "{now}");
    assert_eq!(now["update"]["restrictions"]["user"]["size"], 1);
    let (_, one) = alice
        .get_json(&format!("{path}/update?expand=restrictions.group"))
        .await;
    assert!(
        one["restrictions"]["user"].is_null()
            && one["restrictions"]["_expandable"]["user"].is_string(),
        "users are only listed when expanded: {one}"
    );
    // carol is in `team`: she may view now, but not edit.
    let carol = C::new(&emu, "carol", "cpw");
    assert_eq!(
        carol
            .get(&format!("/rest/api/content/{PAGE}"))
            .await
            .status()
            .as_u16(),
        200,
        "a group in the read restriction admits its members"
    );
    let (s, _) = carol
        .put_json(
            &format!("/rest/api/content/{PAGE}"),
            &json!({ "type": "page", "title": "T", "version": { "number": 2 } }),
        )
        .await;
    assert_eq!(s, 403, "outside the update restriction");
    // Per-user endpoints.
    let add_bob =
        format!("/rest/api/content/{PAGE}/restriction/byOperation/read/user?userName=bob");
    let r = alice.req(Method::PUT, &add_bob).send().await.expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    assert!(emu.restrictions(PAGE).read.users.contains("bob"));
    let r = alice
        .req(Method::DELETE, &add_bob)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    assert!(!emu.restrictions(PAGE).read.users.contains("bob"));
    let nobody =
        format!("/rest/api/content/{PAGE}/restriction/byOperation/read/user?userName=nobody");
    let r = alice.req(Method::PUT, &nobody).send().await.expect("sent");
    assert_eq!(r.status().as_u16(), 400, "unknown users are refused");
}

#[tokio::test]
async fn nobody_may_remove_their_own_access() {
    let emu = start().await;
    let alice = C::alice(&emu);
    let (s, _) = alice
        .put_json(
            &format!("/rest/api/content/{PAGE}/restriction"),
            &private_to("alice"),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = alice
        .put_json(
            &format!("/rest/api/content/{PAGE}/restriction"),
            &private_to("carol"),
        )
        .await;
    assert_eq!(
        s, 400,
        "giving the page to carol alone would lock alice out: {v}"
    );
    assert!(
        emu.restrictions(PAGE).read.users.contains("alice"),
        "unchanged"
    );
    let add_bob =
        format!("/rest/api/content/{PAGE}/restriction/byOperation/read/user?userName=bob");
    let r = alice.req(Method::PUT, &add_bob).send().await.expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    let before = emu.restrictions(PAGE);
    let r = alice
        .req(
            Method::DELETE,
            &format!("/rest/api/content/{PAGE}/restriction/byOperation/read/user?userName=alice"),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(
        r.status().as_u16(),
        400,
        "taking herself out of a read restriction that still names bob would hide the page \
         from alice"
    );
    assert_eq!(
        emu.restrictions(PAGE),
        before,
        "refused changes change nothing"
    );
}

#[tokio::test]
async fn restrictions_given_at_start_apply_at_once() {
    use confluence_emulator::restrictions::Operation;
    let emu = builder()
        .user("carol", "cpw")
        .restrict(PAGE, Operation::Read, "alice")
        .restrict(PAGE, Operation::Update, "alice")
        .spawn()
        .await
        .expect("emulator starts");
    let carol = C::new(&emu, "carol", "cpw");
    assert_eq!(
        carol
            .get(&format!("/rest/api/content/{PAGE}"))
            .await
            .status()
            .as_u16(),
        404
    );
    let anonymous = crate::util::http()
        .get(format!(
            "{}/rest/api/content/{PAGE}/restriction/byOperation",
            emu.base_url()
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status().as_u16(), 404, "anonymous sees nothing");
    let (s, _) = C::alice(&emu)
        .get_json(&format!("/rest/api/content/{PAGE}"))
        .await;
    assert_eq!(s, 200);
}
