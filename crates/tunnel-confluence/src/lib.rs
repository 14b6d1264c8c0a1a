//! `tunnel-confluence`: the Confluence Server/Data Center REST client behind sber-tunnel.
//!
//! [`ConfluenceClient`] holds one configured HTTP client (authentication, client certificate,
//! trusted roots, proxy, retries) for one server; [`ConfluenceClient::store`] gives the
//! [`ConfluenceStore`] of one page, which implements [`tunnel_core::remote::RemoteStore`]:
//! attachments are blobs, the content property [`HEAD_PROPERTY_KEY`] is the compare-and-swap
//! head pointer.
//!
//! Modules: `client` (settings, the client, sending and retrying calls), `exchange` (the
//! request/answer types and body reads that `client` and `store` share), `store` (the
//! `RemoteStore` implementation; `store::download` the chunk and range downloads), `auth` (secrets, Basic/Bearer, PKCS#12), `api` (wire types and URLs),
//! `paging` (listings past 200, CONFSERVER-95396), `retry` (what is retried and how long we
//! wait), `tls` (naming TLS refusals that arrive as resets), `error` (HTTP/TLS failures → [`RemoteError`] with readable messages), `upload`
//! (streamed, hash-checked upload bodies), `throttle` (the bandwidth limiter shared by all
//! transfers of a client), `pace` (slowing down on the server's rate-limit headers before it
//! answers 429), `pat` (when the personal access token in use expires), `restrictions` (who may
//! view and edit a page; making it private).
//!
//! Behaviour follows `shared/confluence-api.md` §13b; every choice that real Confluence
//! forces is explained where it is made.

#![warn(missing_docs)]

mod api;
mod auth;
mod client;
mod error;
mod exchange;
mod pace;
mod paging;
mod pat;
mod proxy_env;
mod restrictions;
pub mod retry;
mod store;
mod throttle;
mod tls;
mod upload;

pub use auth::{Auth, ClientIdentity, Secret};
pub use client::{BandwidthLimits, ConfluenceClient, ConnectionSettings, USER_AGENT};
pub use pace::PaceStats;
pub use paging::{MAX_PAGES, PAGE_LIMIT};
pub use pat::TokenExpiry;
pub use restrictions::{Audience, PageAccess, Subjects};
pub use retry::RetryPolicy;
pub use store::{ConfluenceStore, HEAD_PROPERTY_KEY, MAX_HEAD_CHARS, PROBE_ATTACHMENT_NAME};
pub use throttle::ThrottleStats;
pub use tunnel_core::remote::RemoteError;
