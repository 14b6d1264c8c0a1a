//! Wire types of the Confluence REST API v1 (only the fields the client reads) and the URLs of
//! the endpoints it calls.
//!
//! Invariants: every URL is built from the configured base (scheme + host + context path, no
//! trailing slash) with each variable path segment percent-encoded, so an id or a name can
//! never change the path structure. Deserialisation is lenient about fields we do not use and
//! about numbers sent as strings.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde::{Deserialize, Deserializer};
use tunnel_core::remote::RemoteError;
use url::Url;

/// Characters escaped in a path segment (RFC 3986 `pchar` complement, plus `%`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'+')
    .add(b'&')
    .add(b';')
    .add(b'=');

/// Percent-encode one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A u64 that may arrive as a JSON number or a string.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(u64),
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<NumOrText>::deserialize(d)? {
        Some(NumOrText::Num(n)) => Some(n),
        Some(NumOrText::Text(s)) => s.trim().parse().ok(),
        Some(NumOrText::Other(_)) | None => None,
    })
}

/// `version` object (the number, and when it was written).
#[derive(Debug, Clone, Deserialize, Default)]
pub(crate) struct Version {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub number: Option<u64>,
    /// ISO 8601 with an offset, e.g. `2024-03-01T12:00:00.000+03:00`.
    #[serde(default)]
    pub when: Option<serde_json::Value>,
}

impl Version {
    /// `when` in milliseconds since the Unix epoch, when it is there and readable.
    pub(crate) fn when_ms(&self) -> Option<i64> {
        self.when.as_ref()?.as_str().and_then(parse_iso8601_ms)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM|±HHMM]` → milliseconds since the Unix epoch.
pub(crate) fn parse_iso8601_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let text = &frac[..digits];
        let three: String = text.chars().chain("000".chars()).take(3).collect();
        millis = three.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        "" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let h: i64 = hm[..2].parse().ok()?;
            let m: i64 = hm[2..].parse().ok()?;
            sign * (h * 60 + m)
        }
    };
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1000 + millis)
}

/// `_links` of any body.
#[derive(Debug, Clone, Deserialize, Default)]
pub(crate) struct Links {
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub next: Option<String>,
}

/// `GET /rest/api/content/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Content {
    #[serde(default)]
    pub title: String,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

/// `extensions` of an attachment.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttachmentExtensions {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// An attachment object (listing, create and `/data` answers).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Attachment {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub version: Option<Version>,
    #[serde(default)]
    pub extensions: AttachmentExtensions,
}

/// A RestList of attachments.
#[derive(Debug, Deserialize)]
pub(crate) struct AttachmentList {
    #[serde(default)]
    pub results: Vec<Attachment>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

/// A content property.
#[derive(Debug, Deserialize)]
pub(crate) struct Property {
    #[serde(default)]
    pub value: serde_json::Value,
    #[serde(default)]
    pub version: Option<Version>,
}

/// `GET /rest/api/user/current`.
#[derive(Debug, Deserialize)]
pub(crate) struct CurrentUser {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(rename = "accountId", default)]
    pub account_id: Option<String>,
}

impl CurrentUser {
    /// The user name, `None` when the answer describes an anonymous user.
    pub(crate) fn name(&self) -> Option<String> {
        if self
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("anonymous"))
        {
            return None;
        }
        [&self.username, &self.email, &self.account_id]
            .into_iter()
            .flatten()
            .find(|s| !s.trim().is_empty())
            .cloned()
    }
}

/// The configured server: base URL (with context path) and URL builders.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    /// `scheme://host[:port][/context]`, no trailing slash.
    base: String,
}

impl Endpoints {
    /// Validate a user-given base URL (`https://host[/context]`, trailing slash tolerated).
    pub(crate) fn new(base_url: &str) -> Result<Self, RemoteError> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let bad = |why: &str| {
            RemoteError::Unreachable(format!(
                "`{trimmed}` is not a usable server address: {why} (expected \
                 https://host[/context])"
            ))
        };
        let parsed = Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if parsed.host_str().is_none() {
            return Err(bad("there is no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("it must not have a query or fragment"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("put credentials in the settings, not in the address"));
        }
        Ok(Endpoints {
            base: trimmed.to_owned(),
        })
    }

    /// The base URL as configured (no trailing slash).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        // `base` parsed as a URL in `new`, and `path` is made of encoded segments: the
        // concatenation is a URL too.
        Url::parse(&format!("{}{path}", self.base)).expect("valid base + encoded path")
    }

    /// `GET /rest/api/content/{page}?expand=version`.
    pub(crate) fn page(&self, page_id: &str) -> Url {
        let mut u = self.url(&format!("/rest/api/content/{}", encode_segment(page_id)));
        u.query_pairs_mut().append_pair("expand", "version");
        u
    }

    /// `GET /rest/pat/latest/tokens` (DC 7.9+: the caller's personal access tokens).
    pub(crate) fn personal_access_tokens(&self) -> Url {
        self.url("/rest/pat/latest/tokens")
    }

    /// `GET /rest/api/user/current`.
    pub(crate) fn current_user(&self) -> Url {
        self.url("/rest/api/user/current")
    }

    /// `/rest/api/content/{page}/property` (POST create).
    pub(crate) fn properties(&self, page_id: &str) -> Url {
        self.url(&format!(
            "/rest/api/content/{}/property",
            encode_segment(page_id)
        ))
    }

    /// `/rest/api/content/{page}/property/{key}` (GET, PUT).
    pub(crate) fn property(&self, page_id: &str, key: &str) -> Url {
        self.url(&format!(
            "/rest/api/content/{}/property/{}",
            encode_segment(page_id),
            encode_segment(key)
        ))
    }

    /// `/rest/api/content/{page}/child/attachment` (POST create, GET list).
    pub(crate) fn attachments(&self, page_id: &str) -> Url {
        self.url(&format!(
            "/rest/api/content/{}/child/attachment",
            encode_segment(page_id)
        ))
    }

    /// `GET …/child/attachment?filename=NAME&expand=version`.
    pub(crate) fn attachment_by_name(&self, page_id: &str, name: &str) -> Url {
        let mut u = self.attachments(page_id);
        u.query_pairs_mut()
            .append_pair("filename", name)
            .append_pair("expand", "version");
        u
    }

    /// `GET …/child/attachment?limit=200&expand=version` (first page of a listing).
    pub(crate) fn attachment_listing(&self, page_id: &str) -> Url {
        let mut u = self.attachments(page_id);
        u.query_pairs_mut()
            .append_pair("limit", &crate::paging::PAGE_LIMIT.to_string())
            .append_pair("expand", "version");
        u
    }

    /// `POST /rest/api/content/{page}/child/attachment/{att}/data`.
    pub(crate) fn attachment_data(&self, page_id: &str, attachment_id: &str) -> Url {
        self.url(&format!(
            "/rest/api/content/{}/child/attachment/{}/data",
            encode_segment(page_id),
            encode_segment(attachment_id)
        ))
    }

    /// `DELETE /rest/api/content/{att}`.
    pub(crate) fn content(&self, content_id: &str) -> Url {
        self.url(&format!("/rest/api/content/{}", encode_segment(content_id)))
    }

    /// `DELETE /rest/experimental/content/{att}/version/{n}`.
    pub(crate) fn attachment_version(&self, attachment_id: &str, version: u64) -> Url {
        self.url(&format!(
            "/rest/experimental/content/{}/version/{version}",
            encode_segment(attachment_id)
        ))
    }

    /// `GET {download_base}/download/attachments/{page}/{name}[?version=N]`.
    ///
    /// `download_base` is `_links.base` as learned from the server (same origin as the
    /// configured base) or the configured base.
    pub(crate) fn download(
        download_base: &str,
        page_id: &str,
        name: &str,
        version: Option<u64>,
    ) -> Result<Url, RemoteError> {
        let text = format!(
            "{}/download/attachments/{}/{}",
            download_base.trim_end_matches('/'),
            encode_segment(page_id),
            encode_segment(name)
        );
        let mut u = Url::parse(&text)
            .map_err(|e| RemoteError::Protocol(format!("bad download address {text}: {e}")))?;
        if let Some(v) = version {
            u.query_pairs_mut().append_pair("version", &v.to_string());
        }
        Ok(u)
    }

    /// Whether `other` (e.g. `_links.base`) has the same scheme, host and port as the
    /// configured base: only then is it trusted as a base for further requests.
    pub(crate) fn same_origin(&self, other: &str) -> bool {
        match (Url::parse(&self.base), Url::parse(other)) {
            (Ok(a), Ok(b)) => a.origin() == b.origin(),
            _ => false,
        }
    }

    /// Resolve a `_links.next` (relative to `_links.base`, which already holds the context
    /// path) into an absolute URL, refusing anything on another origin.
    pub(crate) fn resolve_next(
        &self,
        links_base: Option<&str>,
        next: &str,
    ) -> Result<Url, RemoteError> {
        let base = links_base
            .filter(|b| self.same_origin(b))
            .unwrap_or(&self.base)
            .trim_end_matches('/');
        let text = if next.starts_with("http://") || next.starts_with("https://") {
            next.to_owned()
        } else {
            // DC: relative to `_links.base`. A link that already repeats the context path
            // (Cloud v2 style) would double it; strip it when present.
            let context = Url::parse(base)
                .map(|u| u.path().trim_end_matches('/').to_owned())
                .unwrap_or_default();
            let rel = if !context.is_empty() && next.starts_with(&format!("{context}/")) {
                &next[context.len()..]
            } else {
                next
            };
            format!("{base}{rel}")
        };
        let url = Url::parse(&text)
            .map_err(|e| RemoteError::Protocol(format!("bad next-page link {next:?}: {e}")))?;
        if !self.same_origin(url.as_str()) {
            return Err(RemoteError::Protocol(format!(
                "the next-page link points to another server: {}",
                crate::error::display_url(&url)
            )));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_times_are_read_with_their_offset() {
        // The same instant as the `modificationDate=1709283600000` of confluence-api.md §3.
        assert_eq!(
            parse_iso8601_ms("2024-03-01T12:00:00.000+03:00"),
            Some(1_709_283_600_000)
        );
        assert_eq!(
            parse_iso8601_ms("2024-03-01T09:00:00Z"),
            Some(1_709_283_600_000)
        );
        assert_eq!(
            parse_iso8601_ms("2024-03-01T09:00:00.5-0000"),
            Some(1_709_283_600_500)
        );
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00.000+00:00"), Some(0));
        assert_eq!(
            parse_iso8601_ms("1969-12-31T23:00:00.000-01:00"),
            Some(0),
            "negative offsets"
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-03-01T12:00:00+3",
        ] {
            assert_eq!(parse_iso8601_ms(bad), None, "{bad:?}");
        }
        let v: Version =
            serde_json::from_str(r#"{"number": 2, "when": "2024-03-01T12:00:00.000+03:00"}"#)
                .expect("parses");
        assert_eq!(v.when_ms(), Some(1_709_283_600_000));
        let v: Version = serde_json::from_str(r#"{"number": 2, "when": 5}"#).expect("parses");
        assert_eq!(v.when_ms(), None, "an unreadable time is no time");
    }

    #[test]
    fn base_url_is_validated_and_trailing_slash_tolerated() {
        let e = Endpoints::new("https://wiki.bank/confluence/").unwrap();
        assert_eq!(e.base(), "https://wiki.bank/confluence");
        assert_eq!(
            e.page("65601").as_str(),
            "https://wiki.bank/confluence/rest/api/content/65601?expand=version"
        );
        assert!(Endpoints::new("wiki.bank").is_err());
        assert!(Endpoints::new("ftp://wiki.bank").is_err());
        assert!(Endpoints::new("https://u:p@wiki.bank").is_err());
        assert!(Endpoints::new("https://wiki.bank/?x=1").is_err());
    }

    #[test]
    fn urls_encode_their_variable_segments() {
        let e = Endpoints::new("http://127.0.0.1:8090").unwrap();
        assert_eq!(
            e.property("12", "sber-tunnel.head").as_str(),
            "http://127.0.0.1:8090/rest/api/content/12/property/sber-tunnel.head"
        );
        // A hostile page id cannot escape its segment.
        assert_eq!(
            e.attachments("1/../2?x").as_str(),
            "http://127.0.0.1:8090/rest/api/content/1%2F..%2F2%3Fx/child/attachment"
        );
        assert_eq!(
            e.attachment_by_name("12", "a b&c.bin").as_str(),
            "http://127.0.0.1:8090/rest/api/content/12/child/attachment?filename=a+b%26c.bin&expand=version"
        );
        assert_eq!(
            e.attachment_listing("12").query(),
            Some("limit=200&expand=version")
        );
        assert_eq!(
            e.attachment_data("12", "att7").path(),
            "/rest/api/content/12/child/attachment/att7/data"
        );
        assert_eq!(
            e.attachment_version("att7", 3).path(),
            "/rest/experimental/content/att7/version/3"
        );
        assert_eq!(e.content("att7").path(), "/rest/api/content/att7");
    }

    #[test]
    fn download_urls_are_built_from_the_name() {
        let u =
            Endpoints::download("https://h/confluence/", "12", "chunk-ab.bin", Some(2)).unwrap();
        assert_eq!(
            u.as_str(),
            "https://h/confluence/download/attachments/12/chunk-ab.bin?version=2"
        );
        let u = Endpoints::download("https://h", "12", "a b+c", None).unwrap();
        assert_eq!(u.as_str(), "https://h/download/attachments/12/a%20b%2Bc");
    }

    #[test]
    fn next_links_resolve_against_links_base_and_stay_on_the_server() {
        let e = Endpoints::new("https://h/confluence").unwrap();
        let next = "/rest/api/content/1/child/attachment?limit=200&start=200";
        assert_eq!(
            e.resolve_next(Some("https://h/confluence"), next)
                .unwrap()
                .as_str(),
            "https://h/confluence/rest/api/content/1/child/attachment?limit=200&start=200"
        );
        assert_eq!(
            e.resolve_next(None, "/confluence/rest/x?start=1")
                .unwrap()
                .as_str(),
            "https://h/confluence/rest/x?start=1"
        );
        // A base on another host is ignored, an absolute link elsewhere refused.
        assert_eq!(
            e.resolve_next(Some("https://evil/confluence"), "/rest/x")
                .unwrap()
                .as_str(),
            "https://h/confluence/rest/x"
        );
        assert!(e.resolve_next(None, "https://evil/rest/x").is_err());
    }

    #[test]
    fn lenient_numbers_and_anonymous_users() {
        let a: Attachment = serde_json::from_str(
            r#"{"id":"att1","title":"x","version":{"number":"3"},"extensions":{"fileSize":"42"}}"#,
        )
        .unwrap();
        assert_eq!(a.version.and_then(|v| v.number), Some(3));
        assert_eq!(a.extensions.file_size, Some(42));
        let u: CurrentUser =
            serde_json::from_str(r#"{"type":"anonymous","username":"x"}"#).unwrap();
        assert_eq!(u.name(), None);
        let u: CurrentUser = serde_json::from_str(r#"{"type":"known","username":"svc"}"#).unwrap();
        assert_eq!(u.name().as_deref(), Some("svc"));
    }
}
