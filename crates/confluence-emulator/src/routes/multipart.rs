//! Multipart uploads, streamed: file parts to temp files (refused as soon as a limit is
//! crossed, never buffered whole), text parts to memory.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use http::Response;
use http_body_util::BodyStream;
use tokio::io::AsyncWriteExt;

use super::respond::{error_msg, html, too_large};
use super::{OutBody, Req, IO_BUF};
use crate::model::{limits, strip_path};
use crate::spawn::Shared;

/// Largest multipart text part we keep.
const TEXT_PART_MAX: usize = 64 * 1024;

/// One uploaded file part, stored in a temp file.
pub(super) struct UploadedFile {
    pub(super) sent_name: String,
    pub(super) name: String,
    pub(super) key: String,
    pub(super) tmp: std::path::PathBuf,
    pub(super) size: u64,
    pub(super) part_type: Option<String>,
}

/// Parsed multipart upload.
#[derive(Default)]
pub(super) struct Upload {
    pub(super) files: Vec<UploadedFile>,
    pub(super) comments: Vec<String>,
    pub(super) minor_edits: Vec<bool>,
    pub(super) hidden: Vec<bool>,
}

impl Upload {
    pub(super) fn minor(&self, i: usize) -> bool {
        self.minor_edits.get(i).copied().unwrap_or(false)
    }
    /// Whether watchers hear about file `i` (DC's listener skips minor and hidden uploads).
    pub(super) fn notifies(&self, i: usize) -> bool {
        !self.minor(i) && !self.hidden.get(i).copied().unwrap_or(false)
    }
    pub(super) fn comment(&self, i: usize) -> String {
        self.comments.get(i).cloned().unwrap_or_default()
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Temp files of committed uploads were renamed away; the rest are removed here.
        for f in &self.files {
            if let Err(e) = std::fs::remove_file(&f.tmp) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %f.tmp.display(), error = %e, "cannot remove upload temp file");
                }
            }
        }
    }
}

/// Streams a multipart body: file parts to temp files, text parts to memory.
pub(super) async fn read_multipart(sh: &Shared, r: &mut Req) -> Result<Upload, Response<OutBody>> {
    let ct = r.header("content-type").unwrap_or("").to_string();
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(html(
            415,
            "Unsupported Media Type",
            "Expected multipart/form-data.",
        ));
    }
    let boundary = multer::parse_boundary(&ct)
        .map_err(|_| error_msg(400, "Missing or invalid multipart boundary"))?;
    r.body_read = true;
    let Some(body) = r.body.as_mut() else {
        return Err(error_msg(400, "No request body"));
    };
    let counter = Arc::new(AtomicU64::new(0));
    let over_request = Arc::new(AtomicBool::new(false));
    let request_max = sh
        .max_attachment_size
        .saturating_mul(limits::REQUEST_SIZE_FACTOR)
        .max(sh.max_attachment_size.saturating_add(1 << 20));
    let stream = {
        let counter = counter.clone();
        let over = over_request.clone();
        BodyStream::new(&mut *body).filter_map(move |f| {
            let out = match f {
                Ok(frame) => frame.into_data().ok().map(|d| {
                    let total =
                        counter.fetch_add(d.len() as u64, Ordering::Relaxed) + d.len() as u64;
                    if total > request_max {
                        over.store(true, Ordering::Relaxed);
                        Err(io::Error::other("request exceeds the multipart size limit"))
                    } else {
                        Ok(d)
                    }
                }),
                Err(e) => Some(Err(io::Error::other(e))),
            };
            futures::future::ready(out)
        })
    };
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut up = Upload::default();
    let mut fields = Vec::new();
    let mut files = Vec::new();
    // A stream cut at the request limit reads as a parse error: answer it as too large.
    let unparsable = |e: multer::Error| {
        if over_request.load(Ordering::Relaxed) {
            too_large(sh)
        } else {
            error_msg(400, &format!("Unable to parse multipart request: {e}"))
        }
    };
    let result: Result<(), Response<OutBody>> = async {
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(unparsable(e)),
            };
            let name = field.name().unwrap_or("").to_string();
            if let (true, Some(fname)) = (name == "file", field.file_name().map(str::to_string)) {
                files.push(fname.clone());
                let part_type = field.content_type().map(|m| m.to_string());
                let (key, tmp) = sh.store.new_upload();
                up.files.push(UploadedFile {
                    name: strip_path(&fname),
                    sent_name: fname,
                    key,
                    tmp: tmp.clone(),
                    size: 0,
                    part_type,
                });
                let file = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| error_msg(500, &format!("cannot store upload: {e}")))?;
                let mut w = tokio::io::BufWriter::with_capacity(IO_BUF, file);
                let mut size = 0u64;
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len() as u64;
                            if size > sh.max_attachment_size {
                                return Err(too_large(sh));
                            }
                            w.write_all(&chunk).await.map_err(|e| {
                                error_msg(500, &format!("cannot store upload: {e}"))
                            })?;
                        }
                        Ok(None) => break,
                        Err(e) => return Err(unparsable(e)),
                    }
                }
                w.flush()
                    .await
                    .map_err(|e| error_msg(500, &format!("cannot store upload: {e}")))?;
                if let Some(last) = up.files.last_mut() {
                    last.size = size;
                }
            } else {
                let mut text = Vec::new();
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(c)) => {
                            if text.len() + c.len() <= TEXT_PART_MAX {
                                text.extend_from_slice(&c);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return Err(unparsable(e)),
                    }
                }
                let text = String::from_utf8_lossy(&text).into_owned();
                fields.push((name.clone(), text.clone()));
                match name.as_str() {
                    "comment" => up.comments.push(text),
                    "minorEdit" => up
                        .minor_edits
                        .push(text.trim().eq_ignore_ascii_case("true")),
                    "hidden" => up.hidden.push(text.trim().eq_ignore_ascii_case("true")),
                    _ => {}
                }
            }
        }
        Ok(())
    }
    .await;
    drop(mp);
    r.bytes_in += counter.load(Ordering::Relaxed);
    r.fields.extend(fields);
    r.files.extend(files);
    result.map(|()| up)
}
