//! Authentication and permission answers: 401 variants, anonymous PAT, read-only 403, XSRF.

use crate::util::{self, C, PAGE};
use serde_json::Value;

#[tokio::test]
async fn wrong_password_is_401_with_seraph_header() {
    let emu = util::start().await;
    let r = C::new(&emu, "alice", "nope")
        .get(&format!("/rest/api/content/{PAGE}"))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-seraph-loginreason"], "AUTHENTICATION_FAILED");
    assert!(r.headers().get("x-ausername").is_none());
}

#[tokio::test]
async fn captcha_user_gets_html_401_authentication_denied() {
    let emu = util::builder().captcha_user("alice").spawn().await.unwrap();
    let r = C::alice(&emu)
        .get(&format!("/rest/api/content/{PAGE}"))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-seraph-loginreason"], "AUTHENTICATION_DENIED");
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("OAuth realm="));
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "CAPTCHA answer is HTML, not JSON"
    );
}

#[tokio::test]
async fn valid_and_invalid_bearer_tokens() {
    let emu = util::start().await;
    let http = util::http();
    let get = |tok: &'static str, path: String| {
        http.get(format!("{}{path}", emu.base_url()))
            .bearer_auth(tok)
            .send()
    };
    let r = get("PAT-A", "/rest/api/user/current".into()).await.unwrap();
    assert_eq!(r.headers()["x-ausername"], "alice");
    assert_eq!(r.headers()["x-seraph-loginreason"], "OK");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["username"].as_str()),
        (Some("known"), Some("alice"))
    );

    let r = get("wrong", "/rest/api/user/current".into()).await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "an invalid PAT is served as anonymous, not 401"
    );
    assert!(
        r.headers().get("x-ausername").is_none(),
        "anonymous answers lack X-AUSERNAME"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "anonymous");

    let r = get("wrong", format!("/rest/api/content/{PAGE}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "anonymous may not see the page");
    let r = get("PAT-A", format!("/rest/api/content/{PAGE}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn read_only_user_reads_but_cannot_write() {
    let emu = util::start().await;
    let alice = C::alice(&emu);
    alice.upload_one("a.bin", b"abc").await;
    let bob = C::new(&emu, "bob", "pw");
    let (s, v) = bob
        .get_json(&format!("/rest/api/content/{PAGE}/child/attachment"))
        .await;
    assert_eq!((s, v["size"].as_u64()), (200, Some(1)));
    let (s, v) = bob.upload(&[("b.bin", b"x")]).await;
    assert_eq!(s, 403);
    assert_eq!(
        v["message"],
        format!("User not permitted to create attachments for content: ContentId{{id={PAGE}}}")
    );
    let (s, v) = bob
        .post_json(
            &format!("/rest/api/content/{PAGE}/property"),
            &serde_json::json!({"key":"k","value":1}),
        )
        .await;
    assert_eq!(
        (s, v["statusCode"].as_u64()),
        (403, Some(403)),
        "property writes need edit permission: {v}"
    );
    assert_eq!(
        emu.attachments(PAGE).len(),
        1,
        "nothing was added by the read-only user"
    );
}

#[tokio::test]
async fn multipart_post_needs_xsrf_header_and_a_non_browser_agent() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    let path = format!(
        "{}/rest/api/content/{PAGE}/child/attachment",
        emu.base_url()
    );
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.bin"),
        )
    };
    let r = c
        .http
        .post(&path)
        .basic_auth("alice", Some("secret"))
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), "XSRF check failed");
    let r = c
        .http
        .post(&path)
        .basic_auth("alice", Some("secret"))
        .header("X-Atlassian-Token", "no-check")
        .header(
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        )
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "DC 7.19.6 rejects browser agents even with the header"
    );
    let r = c
        .http
        .post(&path)
        .basic_auth("alice", Some("secret"))
        .header("X-Atlassian-Token", "nocheck")
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the old `nocheck` spelling is accepted");
    assert_eq!(emu.attachments(PAGE).len(), 1);
}

#[tokio::test]
async fn refused_upload_waiting_for_100_continue_is_answered_without_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emu = util::start().await;
    let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let head = format!(
        "POST /rest/api/content/{PAGE}/child/attachment HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 403"),
        "XSRF refusal without waiting for 1 GB: {text}"
    );
    assert!(
        !text.contains("100 Continue"),
        "the body was never requested"
    );
    assert!(text.ends_with("XSRF check failed"));
}

/// `/rest/pat/latest/tokens` lists the caller's tokens with their expiry (never the secret),
/// marks the one in use as just accessed; an expired token is served as anonymous (DC does
/// not answer 401 for it, `confluence-api.md` §1).
#[tokio::test]
async fn personal_access_tokens_list_their_expiry_and_expire_to_anonymous() {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let emu = util::builder()
        .expiring_token("alice", "PAT-SOON", "laptop", now + 3 * 86_400_000)
        .expiring_token("alice", "PAT-OLD", "old", now - 1000)
        .spawn()
        .await
        .unwrap();
    let http = util::http();
    let get = |path: &str, tok: &str| {
        http.get(format!("{}{path}", emu.base_url()))
            .bearer_auth(tok)
            .header("Accept", "application/json")
            .send()
    };
    let r = get("/rest/pat/latest/tokens", "PAT-SOON").await.unwrap();
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 3, "PAT-A, PAT-SOON and PAT-OLD: {list:?}");
    let soon = list.iter().find(|t| t["name"] == "laptop").expect("listed");
    assert!(soon["expiringAt"].is_string(), "expiry given: {soon}");
    assert!(
        soon["lastAccessedAt"].is_string(),
        "the token in use: {soon}"
    );
    assert!(
        !list.iter().any(|t| t.to_string().contains("PAT-")),
        "secrets are never listed"
    );
    let forever = list.iter().find(|t| t["expiringAt"].is_null());
    assert!(
        forever.is_some(),
        "a token without expiry has no expiringAt"
    );

    let r = get("/rest/api/user/current", "PAT-OLD").await.unwrap();
    assert_eq!(r.status(), 200, "an expired token is not refused…");
    assert!(
        r.headers().get("x-ausername").is_none(),
        "…it is ignored: the request is anonymous"
    );
    let r = get("/rest/pat/latest/tokens", "PAT-OLD").await.unwrap();
    assert_eq!(r.status(), 401, "anonymous callers have no tokens to list");
}
