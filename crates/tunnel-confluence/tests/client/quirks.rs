//! Behaviours reproduced with the scripted stub server: DC's endless listing past 200
//! attachments, and uploads slower than the timeout (which must succeed while they progress,
//! and be abandoned when they stall).

use std::time::Duration;

use tunnel_confluence::{ConfluenceClient, RetryPolicy};
use tunnel_core::remote::{BlobSource, RemoteError, RemoteStore};

use crate::stub::{attachment_json, Stub, StubReply};
use crate::*;

/// CONFSERVER-95396: with 228 attachments, `start=200` answers a full page that repeats old
/// items and keeps emitting `next` for ever.
#[tokio::test]
async fn the_endless_listing_past_200_is_deduplicated_and_stopped() {
    let stub = Stub::spawn(|req, base| {
        let start: usize = req
            .target
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("start="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let ids: Vec<usize> = match start {
            0 => (0..200).collect(),
            200 => (150..228).collect(),
            _ => (178..228).collect(),
        };
        let results: Vec<_> = ids
            .iter()
            .map(|&i| attachment_json(i, i as u64 + 1))
            .collect();
        let next = format!(
            "/rest/api/content/{PAGE}/child/attachment?limit=200&expand=version&start={}",
            start + 200
        );
        StubReply::json(
            serde_json::json!({
                "results": results, "start": start, "limit": 200, "size": ids.len(),
                "_links": { "base": base, "context": "", "next": next },
            })
            .to_string(),
        )
    })
    .await;
    let client = ConfluenceClient::new(settings(&stub.base, basic(USER, PASSWORD))).unwrap();
    let blobs = client.store(PAGE).list_blobs().await.unwrap();
    assert_eq!(blobs.len(), 228, "every attachment exactly once");
    let mut ids: Vec<_> = blobs.iter().map(|b| b.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 228, "no duplicates");
    let reqs = stub.requests();
    assert_eq!(
        reqs.len(),
        3,
        "stopped at the first page without a new id: {reqs:?}"
    );
    assert!(reqs[2].target.contains("start=400"));
}

fn upload_reply() -> String {
    serde_json::json!({ "results": [attachment_json(1, 24_000_000)], "size": 1 }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_slower_than_the_timeout_succeeds_while_it_progresses() {
    // 24 MB read at 6 MB/s takes about 4 s; the timeout is 2 s.
    let stub = Stub::spawn(|req, _| {
        if req.method == "POST" {
            StubReply {
                read_rate: Some(6_000_000),
                ..StubReply::json(upload_reply())
            }
        } else {
            StubReply::json(r#"{"results":[],"size":0}"#.into())
        }
    })
    .await;
    let mut cfg = settings(&stub.base, basic(USER, PASSWORD));
    cfg.timeout = Duration::from_secs(2);
    let client = ConfluenceClient::new(cfg).unwrap();
    let started = std::time::Instant::now();
    let info = client
        .store(PAGE)
        .put_blob(
            &name("c0001.bin"),
            BlobSource::Bytes(bytes_of(24_000_000, 1)),
        )
        .await
        .unwrap();
    assert_eq!(info.size, 24_000_000);
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "precondition: the upload took longer than the timeout"
    );
    let posts: Vec<_> = stub
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "no retry was needed: {posts:?}");
    assert!(
        posts[0].body_len > 24_000_000,
        "the whole multipart body was read"
    );
}

#[tokio::test]
async fn a_stalled_upload_is_abandoned_after_the_timeout() {
    let stub = Stub::spawn(|req, _| {
        if req.method == "POST" {
            StubReply {
                stall: true,
                ..StubReply::json(String::new())
            }
        } else {
            StubReply::json(r#"{"results":[],"size":0}"#.into())
        }
    })
    .await;
    let mut cfg = settings(&stub.base, basic(USER, PASSWORD));
    cfg.timeout = Duration::from_millis(500);
    cfg.retry = RetryPolicy {
        max_attempts: 1,
        ..fast_retry()
    };
    let client = ConfluenceClient::new(cfg).unwrap();
    let err = client
        .store(PAGE)
        .put_blob(
            &name("c0001.bin"),
            BlobSource::Bytes(bytes_of(20_000_000, 1)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RemoteError::Unreachable(m) if m.contains("no progress")),
        "{err}"
    );
}
