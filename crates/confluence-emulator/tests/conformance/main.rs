//! Conformance tests of the Confluence emulator: every endpoint's status codes, JSON shapes and
//! texts as `confluence-api.md` gives them, exercised over a real socket with reqwest.

mod attachments;
mod auth;
mod bandwidth;
mod binary;
mod faults;
mod pages;
mod properties;
mod restrictions;
mod storage;
// HTTPS needs the `tls` feature (OpenSSL); a build without it serves plain HTTP only.
#[cfg(feature = "tls")]
mod tls;
mod util;
