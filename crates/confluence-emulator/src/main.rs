//! The `confluence-emulator` binary: runs the emulator until Ctrl-C or SIGTERM.
//!
//! Prints `Confluence emulator ready at <base_url>` on stdout once listening; logs go to stderr
//! (filter with `RUST_LOG`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;
use confluence_emulator::restrictions::Operation;
use confluence_emulator::{Emulator, FaultConfig, RateLimit, TlsConfig};

/// A Confluence Server/DC compatible server for tests and demos.
#[derive(Debug, Parser)]
#[command(name = "confluence-emulator", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// A read-write user as NAME:PASSWORD (repeatable).
    #[arg(long = "user")]
    users: Vec<String>,
    /// A read-only user as NAME:PASSWORD (repeatable).
    #[arg(long = "read-only-user")]
    read_only_users: Vec<String>,
    /// A personal access token as USER:TOKEN (repeatable).
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// A space admin (may purge the trash; repeatable).
    #[arg(long = "space-admin")]
    space_admins: Vec<String>,
    /// A page id to create (repeatable).
    #[arg(long = "page")]
    pages: Vec<String>,
    /// Persist state in this directory (default: ephemeral).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Context path such as /confluence.
    #[arg(long, default_value = "")]
    context_path: String,
    /// Per-file attachment limit in bytes.
    #[arg(long, default_value_t = 104_857_600)]
    max_attachment_size: u64,
    /// Answer oversized uploads with the 404 JSON variant instead of 413.
    #[arg(long)]
    too_large_as_404: bool,
    /// Server certificate (PEM) — enables HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM).
    #[arg(long, requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Share of requests answered with a 5xx (0.0–1.0).
    #[arg(long = "fault-5xx", default_value_t = 0.0)]
    fault_5xx: f64,
    /// Seed of the fault RNG.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Latency added to every request (ms).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Throttle response bodies to this many bytes per second.
    #[arg(long)]
    bandwidth: Option<u64>,
    /// Throttle request bodies (uploads) to this many bytes per second.
    #[arg(long)]
    upload_bandwidth: Option<u64>,
    /// The bandwidth caps are one link shared by all connections (each direction its own)
    /// instead of a cap per request and per response — a WAN link.
    #[arg(long)]
    shared_bandwidth: bool,
    /// Write every request as it arrives to this file (one `METHOD PATH?QUERY` line each).
    #[arg(long)]
    request_log: Option<PathBuf>,
    /// DC rate limit: requests per second per user (token bucket).
    #[arg(long)]
    rate_limit: Option<u64>,
    /// A reverse proxy's request body limit in front (413 HTML above it), bytes.
    #[arg(long)]
    proxy_body_limit: Option<u64>,
    /// A personal access token that expires: USER:TOKEN:DAYS (days from now; repeatable).
    #[arg(long = "expiring-token")]
    expiring_tokens: Vec<String>,
    /// A content restriction as PAGE:OPERATION:USER (operation read or update; repeatable,
    /// e.g. --restrict 12345:read:alice --restrict 12345:update:alice makes the page private).
    #[arg(long = "restrict", value_name = "PAGE:OP:USER")]
    restrictions: Vec<String>,
    /// A group membership as USER:GROUP (repeatable; every user is in confluence-users).
    #[arg(long = "group", value_name = "USER:GROUP")]
    groups: Vec<String>,
}

fn pair(s: &str, what: &str) -> anyhow::Result<(String, String)> {
    match s.split_once(':') {
        Some((a, b)) if !a.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => bail!("{what} must look like NAME:SECRET, got {s:?}"),
    }
}

/// Parses `PAGE:OPERATION:USER` of `--restrict`.
fn restriction(s: &str) -> anyhow::Result<(String, Operation, String)> {
    let mut parts = s.splitn(3, ':');
    match (
        parts.next(),
        parts.next().and_then(Operation::parse),
        parts.next(),
    ) {
        (Some(page), Some(op), Some(user)) if !page.is_empty() && !user.is_empty() => {
            Ok((page.to_string(), op, user.to_string()))
        }
        _ => bail!("--restrict must look like PAGE:read:USER or PAGE:update:USER, got {s:?}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut b = Emulator::builder()
        .listen(args.listen)
        .context_path(&args.context_path)
        .max_attachment_size(args.max_attachment_size)
        .too_large_as_404(args.too_large_as_404)
        .faults(FaultConfig {
            seed: args.fault_seed,
            error_5xx_share: args.fault_5xx,
            latency_ms: args.latency_ms,
            bandwidth_bytes_per_sec: args.bandwidth,
            upload_bandwidth_bytes_per_sec: args.upload_bandwidth,
            shared_bandwidth: args.shared_bandwidth,
            ..FaultConfig::default()
        });
    if let Some(path) = &args.request_log {
        b = b.request_log(path);
    }
    for u in &args.users {
        let (n, p) = pair(u, "--user")?;
        b = b.user(&n, &p);
    }
    for u in &args.read_only_users {
        let (n, p) = pair(u, "--read-only-user")?;
        b = b.read_only_user(&n, &p);
    }
    for t in &args.tokens {
        let (n, p) = pair(t, "--token")?;
        b = b.token(&n, &p);
    }
    for a in &args.space_admins {
        b = b.space_admin(a);
    }
    for p in &args.pages {
        b = b.page(p);
    }
    if let Some(d) = args.data_dir {
        b = b.data_dir(d);
    }
    if let (Some(cert_pem), Some(key_pem)) = (args.tls_cert, args.tls_key) {
        b = b.tls(TlsConfig {
            cert_pem,
            key_pem,
            client_ca_pem: args.client_ca,
        });
    }
    for t in &args.expiring_tokens {
        let (user, rest) = pair(t, "--expiring-token")?;
        let Some((token, days)) = rest.rsplit_once(':') else {
            bail!("--expiring-token must look like USER:TOKEN:DAYS, got {t:?}");
        };
        let days: i64 = days
            .parse()
            .with_context(|| format!("--expiring-token: {days:?} is not a number of days"))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        b = b.expiring_token(&user, token, "sber-tunnel", now + days * 86_400_000);
    }
    if let Some(n) = args.proxy_body_limit {
        b = b.proxy_body_limit(n);
    }
    if let Some(n) = args.rate_limit {
        b = b.rate_limit(RateLimit::per_second(n));
    }
    for g in &args.groups {
        let (user, group) = pair(g, "--group")?;
        b = b.group(&user, &group);
    }
    for r in &args.restrictions {
        let (page, op, user) = restriction(r)?;
        b = b.restrict(&page, op, &user);
    }
    let handle = b.spawn().await.context("starting the emulator")?;
    println!("Confluence emulator ready at {}", handle.base_url());
    wait_for_signal().await;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; waiting for Ctrl-C only");
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "cannot listen for Ctrl-C");
    }
}
