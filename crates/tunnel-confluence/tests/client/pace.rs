//! Rate limits against the emulator (issue 17, item 7): under a tight DC token bucket the
//! client slows down on `X-RateLimit-Remaining` before the server refuses it, so the server's
//! request log shows (almost) no 429 answers; the same calls with pacing off collect several.
//! Nothing here is timed: the evidence is the emulator's log and the client's counters.

use confluence_emulator::RateLimit;
use tunnel_confluence::ConfluenceClient;

use crate::*;

/// 10 requests per second, burst 5: a sync of a few dozen requests runs into it.
fn tight_bucket() -> RateLimit {
    RateLimit {
        fill_rate: 10,
        interval_secs: 1,
        max_requests: 5,
        blocked: false,
    }
}

/// Make `n` small calls one after the other and return how many answers were 429.
async fn run(pace: bool, n: usize) -> (u64, tunnel_confluence::PaceStats) {
    let emu = builder().rate_limit(tight_bucket()).spawn().await.unwrap();
    let mut s = settings(&emu.base_url(), basic(USER, PASSWORD));
    s.pace_rate_limits = pace;
    let client = ConfluenceClient::new(s).unwrap();
    for i in 0..n {
        let user = client.current_user().await;
        assert!(user.is_ok(), "call {i} succeeds in the end: {user:?}");
    }
    let refused = emu.requests().iter().filter(|r| r.status == 429).count() as u64;
    let stats = client.pace_stats();
    emu.shutdown().await;
    (refused, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_on_the_rate_limit_headers_avoids_429s() {
    let (unpaced, unpaced_stats) = run(false, 20).await;
    assert!(
        unpaced >= 2,
        "without pacing 20 calls empty a bucket of 5 and get refused ({unpaced} 429s)"
    );
    assert_eq!(unpaced_stats.delayed_requests, 0, "pacing was off");

    let (paced, paced_stats) = run(true, 20).await;
    assert!(
        paced == 0,
        "pacing to the fill rate keeps the bucket from running dry ({paced} 429s, {unpaced} without)"
    );
    assert!(
        paced_stats.delayed_requests > 0,
        "the client held requests back: {paced_stats:?}"
    );
}
