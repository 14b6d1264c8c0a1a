//! Size limits (refused while streaming, nothing stored), persistence across restarts, and a
//! 300 MB streamed round trip checked by size and SHA-256.

use crate::util::{self, C, PAGE};
use bytes::Bytes;
use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn upload_path() -> String {
    format!("/rest/api/content/{PAGE}/child/attachment")
}

#[tokio::test]
async fn oversized_upload_is_413_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emu = util::builder()
        .max_attachment_size(1000)
        .data_dir(dir.path())
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    let r = c
        .upload_to(
            &upload_path(),
            &[("ok.bin", &[1u8; 1000])],
            &[("minorEdit", "true")],
        )
        .await;
    assert_eq!(r.status(), 200, "exactly the limit passes");
    let r = c
        .upload_to(
            &upload_path(),
            &[("big.bin", &vec![7u8; 200_000])],
            &[("minorEdit", "true")],
        )
        .await;
    assert_eq!(r.status(), 413);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let snap = emu.attachments(PAGE);
    assert_eq!(snap.len(), 1, "the refused file is not stored");
    let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    let tmp = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    assert_eq!((blobs, tmp), (1, 0), "no partial blob or temp file is left");
}

#[tokio::test]
async fn oversized_upload_404_variant() {
    let emu = util::builder()
        .max_attachment_size(10)
        .too_large_as_404(true)
        .spawn()
        .await
        .unwrap();
    let r = C::alice(&emu)
        .upload_to(&upload_path(), &[("big.bin", &[0u8; 11])], &[])
        .await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "The field file exceeds its maximum permitted size of 10 bytes."
    );
    assert!(emu.attachments(PAGE).is_empty());
}

#[tokio::test]
async fn restart_on_the_same_data_dir_serves_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let emu = util::builder().data_dir(dir.path()).spawn().await.unwrap();
    let c = C::alice(&emu);
    let id = c.upload_one("keep.bin", b"persist me").await;
    c.put_json(
        &format!("/rest/api/content/{PAGE}/property/head"),
        &serde_json::json!({"value": {"g": 1}, "version": {"number": 1}}),
    )
    .await;
    emu.shutdown().await;

    let emu = util::builder().data_dir(dir.path()).spawn().await.unwrap();
    let c = C::alice(&emu);
    let (_, v) = c
        .get_json(&format!("{}?filename=keep.bin", upload_path()))
        .await;
    assert_eq!(v["results"][0]["id"], serde_json::json!(id));
    let r = c
        .get(&format!("/download/attachments/{PAGE}/keep.bin"))
        .await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"persist me");
    let (_, v) = c
        .get_json(&format!("/rest/api/content/{PAGE}/property/head"))
        .await;
    assert_eq!(v["version"]["number"], 1);
    let next = c.upload_one("new.bin", b"n").await;
    assert_ne!(next, id, "ids keep increasing after a restart");
}

const CHUNK: usize = 1 << 20;

/// Deterministic pseudo-random chunk `i` (the same on upload and verification).
fn chunk(i: u64) -> Bytes {
    let mut v = vec![0u8; CHUNK];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for w in v.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&x.to_le_bytes());
    }
    Bytes::from(v)
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_a_300_mb_body_both_ways_without_buffering() {
    const CHUNKS: u64 = 300;
    let total = CHUNKS * CHUNK as u64;
    let emu = util::builder()
        .max_attachment_size(total)
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    let rss_before = peak_rss_kib();

    let mut expected = Sha256::new();
    for i in 0..CHUNKS {
        expected.update(chunk(i));
    }
    let expected = hex::encode(expected.finalize());

    let body = reqwest::Body::wrap_stream(futures::stream::iter(
        (0..CHUNKS).map(|i| Ok::<_, std::io::Error>(chunk(i))),
    ));
    let form = Form::new()
        .part(
            "file",
            Part::stream_with_length(body, total).file_name("big.bin"),
        )
        .text("minorEdit", "true");
    let r = c
        .req(reqwest::Method::POST, &upload_path())
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["results"][0]["extensions"]["fileSize"].as_u64(),
        Some(total)
    );

    let r = c
        .get(&format!("/download/attachments/{PAGE}/big.bin"))
        .await;
    assert_eq!(r.content_length(), Some(total));
    let mut stream = r.bytes_stream();
    let mut got = Sha256::new();
    let mut n = 0u64;
    while let Some(b) = stream.next().await {
        let b = b.unwrap();
        n += b.len() as u64;
        got.update(&b);
    }
    assert_eq!(n, total, "size matches");
    assert_eq!(hex::encode(got.finalize()), expected, "content matches");
    if let (Some(before), Some(after)) = (rss_before, peak_rss_kib()) {
        // The body is 300 MiB; holding it anywhere would raise the peak by at least that much.
        assert!(
            after.saturating_sub(before) < 150 * 1024,
            "peak RSS grew by {} KiB",
            after - before
        );
    }
}

/// A reverse proxy's body limit (nginx `client_max_body_size`) in front of the server: a
/// request whose body is over it gets nginx's 413 HTML page — whatever Confluence's own
/// attachment limit — and nothing is stored; a smaller one passes to Confluence.
#[tokio::test]
async fn a_proxy_body_limit_answers_413_html_before_confluence() {
    let emu = util::builder()
        .proxy_body_limit(4096)
        .spawn()
        .await
        .unwrap();
    let c = C::alice(&emu);
    let r = c
        .upload_to(
            &upload_path(),
            &[("big.bin", &vec![7u8; 8192])],
            &[("minorEdit", "true")],
        )
        .await;
    assert_eq!(r.status(), 413, "over the proxy's limit");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        r.text().await.unwrap().contains("nginx"),
        "the proxy's page, not Confluence's JSON"
    );
    assert!(emu.attachments(PAGE).is_empty(), "nothing reached the page");
    let r = c
        .upload_to(
            &upload_path(),
            &[("small.bin", &[1u8; 1000])],
            &[("minorEdit", "true")],
        )
        .await;
    assert_eq!(
        r.status(),
        200,
        "below the proxy's limit it is Confluence that answers"
    );
}
