//! Failures a person must understand: wrong password, invalid token, CAPTCHA lock, missing
//! page, no permission, too large, unreachable server. Auth failures are never retried.

use bytes::Bytes;
use tunnel_confluence::ConfluenceClient;
use tunnel_core::remote::{BlobSource, RemoteError, RemoteErrorKind, RemoteStore};

use crate::*;

#[tokio::test]
async fn a_wrong_password_is_said_so_and_tried_once() {
    let emu = emulator().await;
    let client = ConfluenceClient::new(settings(&emu.base_url(), basic(USER, "wrong"))).unwrap();
    let err = client.store(PAGE).probe().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Auth(m) if m.contains("wrong user name or password")),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(client.request_count(), 1, "a bad password is never retried");
    assert!(
        !err.to_string().contains("wrong\""),
        "no password in the message"
    );
}

#[tokio::test]
async fn an_invalid_token_served_as_anonymous_is_an_auth_error() {
    let emu = emulator().await;
    let client = ConfluenceClient::new(settings(
        &emu.base_url(),
        Auth::Bearer {
            token: Secret::new("expired-token"),
        },
    ))
    .unwrap();
    let err = client.store(PAGE).probe().await.unwrap_err();
    assert_eq!(err.kind(), RemoteErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("token was not accepted"), "{err}");
    let err = client.current_user().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Auth(m) if m.contains("token")),
        "{err}"
    );
}

#[tokio::test]
async fn a_captcha_lock_tells_to_log_in_in_the_browser_and_is_not_retried() {
    let emu = emulator().await;
    let client = ConfluenceClient::new(settings(&emu.base_url(), basic("locked", "pw"))).unwrap();
    let err = client.store(PAGE).probe().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Auth(m) if m.contains("CAPTCHA") && m.contains("browser")),
        "{err}"
    );
    assert_eq!(client.request_count(), 1);
}

#[tokio::test]
async fn a_missing_page_is_not_found_with_its_id() {
    let emu = emulator().await;
    let s = client(&emu).store("999999");
    let err = s.probe().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::NotFound(m)
            if m.starts_with("page 999999 does not exist (or you may not see it)")),
        "{err}"
    );
    // The head of a missing page is not "absent": the page itself is missing.
    assert_eq!(
        s.read_head().await.unwrap_err().kind(),
        RemoteErrorKind::NotFound
    );
}

#[tokio::test]
async fn a_read_only_user_may_not_add_attachments() {
    let emu = emulator().await;
    let client = ConfluenceClient::new(settings(&emu.base_url(), basic("reader", "r"))).unwrap();
    let s = client.store(PAGE);
    assert_eq!(
        s.probe().await.unwrap().user,
        "reader",
        "reading is allowed"
    );
    let err = s.probe_write().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Permission(m)
            if m.starts_with(&format!("no permission to add attachments to page {PAGE}"))),
        "{err}"
    );
    let err = s
        .put_blob(&name("x.bin"), BlobSource::Bytes(Bytes::from_static(b"x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RemoteErrorKind::Permission, "{err}");
    assert!(emu.attachments(PAGE).is_empty());
}

#[tokio::test]
async fn an_attachment_over_the_limit_is_too_large_with_the_limit() {
    for as_404 in [false, true] {
        let emu = builder()
            .max_attachment_size(1000)
            .too_large_as_404(as_404)
            .spawn()
            .await
            .unwrap();
        let client = client(&emu);
        let s = client.store(PAGE);
        let err = s
            .put_blob(&name("huge.bin"), BlobSource::Bytes(bytes_of(5000, 0)))
            .await
            .unwrap_err();
        match &err {
            RemoteError::TooLarge { limit, message } => {
                if as_404 {
                    assert_eq!(*limit, Some(1000), "limit parsed from the text");
                    assert!(message.contains("larger than this server allows (1000 bytes)"));
                }
            }
            other => panic!("expected TooLarge (404 variant: {as_404}), got {other:?}"),
        }
        assert!(!err.is_retryable());
        assert!(emu.attachments(PAGE).is_empty());
        if as_404 {
            assert_eq!(
                s.probe().await.unwrap().max_blob_size,
                Some(1000),
                "limit remembered"
            );
        }
    }
}

#[tokio::test]
async fn an_unreachable_server_names_its_url() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = ConfluenceClient::new(settings(&base, basic(USER, PASSWORD))).unwrap();
    let err = client.store(PAGE).probe().await.unwrap_err();
    assert!(
        matches!(&err, RemoteError::Unreachable(m) if m.contains(&base)),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(client.request_count(), u64::from(fast_retry().max_attempts));
}

#[tokio::test]
async fn bad_settings_fail_before_any_request() {
    for base in ["wiki.example.com", "ftp://wiki", "https://user:pw@wiki"] {
        let err = ConfluenceClient::new(settings(base, basic(USER, PASSWORD))).unwrap_err();
        assert!(
            err.to_string().contains("not a usable server address"),
            "{err}"
        );
    }
}

/// A `Write` into a shared buffer, for capturing logs.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let emu = emulator().await;
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on one thread (current-thread runtime): the default applies to it all.
    let _guard = tracing::subscriber::set_default(subscriber);

    let good = client(&emu);
    let s = good.store(PAGE);
    s.probe().await.unwrap();
    s.put_blob(
        &name("log.bin"),
        BlobSource::Bytes(Bytes::from_static(b"x")),
    )
    .await
    .unwrap();
    let bad =
        ConfluenceClient::new(settings(&emu.base_url(), basic(USER, "hunter2-wrong"))).unwrap();
    bad.store(PAGE).probe().await.unwrap_err();
    let token = ConfluenceClient::new(settings(
        &emu.base_url(),
        Auth::Bearer {
            token: Secret::new("tok-should-not-leak"),
        },
    ))
    .unwrap();
    token.store(PAGE).probe().await.unwrap_err();

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.contains("probe"), "the capture works: {logs}");
    for secret in [
        PASSWORD,
        "hunter2-wrong",
        "tok-should-not-leak",
        "Basic ",
        "Bearer ",
    ] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}
