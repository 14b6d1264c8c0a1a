//! `/download/attachments/{page}/{name}`: the download servlet, with single byte ranges.

use std::io;

use futures::StreamExt;
use http::header::{HeaderValue, CONTENT_LENGTH};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncSeekExt;

use super::respond::{empty, error_msg, not_found_page, set_header};
use super::{OutBody, Req, IO_BUF};
use crate::auth::Identity;
use crate::render;
use crate::spawn::{lock, Shared};

/// A single byte range resolved against a length.
#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    /// Serve everything (no, multiple or unparseable ranges).
    Full,
    /// Inclusive byte range.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

fn parse_range(header: Option<&str>, len: u64) -> RangeSpec {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => RangeSpec::Unsatisfiable,
            Ok(_) if len == 0 => RangeSpec::Unsatisfiable,
            Ok(n) => RangeSpec::Part(len.saturating_sub(n), len - 1),
            Err(_) => RangeSpec::Full,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Full;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return RangeSpec::Full,
        }
    };
    if start >= len {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(start, end.min(len - 1))
}

pub(super) async fn download(sh: &Shared, r: &Req, page_id: &str, name: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return not_found_page();
    }
    let found = {
        let model = lock(&sh.model);
        model.find_by_name(page_id, name).and_then(|a| {
            let v = match r.q("version").map(str::parse::<u64>) {
                Some(Ok(n)) => a.version(n)?,
                Some(Err(_)) | None => a.current(),
            };
            Some((a.title.clone(), v.clone()))
        })
    };
    let Some((title, v)) = found else {
        return not_found_page();
    };
    let path = sh.store.blob_path(&v.blob);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "blob missing");
            return not_found_page();
        }
    };
    let len = v.size;
    let (status, start, count) = match parse_range(r.header("range"), len) {
        RangeSpec::Full => (200, 0, len),
        RangeSpec::Part(a, b) => (206, a, b - a + 1),
        RangeSpec::Unsatisfiable => {
            let mut resp = empty(416);
            set_header(&mut resp, "content-range", &format!("bytes */{len}"));
            set_header(&mut resp, "accept-ranges", "bytes");
            return resp;
        }
    };
    if start > 0 {
        if let Err(e) = file.seek(io::SeekFrom::Start(start)).await {
            return error_msg(500, &format!("cannot read attachment: {e}"));
        }
    }
    let reader = tokio::io::AsyncReadExt::take(file, count);
    let stream =
        tokio_util::io::ReaderStream::with_capacity(reader, IO_BUF).map(|c| c.map(Frame::data));
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(count));
    set_header(&mut resp, "content-type", &v.media_type);
    set_header(&mut resp, "accept-ranges", "bytes");
    set_header(
        &mut resp,
        "content-disposition",
        &format!(
            "attachment; filename*=UTF-8''{}",
            render::encode_name(&title)
        ),
    );
    if status == 206 {
        set_header(
            &mut resp,
            "content-range",
            &format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_a_single_range_server() {
        assert_eq!(parse_range(None, 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=2-4"), 10), RangeSpec::Part(2, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), RangeSpec::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), RangeSpec::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), RangeSpec::Part(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), RangeSpec::Full);
    }
}
