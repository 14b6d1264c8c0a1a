//! When the personal access token in use expires, where the server says so.
//!
//! Confluence DC (7.9+) lists the caller's tokens at `GET /rest/pat/latest/tokens`: a JSON
//! array of `{id, name, createdAt, expiringAt?, lastAccessedAt?}` — never the secret, so the
//! answer does not say which token the request came with. The one in use is taken to be the
//! one the server saw last (`lastAccessedAt`, just updated by this very request); a single
//! token is that one. When neither tells, the answer is [`TokenExpiry::Unknown`] rather than a
//! guess. Servers without the endpoint (older versions, Cloud: 404/405), a refusal (401/403)
//! or an unreadable answer are also `Unknown`: an expiry warning is a courtesy and never the
//! reason something fails.

use serde::Deserialize;
use tracing::{debug, instrument};

use crate::api::parse_iso8601_ms;
use crate::client::ConfluenceClient;
use crate::error::Ctx;
use crate::exchange::Reply;
use tunnel_core::remote::RemoteError;

/// What the server says about the token in use.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenExpiry {
    /// Not signed in with a personal access token (user and password, API token).
    NotAToken,
    /// The server does not tell (no endpoint, several tokens and no way to tell which).
    Unknown,
    /// The token in use never expires.
    Never {
        /// Its name.
        name: String,
    },
    /// The token in use expires at this time.
    At {
        /// Its name.
        name: String,
        /// Expiry, Unix seconds.
        unix_secs: i64,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenEntry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expiring_at: Option<serde_json::Value>,
    #[serde(default)]
    last_accessed_at: Option<serde_json::Value>,
}

/// A date field: ISO 8601 text or milliseconds since the epoch.
fn ms_of(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => parse_iso8601_ms(s),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The token in use among `entries` (see the module docs) and its expiry.
fn pick(entries: &[TokenEntry]) -> TokenExpiry {
    let chosen = if entries.len() == 1 {
        entries.first()
    } else {
        entries
            .iter()
            .filter_map(|e| e.last_accessed_at.as_ref().and_then(ms_of).map(|t| (t, e)))
            .max_by_key(|(t, _)| *t)
            .map(|(_, e)| e)
    };
    match chosen {
        None => TokenExpiry::Unknown,
        Some(e) => match e.expiring_at.as_ref() {
            None | Some(serde_json::Value::Null) => TokenExpiry::Never {
                name: e.name.clone(),
            },
            Some(v) => match ms_of(v) {
                Some(ms) => TokenExpiry::At {
                    name: e.name.clone(),
                    unix_secs: ms.div_euclid(1000),
                },
                None => TokenExpiry::Unknown,
            },
        },
    }
}

impl ConfluenceClient {
    /// When the personal access token in use expires, where the server says so.
    #[instrument(skip_all, err(level = "debug"))]
    pub async fn token_expiry(&self) -> Result<TokenExpiry, RemoteError> {
        if !self.is_bearer() {
            return Ok(TokenExpiry::NotAToken);
        }
        let url = self.endpoints().personal_access_tokens();
        let ctx = Ctx {
            page_id: String::new(),
            forbidden: None,
            not_found: None,
            bearer: true,
        };
        let reply = self
            .call("token_expiry", &ctx, &url, &[401, 403, 404, 405], || {
                Ok(self.get(&url).into())
            })
            .await?;
        let ok = match reply {
            Reply::Success(ok) => ok,
            Reply::Handled(ans) => {
                debug!(
                    status = ans.status,
                    "the server does not list personal access tokens"
                );
                return Ok(TokenExpiry::Unknown);
            }
        };
        let value: serde_json::Value = match ok.json("the token list") {
            Ok(v) => v,
            Err(e) => {
                debug!(error = %e, "unreadable token list");
                return Ok(TokenExpiry::Unknown);
            }
        };
        // An array; some versions may wrap it as `{"values": [...]}` or `{"results": [...]}`.
        let list = match &value {
            serde_json::Value::Array(_) => value.clone(),
            serde_json::Value::Object(o) => o
                .get("values")
                .or_else(|| o.get("results"))
                .cloned()
                .unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        };
        let entries: Vec<TokenEntry> = serde_json::from_value(list).unwrap_or_default();
        Ok(pick(&entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(v: serde_json::Value) -> Vec<TokenEntry> {
        serde_json::from_value(v).expect("entries")
    }

    #[test]
    fn a_single_token_is_the_one_in_use() {
        let e = entries(serde_json::json!([
            {"id": 1, "name": "laptop", "createdAt": "2026-01-01T00:00:00.000+0000",
             "expiringAt": "2026-12-20T10:00:00.000+03:00"}
        ]));
        assert_eq!(
            pick(&e),
            TokenExpiry::At {
                name: "laptop".into(),
                unix_secs: 1_797_750_000, // 07:00 UTC
            }
        );
    }

    #[test]
    fn among_several_the_one_seen_last_is_in_use_otherwise_unknown() {
        let e = entries(serde_json::json!([
            {"name": "ci", "expiringAt": "2027-01-01T00:00:00Z",
             "lastAccessedAt": "2026-12-01T00:00:00Z"},
            {"name": "sync", "expiringAt": 1_797_000_000_000_i64,
             "lastAccessedAt": "2026-12-06T08:00:00Z"},
            {"name": "old"}
        ]));
        assert_eq!(
            pick(&e),
            TokenExpiry::At {
                name: "sync".into(),
                unix_secs: 1_797_000_000
            }
        );
        let e = entries(serde_json::json!([{"name": "a"}, {"name": "b"}]));
        assert_eq!(pick(&e), TokenExpiry::Unknown, "no way to tell: no guess");
        let e = entries(serde_json::json!([{"name": "forever", "expiringAt": null}]));
        assert_eq!(
            pick(&e),
            TokenExpiry::Never {
                name: "forever".into()
            }
        );
        assert_eq!(pick(&[]), TokenExpiry::Unknown);
    }
}
