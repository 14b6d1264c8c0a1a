//! Scripted server faults: transient errors are retried, rate limits honoured, cut transfers
//! resumed, ambiguous uploads reconciled, login pages and SSO redirects refused.

use confluence_emulator::{FaultConfig, FaultKind, RateLimit, ScriptedFault};
use serde_json::json;
use tunnel_confluence::ConfluenceClient;
use tunnel_core::remote::{BlobSource, RemoteError, RemoteStore};

use crate::*;

fn fault(method: &str, path: &str, kind: FaultKind, times: u32) -> ScriptedFault {
    ScriptedFault::new(Some(method), path, kind, times)
}

#[tokio::test]
async fn a_503_then_success_is_retried_transparently() {
    let emu = emulator().await;
    let client = client(&emu);
    let s = client.store(PAGE);
    s.write_head(&json!({"a": 1}), None).await.unwrap();
    emu.fail_next(fault("GET", "/property/", FaultKind::Status5xx(503), 2));
    let before = client.request_count();
    let head = s
        .read_head()
        .await
        .unwrap()
        .expect("head read after two 503s");
    assert_eq!(head.value, json!({"a": 1}));
    assert_eq!(
        client.request_count() - before,
        3,
        "two failures, one success"
    );
}

#[tokio::test]
async fn an_optimistic_lock_collision_on_the_head_is_retried() {
    let emu = emulator().await;
    let s = store(&emu);
    let v1 = s.write_head(&json!({"g": 1}), None).await.unwrap();
    emu.fail_next(fault("PUT", "/property/", FaultKind::OptimisticLock, 1));
    let v2 = s.write_head(&json!({"g": 2}), Some(v1)).await.unwrap();
    assert_eq!(v2, v1 + 1, "a lock collision is not a lost CAS");
    let puts = requests_to(&emu, Some("PUT"), "/property/");
    assert_eq!(
        puts.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![409, 200]
    );
}

#[tokio::test]
async fn a_503_with_retry_after_is_waited_out() {
    let emu = emulator().await;
    let client = client(&emu);
    emu.fail_next(fault(
        "GET",
        "/content/",
        FaultKind::Unavailable { retry_after: 1 },
        1,
    ));
    assert_eq!(client.store(PAGE).probe().await.unwrap().user, USER);
    assert_eq!(client.request_count(), 2);
}

#[tokio::test]
async fn failed_uploads_are_checked_then_sent_again_without_duplicates() {
    let emu = emulator().await;
    let s = store(&emu);
    let cases = [
        ("five-hundred.bin", FaultKind::Status5xx(500)),
        ("gateway.bin", FaultKind::Status5xx(502)),
        ("cut.bin", FaultKind::ResetMidBody),
    ];
    for (blob, kind) in &cases {
        let b = name(blob);
        let data = bytes_of(400_000, 6);
        emu.fail_next(fault("POST", "/child/attachment", kind.clone(), 1));
        let info = s
            .put_blob(&b, BlobSource::Bytes(data.clone()))
            .await
            .unwrap();
        assert_eq!(info.size, data.len() as u64, "{kind:?}");
        assert_eq!(
            download(&s, &b, None, None).await.unwrap(),
            data,
            "{kind:?}"
        );
    }
    let atts = emu.attachments(PAGE);
    assert_eq!(atts.len(), cases.len(), "{atts:?}");
    assert!(atts.iter().all(|a| a.versions.len() == 1), "{atts:?}");
}

#[tokio::test]
async fn persistent_5xx_ends_as_a_server_error_after_max_attempts() {
    let emu = emulator().await;
    let client = client(&emu);
    emu.fail_next(fault("GET", "/content/", FaultKind::Status5xx(502), 100));
    let err = client.store(PAGE).probe().await.unwrap_err();
    assert!(
        matches!(err, RemoteError::Server { status: 502, .. }),
        "{err:?}"
    );
    assert_eq!(client.request_count(), u64::from(fast_retry().max_attempts));
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let emu = emulator().await;
    let client = client(&emu);
    emu.fail_next(fault(
        "GET",
        "/content/",
        FaultKind::RateLimited { retry_after: 1 },
        1,
    ));
    let id = client.store(PAGE).probe().await.unwrap();
    assert_eq!(id.user, USER);
    assert_eq!(client.request_count(), 2);
}

#[tokio::test]
async fn a_blocked_user_is_rate_limited_at_once() {
    let emu = emulator().await;
    let client = client(&emu);
    emu.fail_next(fault(
        "GET",
        "/content/",
        FaultKind::RateLimited {
            retry_after: 9_223_372_036_854_775_807,
        },
        1,
    ));
    let err = client.store(PAGE).probe().await.unwrap_err();
    match &err {
        RemoteError::RateLimited {
            retry_after_secs, ..
        } => assert_eq!(*retry_after_secs, Some(9_223_372_036_854_775_807)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(client.request_count(), 1, "no sleeping for ever");
}

#[tokio::test]
async fn a_download_cut_midway_resumes_with_a_range_request() {
    let emu = emulator().await;
    let s = store(&emu);
    let b = name("resume.bin");
    let data = bytes_of(2_000_000, 7);
    s.put_blob(&b, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    emu.clear_requests();
    // A throttle makes the server flush the first half before it cuts the connection, as a
    // real network does; the scripted reset comes after half of the body.
    emu.set_faults(FaultConfig {
        bandwidth_bytes_per_sec: Some(20_000_000),
        ..FaultConfig::default()
    });
    emu.fail_next(fault("GET", "/download/", FaultKind::ResetMidBody, 1));
    let got = download(&s, &b, None, None).await.unwrap();
    assert!(got == data, "the whole blob arrived, bytes identical");
    let gets = requests_to(&emu, Some("GET"), "/download/");
    assert_eq!(gets.len(), 2, "{gets:?}");
    let range = gets[1]
        .header("range")
        .expect("the retry asks for the rest only");
    let from: u64 = range
        .trim_start_matches("bytes=")
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        from > 0,
        "resumed from where it stopped, not from 0: {range}"
    );
    assert!(
        gets[0].bytes_out + gets[1].bytes_out < data.len() as u64 * 3 / 2,
        "no full re-download"
    );
}

#[tokio::test]
async fn a_truncated_range_is_completed() {
    let emu = emulator().await;
    let s = store(&emu);
    let b = name("trunc.bin");
    let data = bytes_of(300_000, 1);
    s.put_blob(&b, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    emu.fail_next(fault("GET", "/download/", FaultKind::TruncateBody, 1));
    let got = download(&s, &b, None, Some(1000..250_000)).await.unwrap();
    assert!(got == data[1000..250_000], "the requested range, complete");
}

#[tokio::test]
async fn an_upload_whose_answer_was_lost_is_not_duplicated() {
    let emu = emulator().await;
    let s = store(&emu);
    for (blob, len) in [("lost-small.bin", 1000), ("lost-big.bin", 600_000)] {
        let b = name(blob);
        let data = bytes_of(len, 4);
        emu.fail_next(fault(
            "POST",
            "/child/attachment",
            FaultKind::DropAfterStore,
            1,
        ));
        let info = s
            .put_blob(&b, BlobSource::Bytes(data.clone()))
            .await
            .unwrap();
        assert_eq!(info.size, len as u64);
        assert_eq!(download(&s, &b, None, None).await.unwrap(), data);
    }
    let atts = emu.attachments(PAGE);
    assert_eq!(atts.len(), 2, "{atts:?}");
    assert!(
        atts.iter().all(|a| a.versions.len() == 1),
        "the stored first attempt was found, not uploaded again: {atts:?}"
    );
    let posts = requests_to(&emu, Some("POST"), "/child/attachment");
    assert_eq!(posts.len(), 2, "one POST per blob: {posts:?}");
}

#[tokio::test]
async fn a_lost_head_write_is_recognised_as_ours() {
    let emu = emulator().await;
    let s = store(&emu);
    emu.fail_next(fault("POST", "/property", FaultKind::DropAfterStore, 1));
    let v1 = s.write_head(&json!({"g": 1}), None).await.unwrap();
    emu.fail_next(fault("PUT", "/property", FaultKind::DropAfterStore, 1));
    let v2 = s.write_head(&json!({"g": 2}), Some(v1)).await.unwrap();
    assert_eq!(v2, v1 + 1);
    assert_eq!(s.read_head().await.unwrap().unwrap().value, json!({"g": 2}));
}

#[tokio::test]
async fn an_html_login_page_is_never_taken_for_data() {
    let emu = emulator().await;
    let s = store(&emu);
    let b = name("page.bin");
    s.put_blob(&b, BlobSource::Bytes(bytes_of(100, 0)))
        .await
        .unwrap();

    emu.fail_next(fault("GET", "/download/", FaultKind::HtmlLoginPage, 1));
    let mut sink: Vec<u8> = Vec::new();
    let err = s.get_blob(&b, None, None, &mut sink).await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Protocol(m) if m.contains("HTML")),
        "{err}"
    );
    assert!(
        sink.is_empty(),
        "nothing of the login page reached the sink"
    );

    emu.fail_next(fault("GET", "/content/", FaultKind::HtmlLoginPage, 1));
    let err = s.probe().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Protocol(m) if m.contains("HTML")),
        "{err}"
    );
}

#[tokio::test]
async fn a_redirect_to_sso_is_a_protocol_error() {
    let emu = emulator().await;
    let s = store(&emu);
    let b = name("sso.bin");
    s.put_blob(&b, BlobSource::Bytes(bytes_of(100, 0)))
        .await
        .unwrap();
    emu.fail_next(fault("GET", "/download/", FaultKind::RedirectToSso, 1));
    let mut sink: Vec<u8> = Vec::new();
    let err = s.get_blob(&b, None, None, &mut sink).await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Protocol(m) if m.contains("redirected") && m.contains("sign-on")),
        "{err}"
    );
    assert!(sink.is_empty());
}

#[tokio::test]
async fn latency_below_the_timeout_is_harmless() {
    let emu = emulator().await;
    let mut cfg = settings(&emu.base_url(), basic(USER, PASSWORD));
    cfg.timeout = std::time::Duration::from_secs(5);
    let client = ConfluenceClient::new(cfg).unwrap();
    emu.fail_next(fault("GET", "/content/", FaultKind::Latency(200), 1));
    assert_eq!(client.store(PAGE).probe().await.unwrap().user, USER);
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_retried_then_unreachable() {
    let emu = emulator().await;
    let mut cfg = settings(&emu.base_url(), basic(USER, PASSWORD));
    cfg.timeout = std::time::Duration::from_millis(300);
    let client = ConfluenceClient::new(cfg).unwrap();
    emu.fail_next(fault("GET", "/content/", FaultKind::Latency(3000), 100));
    let err = client.store(PAGE).probe().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Unreachable(m) if m.contains("timed out")),
        "{err}"
    );
}

#[tokio::test]
async fn dc_rate_limiting_is_ridden_out_with_retry_after() {
    // A burst of 5, then one request per second: 8 requests run the bucket dry however
    // fast the machine is.
    let limit = RateLimit {
        fill_rate: 1,
        interval_secs: 1,
        max_requests: 5,
        blocked: false,
    };
    let emu = builder().rate_limit(limit).spawn().await.unwrap();
    // Pacing off: it would keep the bucket from running dry (see `pace.rs`); here the 429s
    // themselves are the point.
    let mut cfg = settings(&emu.base_url(), basic(USER, PASSWORD));
    cfg.pace_rate_limits = false;
    let client = ConfluenceClient::new(cfg).unwrap();
    let s = client.store(PAGE);
    for _ in 0..8 {
        assert_eq!(s.find_blob(&name("none.bin")).await.unwrap(), None);
    }
    let limited = emu.requests().iter().filter(|r| r.status == 429).count();
    assert!(limited > 0, "precondition: the bucket ran dry");
    assert_eq!(
        client.request_count(),
        8 + limited as u64,
        "one extra request per 429, nothing else"
    );
}

#[tokio::test]
async fn a_user_blocked_by_the_admin_is_told_so_at_once() {
    let emu = builder()
        .rate_limit(RateLimit::blocked())
        .spawn()
        .await
        .unwrap();
    let client = client(&emu);
    let err = client.store(PAGE).probe().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::RateLimited { message, .. } if message.contains("administrator")),
        "{err}"
    );
    assert_eq!(client.request_count(), 1);
}
