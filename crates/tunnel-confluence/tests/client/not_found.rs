//! A 404 that does not come from Confluence itself (a proxy's HTML page, an empty body, a
//! gateway's JSON after a context path change) proves nothing: the head is not "absent" (the
//! engine would take the page for wiped), an attachment is not "already deleted". Only
//! Confluence's own JSON answer means absent.

use confluence_emulator::{FaultKind, ForeignBody, ScriptedFault};
use serde_json::json;
use tunnel_core::remote::{BlobSource, RemoteError, RemoteErrorKind, RemoteStore};

use crate::*;

const FOREIGN: [ForeignBody; 3] = [ForeignBody::Html, ForeignBody::Empty, ForeignBody::Json];

fn foreign_404(method: &str, path: &str, body: ForeignBody) -> ScriptedFault {
    ScriptedFault::new(Some(method), path, FaultKind::ForeignNotFound(body), 1)
}

fn assert_retryable_server_error(e: &RemoteError, what: &str) {
    assert_eq!(e.kind(), RemoteErrorKind::Server, "{what}: {e:?}");
    assert!(e.is_retryable(), "{what}: {e}");
    assert!(e.to_string().contains("not by Confluence"), "{what}: {e}");
}

#[tokio::test]
async fn a_foreign_404_on_the_head_is_an_error_not_an_absent_head() {
    let emu = emulator().await;
    let s = store(&emu);
    for body in FOREIGN {
        // No head yet: still not "absent" on a proxy's word.
        emu.fail_next(foreign_404("GET", "/property/", body));
        let e = s.read_head().await.expect_err("a foreign 404 is no answer");
        assert_retryable_server_error(&e, &format!("{body:?}, no head"));
        assert!(
            s.read_head().await.expect("Confluence answers").is_none(),
            "{body:?}: Confluence's own 404 is an absent head"
        );
    }
    s.write_head(&json!({"g": 1}), None).await.expect("head");
    for body in FOREIGN {
        emu.fail_next(foreign_404("GET", "/property/", body));
        let e = s.read_head().await.expect_err("a foreign 404 is no answer");
        assert_retryable_server_error(&e, &format!("{body:?}, head present"));
        let head = s.read_head().await.expect("next read").expect("head there");
        assert_eq!(head.value, json!({"g": 1}));
    }
}

#[tokio::test]
async fn a_foreign_404_on_a_head_update_is_no_lost_race() {
    let emu = emulator().await;
    let s = store(&emu);
    let v1 = s.write_head(&json!({"g": 1}), None).await.expect("head");
    for body in FOREIGN {
        emu.fail_next(foreign_404("PUT", "/property/", body));
        let e = s
            .write_head(&json!({"g": 2}), Some(v1))
            .await
            .expect_err("not written");
        assert_retryable_server_error(&e, &format!("{body:?}"));
    }
    let head = s.read_head().await.expect("read").expect("head");
    assert_eq!((head.value, head.version), (json!({"g": 1}), v1));
}

#[tokio::test]
async fn a_foreign_404_on_a_delete_is_not_taken_for_already_deleted() {
    let emu = emulator().await;
    let s = store(&emu);
    let blob = name("chunk-0001.bin");
    let info = s
        .put_blob(&blob, BlobSource::Bytes(bytes_of(100, 1)))
        .await
        .expect("upload");
    for body in FOREIGN {
        emu.fail_next(foreign_404("DELETE", "/content/", body));
        let e = s.delete_blob(&info).await.expect_err("not deleted");
        assert_retryable_server_error(&e, &format!("{body:?}"));
        assert!(
            s.find_blob(&blob).await.expect("lookup").is_some(),
            "{body:?}: the blob is still there"
        );
    }
    s.delete_blob(&info).await.expect("deleted");
    s.delete_blob(&info)
        .await
        .expect("Confluence's own 404: already deleted");
}
