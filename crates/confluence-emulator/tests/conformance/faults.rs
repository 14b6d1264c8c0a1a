//! Fault injection (scripted and seeded) and DC rate limiting headers.

use crate::util::{self, C, PAGE};
use confluence_emulator::{FaultConfig, FaultKind, RateLimit, ScriptedFault};

fn page_path() -> String {
    format!("/rest/api/content/{PAGE}")
}

#[tokio::test]
async fn scripted_status_rate_limit_login_page_and_redirect() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    emu.fail_next(ScriptedFault::new(
        Some("GET"),
        "/rest/api/content/",
        FaultKind::Status5xx(503),
        1,
    ));
    assert_eq!(c.get(&page_path()).await.status(), 503);
    assert_eq!(c.get(&page_path()).await.status(), 200, "one-shot");

    emu.fail_next(ScriptedFault::new(
        None,
        "",
        FaultKind::RateLimited { retry_after: 7 },
        1,
    ));
    let r = c.get(&page_path()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-interval-seconds",
        "x-ratelimit-fillrate",
    ] {
        assert!(r.headers().contains_key(h), "{h} present");
    }

    emu.fail_next(ScriptedFault::new(
        None,
        "/download/",
        FaultKind::HtmlLoginPage,
        1,
    ));
    let r = c.get(&format!("/download/attachments/{PAGE}/x.bin")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    emu.fail_next(ScriptedFault::new(
        None,
        "/download/",
        FaultKind::RedirectToSso,
        1,
    ));
    let r = c.get(&format!("/download/attachments/{PAGE}/x.bin")).await;
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(
        !loc.contains("127.0.0.1:") || loc.starts_with("https://sso."),
        "redirects to another host: {loc}"
    );
    assert_eq!(emu.faults_injected(), 4, "every injected fault is counted");
}

#[tokio::test]
async fn drop_after_store_keeps_the_upload_but_sends_no_answer() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    emu.fail_next(ScriptedFault::new(
        Some("POST"),
        "/child/attachment",
        FaultKind::DropAfterStore,
        1,
    ));
    let r = c
        .req(
            reqwest::Method::POST,
            &format!("/rest/api/content/{PAGE}/child/attachment"),
        )
        .header("X-Atlassian-Token", "no-check")
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"landed".to_vec()).file_name("l.bin"),
        ))
        .send()
        .await;
    assert!(
        r.is_err(),
        "the client sees a dropped connection, not an answer"
    );
    let snap = emu.attachments(PAGE);
    assert_eq!(snap.len(), 1, "but the upload was stored");
    assert_eq!(
        emu.requests().last().map(|r| r.status),
        Some(0),
        "logged as unanswered"
    );
    // The retried POST then meets the duplicate-name 400 that tells the client to reconcile.
    let (s, _) = c.upload(&[("l.bin", b"landed")]).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn reset_and_truncate_cut_downloads() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    c.upload_one("r.bin", &[5u8; 100_000]).await;
    let path = format!("/download/attachments/{PAGE}/r.bin");

    emu.fail_next(ScriptedFault::new(
        None,
        "/download/",
        FaultKind::TruncateBody,
        1,
    ));
    let r = c.get(&path).await;
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    assert_eq!(
        body.len(),
        50_000,
        "silently shortened body; only a size check catches it"
    );

    emu.fail_next(ScriptedFault::new(
        None,
        "/download/",
        FaultKind::ResetMidBody,
        1,
    ));
    let r = c.get(&path).await;
    assert_eq!(r.status(), 200, "headers arrive");
    assert!(r.bytes().await.is_err(), "the body is cut mid-way");

    emu.fail_next(ScriptedFault::new(
        Some("POST"),
        "/child/attachment",
        FaultKind::ResetMidBody,
        1,
    ));
    let big = vec![1u8; 2_000_000];
    let r = c
        .req(
            reqwest::Method::POST,
            &format!("/rest/api/content/{PAGE}/child/attachment"),
        )
        .header("X-Atlassian-Token", "no-check")
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(big).file_name("cut.bin"),
        ))
        .send()
        .await;
    assert!(r.is_err(), "upload connection reset");
    assert!(
        emu.attachments(PAGE).iter().all(|a| a.title != "cut.bin"),
        "a cut upload stores nothing"
    );
}

async fn status_sequence(seed: u64) -> Vec<u16> {
    let emu = util::builder()
        .faults(FaultConfig {
            seed,
            error_5xx_share: 0.3,
            rate_limit_share: 0.2,
            retry_after_secs: Some(1),
            ..FaultConfig::default()
        })
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(c.get(&page_path()).await.status().as_u16());
    }
    out
}

#[tokio::test]
async fn seeded_faults_repeat_for_the_same_seed() {
    let a = status_sequence(42).await;
    assert_eq!(
        a,
        status_sequence(42).await,
        "same seed, same order ⇒ same faults"
    );
    assert!(
        a.iter().any(|s| *s >= 500) && a.contains(&429) && a.contains(&200),
        "{a:?}"
    );
    assert_ne!(a, status_sequence(43).await, "another seed differs");
}

#[tokio::test]
async fn max_faults_caps_seeded_faults_and_set_faults_changes_them() {
    let emu = util::builder()
        .faults(FaultConfig {
            seed: 1,
            error_5xx_share: 1.0,
            max_faults: Some(2),
            ..FaultConfig::default()
        })
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    let mut s = Vec::new();
    for _ in 0..4 {
        s.push(c.get(&page_path()).await.status().as_u16() >= 500);
    }
    assert_eq!(s, vec![true, true, false, false]);
    emu.set_faults(FaultConfig::default());
    assert_eq!(c.get(&page_path()).await.status(), 200);
}

#[tokio::test]
async fn dc_rate_limit_token_bucket_and_blocked_mode() {
    let emu = util::builder()
        .rate_limit(RateLimit {
            fill_rate: 1,
            interval_secs: 3600,
            max_requests: 2,
            blocked: false,
        })
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    let r = c.get(&page_path()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "1");
    assert_eq!(r.headers()["retry-after"], "0", "0 while tokens remain");
    assert_eq!(c.get(&page_path()).await.status(), 200);
    let r = c.get(&page_path()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-limit"], "2");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(r.headers()["x-ratelimit-interval-seconds"], "3600");
    assert_eq!(r.headers()["x-ratelimit-fillrate"], "1");
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );

    let emu = util::builder()
        .rate_limit(RateLimit::blocked())
        .spawn()
        .await
        .unwrap();
    let r = C::alice(&emu).get(&page_path()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "9223372036854775807");
    assert_eq!(r.headers()["x-ratelimit-limit"], "0");
    assert_eq!(r.headers()["x-ratelimit-fillrate"], "0");
}

#[tokio::test]
async fn unavailable_optimistic_lock_latency_and_bandwidth() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    emu.fail_next(ScriptedFault::new(
        None,
        "/rest/",
        FaultKind::Unavailable { retry_after: 3 },
        1,
    ));
    let r = c.get(&page_path()).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (503, "3")
    );

    emu.fail_next(ScriptedFault::new(
        Some("PUT"),
        "/property/",
        FaultKind::OptimisticLock,
        1,
    ));
    let (s, v) = c
        .put_json(
            &format!("{}/property/k", page_path()),
            &serde_json::json!({"value": 1, "version": {"number": 1}}),
        )
        .await;
    assert_eq!(s, 409);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("OptimisticLockException"),
        "{v}"
    );
    let (s, _) = c
        .put_json(
            &format!("{}/property/k", page_path()),
            &serde_json::json!({"value": 1, "version": {"number": 1}}),
        )
        .await;
    assert_eq!(
        s, 200,
        "the faulted write changed nothing, the retry creates"
    );

    // Latency and a throttle delay answers but do not change them.
    emu.fail_next(ScriptedFault::new(
        None,
        "/rest/",
        FaultKind::Latency(20),
        1,
    ));
    assert_eq!(c.get(&page_path()).await.status(), 200);
    c.upload_one("bw.bin", &[3u8; 64 * 1024]).await;
    emu.set_faults(FaultConfig {
        bandwidth_bytes_per_sec: Some(4 * 1024 * 1024),
        latency_ms: 1,
        ..FaultConfig::default()
    });
    let r = c.get(&format!("/download/attachments/{PAGE}/bw.bin")).await;
    assert_eq!(r.bytes().await.unwrap().len(), 64 * 1024);
    assert_eq!(emu.faults_injected(), 3);
}
