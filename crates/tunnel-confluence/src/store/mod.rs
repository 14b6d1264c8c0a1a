//! [`ConfluenceStore`]: one Confluence page as a [`RemoteStore`] — attachments are blobs, the
//! content property [`HEAD_PROPERTY_KEY`] is the compare-and-swap head.
//!
//! Invariants:
//! - every upload is one file per request with `minorEdit=true` (watchers are not notified)
//!   and the comment `sha256=<hex>`;
//! - `put_blob` is idempotent: an existing attachment of that name and size is returned
//!   (blobs above 256 KiB are looked up first, so their bytes are not sent again); after an ambiguous failure (transport error, timeout, 5xx) the
//!   name is looked up before the upload is retried, because the first attempt may have
//!   landed (confluence-api.md §4, §10);
//! - a new version of an existing attachment is always uploaded under its exact current title
//!   (Confluence renames the attachment to the uploaded filename otherwise);
//! - `write_head` is a real CAS: create only when absent, update only from the expected
//!   version (Confluence enforces `version == current + 1`);
//! - downloads never accept an HTML page or a redirect as content, and resume a cut transfer
//!   with a `Range` request from the first missing byte;
//! - download bodies are counted in the client's download limiter as they arrive (a resumed
//!   or repeated download counts again); the answer and every body read are timed by us, not
//!   by the HTTP client, so waiting in the limiter is never taken for a silent server.

mod download;

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::multipart::Form;
use tracing::{debug, instrument, warn};
use tunnel_core::remote::{
    BlobInfo, BlobName, BlobSink, BlobSource, HeadState, RemoteError, RemoteIdentity, RemoteStore,
};

use crate::api::{Attachment, AttachmentList, Content, Endpoints, Property};
use crate::client::ConfluenceClient;
use crate::error::{map_status, Answer, Ctx};
use crate::exchange::{Prepared, Reply, Step, Success};
use crate::paging::Pager;
use crate::retry::{Retrier, Transient};
use crate::upload::{file_part, source_digest, Recorded};

/// Key of the content property holding the head pointer.
pub const HEAD_PROPERTY_KEY: &str = "sber-tunnel.head";

/// Name of the small attachment `probe_write` uploads (reused, never listed as a blob).
pub const PROBE_ATTACHMENT_NAME: &str = "sber-tunnel-probe.txt";

/// Largest serialised head value Confluence accepts (characters of JSON).
pub const MAX_HEAD_CHARS: usize = 32_768;

/// Immutable uploads larger than this are looked up by name before they are sent, so that an
/// existing blob costs one small GET instead of re-sending its bytes just to learn (400) that
/// it exists. Smaller ones are sent directly: the 400 answer costs no more than the lookup.
const LOOKUP_FIRST_ABOVE: u64 = 256 * 1024;

/// Content of the probe attachment.
const PROBE_TEXT: &str = "sber-tunnel checks with this file that it may add attachments to \
                          this page. It is safe to ignore; please do not delete it.\n";

/// One Confluence page used as a [`RemoteStore`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ConfluenceStore {
    client: ConfluenceClient,
    page_id: Arc<str>,
}

/// What to do when the attachment to create already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnExisting {
    /// Immutable blob: same size (and same recorded hash, when recorded) means done;
    /// otherwise replace the bytes.
    KeepIfSame,
    /// Mutable blob: always write a new version.
    NewVersion,
}

impl ConfluenceClient {
    /// The store for one page (one synced folder).
    pub fn store(&self, page_id: &str) -> ConfluenceStore {
        ConfluenceStore::new(self.clone(), page_id)
    }
}

impl ConfluenceStore {
    pub(crate) fn new(client: ConfluenceClient, page_id: &str) -> Self {
        ConfluenceStore {
            client,
            page_id: Arc::from(page_id.trim()),
        }
    }

    /// The page this store works on.
    pub fn page_id(&self) -> &str {
        &self.page_id
    }

    /// The client this store uses.
    pub fn client(&self) -> &ConfluenceClient {
        &self.client
    }

    fn endpoints(&self) -> &Endpoints {
        self.client.endpoints()
    }

    fn ctx(&self, forbidden: impl Into<String>) -> Ctx {
        Ctx {
            page_id: self.page_id.to_string(),
            forbidden: Some(forbidden.into()),
            not_found: None,
            bearer: self.client.is_bearer(),
        }
    }

    fn read_ctx(&self) -> Ctx {
        self.ctx(format!("no permission to view page {}", self.page_id))
    }

    fn upload_ctx(&self) -> Ctx {
        self.ctx(format!(
            "no permission to add attachments to page {}",
            self.page_id
        ))
    }

    fn head_ctx(&self) -> Ctx {
        self.ctx(format!(
            "no permission to edit page {} (needed to write the sync head property)",
            self.page_id
        ))
    }

    /// Convert an attachment to a [`BlobInfo`]. `name` is the name asked for (the title may
    /// differ from it in case); without one (a listing) only a title that is a blob name
    /// exactly as it stands makes a blob: `P-1.jpg` or `Report.PDF`, attached by hand, are
    /// not ours and never become `p-1.jpg` or `report.pdf`. `None` when there is no name.
    fn blob_info(
        att: &Attachment,
        name: Option<&BlobName>,
    ) -> Result<Option<BlobInfo>, RemoteError> {
        let name = match name {
            Some(n) => BlobName::new(att.title.to_ascii_lowercase()).unwrap_or_else(|_| n.clone()),
            None => match BlobName::new(att.title.as_str()) {
                Ok(n) => n,
                Err(_) => return Ok(None),
            },
        };
        let size = att.extensions.file_size.ok_or_else(|| {
            RemoteError::Protocol(format!(
                "the server did not say the size of attachment {} ({})",
                att.title, att.id
            ))
        })?;
        let version = att.version.as_ref().and_then(|v| v.number).ok_or_else(|| {
            RemoteError::Protocol(format!(
                "the server did not say the version of attachment {} ({})",
                att.title, att.id
            ))
        })?;
        Ok(Some(BlobInfo {
            name,
            id: att.id.clone(),
            size,
            version,
            modified_ms: att.version.as_ref().and_then(|v| v.when_ms()),
        }))
    }

    fn required_info(att: &Attachment, name: &BlobName) -> Result<BlobInfo, RemoteError> {
        Self::blob_info(att, Some(name))?.ok_or_else(|| {
            RemoteError::Protocol(format!("attachment {} has no usable name", att.id))
        })
    }

    /// Look an attachment up by name (`filename=`, case-insensitive).
    async fn find_attachment(&self, name: &str) -> Result<Option<Attachment>, RemoteError> {
        let url = self.endpoints().attachment_by_name(&self.page_id, name);
        let ctx = self.read_ctx();
        let ok = self
            .client
            .call("find_blob", &ctx, &url, &[], || {
                Ok(self.client.get(&url).into())
            })
            .await?
            .into_success()?;
        let list: AttachmentList = ok.json("the attachment lookup")?;
        self.client.learn_links_base(list.links.base.as_deref());
        Ok(list
            .results
            .into_iter()
            .find(|a| a.title.eq_ignore_ascii_case(name)))
    }

    /// A multipart upload request (`file`, `comment`, `minorEdit=true`) to `url`.
    fn upload_request(
        &self,
        url: &url::Url,
        filename: &str,
        source: &BlobSource,
        digest: &Recorded,
    ) -> Result<Prepared, RemoteError> {
        let (part, check, progress) = file_part(source, filename, self.client.upload_throttle())?;
        let form = Form::new()
            .part("file", part)
            .text("comment", digest.comment())
            .text("minorEdit", "true");
        let req = self
            .client
            .post_upload(url)
            .header("X-Atlassian-Token", "no-check")
            .multipart(form);
        let source = match source {
            BlobSource::File { path, .. } | BlobSource::Open { path, .. } => {
                Some((check, path.clone()))
            }
            BlobSource::Bytes(_) | BlobSource::Members { .. } => None,
        };
        Ok(Prepared {
            req,
            source,
            progress: Some(progress),
        })
    }

    /// Upload a new version of an existing attachment (`POST …/{attId}/data`) under its
    /// exact current title.
    async fn upload_data(
        &self,
        att: &Attachment,
        name: &BlobName,
        source: &BlobSource,
    ) -> Result<BlobInfo, RemoteError> {
        let url = self.endpoints().attachment_data(&self.page_id, &att.id);
        let digest = source_digest(source);
        let ctx = Ctx {
            not_found: Some(format!(
                "attachment {} ({}) disappeared from page {}",
                att.title, att.id, self.page_id
            )),
            ..self.upload_ctx()
        };
        let ok = self
            .client
            .call("upload_data", &ctx, &url, &[], || {
                self.upload_request(&url, &att.title, source, &digest)
            })
            .await?
            .into_success()?;
        let updated: Attachment = ok.json("the attachment update")?;
        Self::required_info(&updated, name)
    }

    /// Whether an existing attachment already holds `source` (same size; same hash when the
    /// comment records one).
    fn holds(att: &Attachment, source: &BlobSource, digest: &Recorded) -> bool {
        let size_ok = att.extensions.file_size == Some(source.len());
        let hash_ok = !att
            .extensions
            .comment
            .as_deref()
            .and_then(|c| digest.differs_from(c))
            .unwrap_or(false);
        size_ok && hash_ok
    }

    /// Finish an upload whose name turned out to exist already.
    async fn settle_existing(
        &self,
        att: Attachment,
        name: &BlobName,
        source: &BlobSource,
        digest: &Recorded,
        on_existing: OnExisting,
    ) -> Result<BlobInfo, RemoteError> {
        if on_existing == OnExisting::KeepIfSame && Self::holds(&att, source, digest) {
            debug!(id = %att.id, "blob already on the page; not sending it again");
            return Self::required_info(&att, name);
        }
        if on_existing == OnExisting::KeepIfSame {
            warn!(
                id = %att.id,
                remote_size = ?att.extensions.file_size,
                local_size = source.len(),
                "an attachment of that name holds other bytes (a broken earlier upload?); \
                 replacing them"
            );
        }
        self.upload_data(&att, name, source).await
    }

    /// Create an attachment (`POST …/child/attachment`), reconciling with what is already on
    /// the page when the name exists or an earlier attempt may have landed. The flag is
    /// `true` only when a POST of this call created the attachment (its first version is
    /// then no older than the call); an attachment found on the page, even one an earlier
    /// attempt of this call may have made, is `false`.
    async fn create_attachment(
        &self,
        name: &BlobName,
        source: &BlobSource,
        on_existing: OnExisting,
    ) -> Result<(BlobInfo, bool), RemoteError> {
        let url = self.endpoints().attachments(&self.page_id);
        let digest = source_digest(source);
        let ctx = self.upload_ctx();
        let mut retrier = Retrier::new(self.client.retry_policy(), "put_blob");
        // "Look before sending": for big immutable blobs, and after an ambiguous failure.
        let mut maybe_landed =
            on_existing == OnExisting::KeepIfSame && source.len() > LOOKUP_FIRST_ABOVE;
        loop {
            if maybe_landed {
                if let Some(att) = self.find_attachment(name.as_str()).await? {
                    if Self::holds(&att, source, &digest) {
                        debug!(id = %att.id, "the blob is already on the page");
                        return Ok((Self::required_info(&att, name)?, false));
                    }
                    return self
                        .settle_existing(att, name, source, &digest, on_existing)
                        .await
                        .map(|info| (info, false));
                }
            }
            let prepared = self.upload_request(&url, name.as_str(), source, &digest)?;
            match self.client.attempt(&ctx, &url, &[400], prepared).await {
                Step::Done(Reply::Success(ok)) => {
                    let list: AttachmentList = ok.json("the attachment upload")?;
                    let att = list.results.first().ok_or_else(|| {
                        RemoteError::Protocol(
                            "the server accepted the upload but returned no attachment".into(),
                        )
                    })?;
                    return Ok((Self::required_info(att, name)?, true));
                }
                Step::Done(Reply::Handled(ans)) => {
                    if !ans.message.to_ascii_lowercase().contains("same file name") {
                        return Err(map_status(&ans, &ctx));
                    }
                    let att = self.find_attachment(name.as_str()).await?.ok_or_else(|| {
                        RemoteError::Protocol(format!(
                            "the server says {name} already exists on page {} but does not list \
                             it",
                            self.page_id
                        ))
                    })?;
                    return self
                        .settle_existing(att, name, source, &digest, on_existing)
                        .await
                        .map(|info| (info, false));
                }
                Step::Retry(t) => {
                    maybe_landed |= matches!(
                        t,
                        Transient::Transport { .. }
                            | Transient::Status {
                                status: 500..=599,
                                ..
                            }
                    );
                    retrier.wait(t).await?;
                }
                Step::Fail(e) => return Err(e),
            }
        }
    }

    /// Read the head property; `Ok(None)` when it does not exist.
    async fn fetch_head(&self) -> Result<Option<HeadState>, RemoteError> {
        let mut url = self.endpoints().property(&self.page_id, HEAD_PROPERTY_KEY);
        url.query_pairs_mut().append_pair("expand", "version");
        let ctx = self.read_ctx();
        let reply = self
            .client
            .call("read_head", &ctx, &url, &[404], || {
                Ok(self.client.get(&url).into())
            })
            .await?;
        match reply {
            Reply::Success(ok) => {
                let prop: Property = ok.json("the head property request")?;
                let version = prop.version.and_then(|v| v.number).ok_or_else(|| {
                    RemoteError::Protocol("the head property has no version number".into())
                })?;
                Ok(Some(HeadState {
                    value: prop.value,
                    version,
                }))
            }
            Reply::Handled(ans) if is_missing_page(&ans) => Err(map_status(&ans, &ctx)),
            // Only Confluence's own answer that the property does not exist means "no head":
            // the engine then treats the remote as wiped.
            Reply::Handled(ans) if is_missing_property(&ans) => Ok(None),
            Reply::Handled(ans) => Err(foreign_not_found(&ans, "the sync head property")),
        }
    }

    /// After a 409 on a head write that was retried, check whether our own earlier attempt
    /// is what the server now holds.
    async fn head_written_by_us(
        &self,
        value: &serde_json::Value,
        expected_new: u64,
    ) -> Result<Option<u64>, RemoteError> {
        Ok(self
            .fetch_head()
            .await?
            .filter(|h| h.value == *value && h.version == expected_new)
            .map(|h| h.version))
    }
}
/// A 404 that is about the page, not the property.
fn is_missing_page(ans: &Answer) -> bool {
    let m = ans.message.to_ascii_lowercase();
    !m.contains("property") && (m.contains("no content found") || m.contains("contentid"))
}

/// Confluence's own 404 saying that a content property does not exist
/// (`No content property found with key: …`, `Could not find Property to update.`).
fn is_missing_property(ans: &Answer) -> bool {
    ans.status == 404 && ans.confluence && ans.message.to_ascii_lowercase().contains("property")
}

/// Confluence's own 404 for content addressed by its id (an attachment): it is not there
/// (`Can't find attachment with id: …`, `No content found with id: …`).
fn is_missing_attachment(ans: &Answer) -> bool {
    ans.status == 404 && ans.confluence
}

/// The error for a 404 that did not come from Confluence (an HTML page or an empty body from
/// a proxy, a changed context path, JSON of another shape): it proves nothing about `what`,
/// so it is a server failure to retry later, never "absent".
fn foreign_not_found(ans: &Answer, what: &str) -> RemoteError {
    let body = if ans.html {
        "an HTML page"
    } else if ans.message.is_empty() {
        "an empty body"
    } else {
        "an answer that is not Confluence's"
    };
    RemoteError::Server {
        status: ans.status,
        message: format!(
            "the request for {what} was answered \"not found\" with {body}, not by Confluence \
             itself (a proxy in front of it, or a changed server address?); nothing is taken as \
             deleted, try again later"
        ),
    }
}
#[async_trait]
impl RemoteStore for ConfluenceStore {
    #[instrument(skip_all, fields(page = %self.page_id), err(level = "debug"))]
    async fn probe(&self) -> Result<RemoteIdentity, RemoteError> {
        let url = self.endpoints().page(&self.page_id);
        let ctx = self.read_ctx();
        let reply = self
            .client
            .call("probe", &ctx, &url, &[403, 404], || {
                Ok(self.client.get(&url).into())
            })
            .await?;
        let ok = match reply {
            Reply::Success(ok) => ok,
            Reply::Handled(ans) => {
                // Served as anonymous (an invalid token is ignored, not refused), the page is
                // hidden: say that the credentials are the problem, not the page.
                if ans.username.is_none() {
                    self.client.current_user().await?;
                }
                return Err(map_status(&ans, &ctx));
            }
        };
        let content: Content = ok.json("the page request")?;
        self.client.learn_links_base(content.links.base.as_deref());
        let user = match ok.username() {
            Some(u) => u,
            // No X-AUSERNAME: anonymous, or a proxy dropped the header. Ask who we are.
            None => self.client.current_user().await?,
        };
        Ok(RemoteIdentity {
            user,
            title: content.title,
            max_blob_size: self.client.learned_limit(),
        })
    }

    #[instrument(skip_all, fields(page = %self.page_id), err(level = "debug"))]
    async fn probe_write(&self) -> Result<(), RemoteError> {
        let name = BlobName::new(PROBE_ATTACHMENT_NAME)
            .map_err(|e| RemoteError::Protocol(e.to_string()))?;
        let source = BlobSource::Bytes(Bytes::from_static(PROBE_TEXT.as_bytes()));
        match self.find_attachment(PROBE_ATTACHMENT_NAME).await? {
            None => {
                self.create_attachment(&name, &source, OnExisting::NewVersion)
                    .await?;
            }
            Some(att) => {
                let old = att.version.as_ref().and_then(|v| v.number);
                let new = self.upload_data(&att, &name, &source).await?;
                if let Some(old) = old.filter(|&o| o < new.version) {
                    if let Err(e) = self.delete_blob_version(&new, old).await {
                        warn!(error = %e, "could not delete the previous probe version");
                    }
                }
            }
        }
        Ok(())
    }

    #[instrument(skip_all, fields(page = %self.page_id), err(level = "debug"))]
    async fn read_head(&self) -> Result<Option<HeadState>, RemoteError> {
        self.fetch_head().await
    }

    #[instrument(skip_all, fields(page = %self.page_id, expected = ?expected), err(level = "debug"))]
    async fn write_head(
        &self,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<u64, RemoteError> {
        let text = serde_json::to_string(value)
            .map_err(|e| RemoteError::Protocol(format!("cannot serialise the head: {e}")))?;
        let chars = text.chars().count();
        if chars > MAX_HEAD_CHARS {
            return Err(RemoteError::TooLarge {
                limit: Some(MAX_HEAD_CHARS as u64),
                message: format!(
                    "the head value is {chars} characters of JSON; Confluence stores at most \
                     {MAX_HEAD_CHARS} in a content property"
                ),
            });
        }
        let ctx = self.head_ctx();
        match expected {
            None => {
                let url = self.endpoints().properties(&self.page_id);
                let body = serde_json::json!({ "key": HEAD_PROPERTY_KEY, "value": value });
                let (reply, failures) = self
                    .client
                    .call_counting("write_head", &ctx, &url, &[409], || {
                        Ok(self.client.post(&url).json(&body).into())
                    })
                    .await?;
                match reply {
                    Reply::Success(ok) => {
                        let prop: Property = ok.json("the head creation")?;
                        Ok(prop.version.and_then(|v| v.number).unwrap_or(1))
                    }
                    Reply::Handled(ans) => {
                        if failures > 0 {
                            if let Some(v) = self.head_written_by_us(value, 1).await? {
                                return Ok(v);
                            }
                        }
                        Err(RemoteError::Conflict {
                            current: crate::error::parse_current_version(&ans.message),
                        })
                    }
                }
            }
            Some(current) => {
                let next = current + 1;
                let url = self.endpoints().property(&self.page_id, HEAD_PROPERTY_KEY);
                let body = serde_json::json!({
                    "key": HEAD_PROPERTY_KEY,
                    "value": value,
                    "version": { "number": next, "minorEdit": true },
                });
                let (reply, failures) = self
                    .client
                    .call_counting("write_head", &ctx, &url, &[404, 409], || {
                        Ok(self.client.put(&url).json(&body).into())
                    })
                    .await?;
                match reply {
                    Reply::Success(ok) => {
                        let prop: Property = ok.json("the head update")?;
                        Ok(prop.version.and_then(|v| v.number).unwrap_or(next))
                    }
                    Reply::Handled(ans) if ans.status == 404 && is_missing_page(&ans) => {
                        Err(map_status(&ans, &ctx))
                    }
                    Reply::Handled(ans) if ans.status == 404 && !is_missing_property(&ans) => {
                        Err(foreign_not_found(&ans, "the sync head property"))
                    }
                    Reply::Handled(ans) => {
                        if failures > 0 {
                            if let Some(v) = self.head_written_by_us(value, next).await? {
                                return Ok(v);
                            }
                        }
                        // 404: the property was deleted meanwhile; 409: someone wrote first.
                        Err(RemoteError::Conflict {
                            current: crate::error::parse_current_version(&ans.message),
                        })
                    }
                }
            }
        }
    }

    #[instrument(skip_all, fields(page = %self.page_id, blob = %name, size = source.len()), err(level = "debug"))]
    async fn put_blob(&self, name: &BlobName, source: BlobSource) -> Result<BlobInfo, RemoteError> {
        self.create_attachment(name, &source, OnExisting::KeepIfSame)
            .await
            .map(|(info, _)| info)
    }

    #[instrument(skip_all, fields(page = %self.page_id, blob = %name, size = source.len()), err(level = "debug"))]
    async fn put_blob_created(
        &self,
        name: &BlobName,
        source: BlobSource,
    ) -> Result<(BlobInfo, bool), RemoteError> {
        self.create_attachment(name, &source, OnExisting::KeepIfSame)
            .await
    }

    #[instrument(skip_all, fields(page = %self.page_id, blob = %name, size = data.len()), err(level = "debug"))]
    async fn put_mutable(&self, name: &BlobName, data: Bytes) -> Result<BlobInfo, RemoteError> {
        let source = BlobSource::Bytes(data);
        match self.find_attachment(name.as_str()).await? {
            Some(att) => self.upload_data(&att, name, &source).await,
            None => self
                .create_attachment(name, &source, OnExisting::NewVersion)
                .await
                .map(|(info, _)| info),
        }
    }
    #[instrument(skip_all, fields(page = %self.page_id, blob = %name, version = ?version, range = ?range), err(level = "debug"))]
    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<Range<u64>>,
        sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        self.download(name, version, range, sink).await
    }

    #[instrument(skip_all, fields(page = %self.page_id, blob = %name), err(level = "debug"))]
    async fn find_blob(&self, name: &BlobName) -> Result<Option<BlobInfo>, RemoteError> {
        match self.find_attachment(name.as_str()).await? {
            Some(att) => Ok(Some(Self::required_info(&att, name)?)),
            None => Ok(None),
        }
    }

    /// Every blob on the page, except the `probe_write` attachment and attachments whose
    /// names are not blob names (files people attached by hand).
    #[instrument(skip_all, fields(page = %self.page_id), err(level = "debug"))]
    async fn list_blobs(&self) -> Result<Vec<BlobInfo>, RemoteError> {
        let ctx = self.read_ctx();
        let mut pager = Pager::new();
        let mut url = self.endpoints().attachment_listing(&self.page_id);
        let mut out = Vec::new();
        loop {
            let ok: Success = self
                .client
                .call("list_blobs", &ctx, &url, &[], || {
                    Ok(self.client.get(&url).into())
                })
                .await?
                .into_success()?;
            let list: AttachmentList = ok.json("the attachment listing")?;
            self.client.learn_links_base(list.links.base.as_deref());
            let next = list.links.next.clone();
            let (fresh, more) = pager.accept(list.results, |a| a.id.as_str(), next.is_some());
            for att in &fresh {
                if att.title.eq_ignore_ascii_case(PROBE_ATTACHMENT_NAME) {
                    continue;
                }
                match Self::blob_info(att, None)? {
                    Some(info) => out.push(info),
                    None => debug!(title = %att.title, "ignoring an attachment that is not a blob"),
                }
            }
            match next.filter(|_| more) {
                Some(next) => {
                    url = self.endpoints().resolve_next(
                        list.links
                            .base
                            .as_deref()
                            .or(self.client.links_base().as_deref()),
                        &next,
                    )?;
                }
                None => break,
            }
        }
        debug!(
            count = out.len(),
            distinct = pager.distinct(),
            "listed blobs"
        );
        Ok(out)
    }

    #[instrument(skip_all, fields(page = %self.page_id, blob = %blob.name, id = %blob.id), err(level = "debug"))]
    async fn delete_blob(&self, blob: &BlobInfo) -> Result<(), RemoteError> {
        let url = self.endpoints().content(&blob.id);
        let ctx = self.ctx(format!(
            "no permission to delete attachments on page {}",
            self.page_id
        ));
        match self
            .client
            .call("delete_blob", &ctx, &url, &[404], || {
                Ok(self.client.delete(&url).into())
            })
            .await?
        {
            Reply::Success(_) => Ok(()),
            Reply::Handled(ans) if is_missing_attachment(&ans) => {
                debug!("attachment already gone");
                Ok(())
            }
            Reply::Handled(ans) => Err(foreign_not_found(
                &ans,
                &format!("attachment {} ({})", blob.name, blob.id),
            )),
        }
    }

    #[instrument(skip_all, fields(page = %self.page_id, blob = %blob.name, id = %blob.id, version), err(level = "debug"))]
    async fn delete_blob_version(&self, blob: &BlobInfo, version: u64) -> Result<(), RemoteError> {
        let url = self.endpoints().attachment_version(&blob.id, version);
        let ctx = self.ctx(format!(
            "no permission to delete attachment versions on page {}",
            self.page_id
        ));
        match self
            .client
            .call("delete_blob_version", &ctx, &url, &[404], || {
                Ok(self.client.delete(&url).into())
            })
            .await?
        {
            Reply::Success(_) => Ok(()),
            // Only Confluence's own JSON answer says that the version is gone; an HTML page
            // or an empty 404 is the endpoint itself missing (or a proxy).
            Reply::Handled(ans) if !ans.confluence => Err(RemoteError::NotFound(format!(
                "this server does not offer deleting attachment versions \
                     (/rest/experimental/content/{{id}}/version/{{n}} answered 404); old \
                     versions of {} stay on page {}",
                blob.name, self.page_id
            ))),
            Reply::Handled(_) => {
                debug!("version already gone");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn holds_checks_size_and_recorded_hash() {
        let data = BlobSource::Bytes(Bytes::from_static(b"hello"));
        let digest = source_digest(&data);
        let att = |size: u64, comment: Option<String>| Attachment {
            id: "att1".into(),
            title: "x".into(),
            version: None,
            extensions: crate::api::AttachmentExtensions {
                file_size: Some(size),
                comment,
            },
        };
        assert!(ConfluenceStore::holds(&att(5, None), &data, &digest));
        assert!(ConfluenceStore::holds(
            &att(5, Some(digest.comment())),
            &data,
            &digest
        ));
        assert!(!ConfluenceStore::holds(&att(4, None), &data, &digest));
        assert!(!ConfluenceStore::holds(
            &att(5, Some(format!("sha256={}", "0".repeat(64)))),
            &data,
            &digest
        ));
        // A pack named by its members records its member list's digest, not its bytes'.
        let members = tunnel_core::hash::Digest::of(b"the member list");
        let pack = BlobSource::Members {
            bytes: Bytes::from_static(b"hello"),
            members,
        };
        let recorded = source_digest(&pack);
        let comment = format!("members-sha256={}", members.to_hex());
        assert_eq!(recorded.comment(), comment);
        assert!(ConfluenceStore::holds(
            &att(5, Some(comment)),
            &pack,
            &recorded
        ));
        assert!(ConfluenceStore::holds(&att(5, None), &pack, &recorded));
        assert!(
            !ConfluenceStore::holds(
                &att(5, Some(format!("sha256={}", members.to_hex()))),
                &pack,
                &recorded
            ),
            "the same hex of the other kind records other bytes"
        );
        assert!(!ConfluenceStore::holds(
            &att(5, Some(format!("members-sha256={}", "0".repeat(64)))),
            &pack,
            &recorded
        ));
        assert!(
            ConfluenceStore::holds(&att(5, Some("uploaded by hand".into())), &pack, &recorded),
            "a comment that records no digest of ours leaves the size to decide"
        );
    }

    #[test]
    fn missing_page_is_told_apart_from_missing_property() {
        let ans = |m: &str| Answer {
            status: 404,
            username: Some("svc".into()),
            login_reason: None,
            location: None,
            retry_after: None,
            message: m.into(),
            html: false,
            confluence: true,
        };
        assert!(is_missing_page(&ans(
            "No content found with id: ContentId{id=5}"
        )));
        assert!(!is_missing_page(&ans(
            "No content property found with key: sber-tunnel.head"
        )));
        assert!(!is_missing_page(&ans("")));
    }
}
