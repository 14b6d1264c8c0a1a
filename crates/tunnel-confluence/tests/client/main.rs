//! Integration tests of `tunnel-confluence` against the Confluence emulator, spawned in-process
//! on `127.0.0.1:0` (plain HTTP and mutual TLS). One test binary; areas are modules:
//! `store` (every `RemoteStore` method), `errors` (messages and kinds of failures), `faults`
//! (scripted server faults and the retry discipline), `not_found` (404 answers that do not
//! come from Confluence), `tls` (client certificates and trust), `big` (a large streamed upload and download), `delta` (the sync engine's delta upload of a big file, counted by the request log), `quirks` (DC bugs and slow servers through
//! the scripted `stub` server), `throttle` (bandwidth limits), `pace` (slowing down on rate-limit
//! headers), `restrictions` (who may view a page; making it private).

mod big;
mod delta;
mod errors;
mod faults;
mod not_found;
mod pace;
mod quirks;
mod restrictions;
mod store;
mod stub;
mod throttle;
// Not on Windows: the Windows test build (run under Wine) takes the emulator without its `tls`
// feature, since no OpenSSL exists for that target here; and the client's TLS there is SChannel,
// whose behaviour under Wine is not what users run. Its HTTPS is checked on Linux (OpenSSL).
#[cfg(not(windows))]
mod tls;

use std::time::Duration;

use bytes::Bytes;
use confluence_emulator::{Emulator, EmulatorHandle, LoggedRequest};
use tunnel_confluence::{
    Auth, ConfluenceClient, ConfluenceStore, ConnectionSettings, RetryPolicy, Secret,
};
use tunnel_core::remote::{BlobName, RemoteStore};

/// The page every test works on.
pub const PAGE: &str = "65601";
/// The read-write user.
pub const USER: &str = "svc";
/// Its password.
pub const PASSWORD: &str = "s3cret";
/// Its personal access token.
pub const TOKEN: &str = "pat-0123456789";

/// Retries that keep tests fast: 4 attempts, millisecond backoff, Retry-After up to 5 s.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(5),
    }
}

/// An emulator with the standard users and page.
pub async fn emulator() -> EmulatorHandle {
    builder().spawn().await.expect("emulator starts")
}

/// The standard emulator configuration, to extend.
pub fn builder() -> confluence_emulator::EmulatorBuilder {
    init_logs();
    Emulator::builder()
        .user(USER, PASSWORD)
        .token(USER, TOKEN)
        .read_only_user("reader", "r")
        .user("locked", "pw")
        .captcha_user("locked")
        .page_titled(PAGE, "Sync storage")
}

/// Basic credentials.
pub fn basic(user: &str, password: &str) -> Auth {
    Auth::Basic {
        username: user.into(),
        password: Secret::new(password),
    }
}

/// Settings for `base` with fast retries and short timeouts.
pub fn settings(base: &str, auth: Auth) -> ConnectionSettings {
    let mut s = ConnectionSettings::new(base, auth);
    s.retry = fast_retry();
    s.timeout = Duration::from_secs(10);
    s
}

/// A client of the standard user on `emu`.
pub fn client(emu: &EmulatorHandle) -> ConfluenceClient {
    ConfluenceClient::new(settings(&emu.base_url(), basic(USER, PASSWORD))).expect("client")
}

/// The standard store on `emu`.
pub fn store(emu: &EmulatorHandle) -> ConfluenceStore {
    client(emu).store(PAGE)
}

/// A blob name.
pub fn name(s: &str) -> BlobName {
    BlobName::new(s).expect("valid blob name")
}

/// Deterministic test bytes.
pub fn bytes_of(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>(),
    )
}

/// Download a blob (or a range of it) into memory.
pub async fn download(
    store: &ConfluenceStore,
    blob: &BlobName,
    version: Option<u64>,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, tunnel_core::remote::RemoteError> {
    let mut out: Vec<u8> = Vec::new();
    let n = store.get_blob(blob, version, range, &mut out).await?;
    assert_eq!(
        n,
        out.len() as u64,
        "the returned count is what reached the sink"
    );
    Ok(out)
}

/// Requests whose path contains `part` (and method matches when given).
pub fn requests_to(emu: &EmulatorHandle, method: Option<&str>, part: &str) -> Vec<LoggedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| {
            r.path.contains(part) && method.is_none_or(|m| r.method.eq_ignore_ascii_case(m))
        })
        .collect()
}

/// Show client and emulator logs when a test fails (`RUST_LOG=debug`).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}
