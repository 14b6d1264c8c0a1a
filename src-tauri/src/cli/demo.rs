//! `demo`: the whole product in one command, with no server of your own. It starts the
//! built-in Confluence emulator, sets up two "devices" (two configurations, two folders) and
//! shows files, edits, deletions and a conflict travel between them through the page.
//! With `--serve` the emulator keeps running afterwards so you can try the commands by hand.
//!
//! The emulator is compiled in only with the cargo feature `demo` (scripts/demo.sh turns it on);
//! release builds and the .deb ship no server, and say so when asked for the demo.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Context;

#[cfg(feature = "demo")]
mod session;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to put the two demo devices (default: a new folder under the system temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the emulator running afterwards (Ctrl-C to stop) and print how to use it.
    #[arg(long)]
    pub serve: bool,
    /// Address for the emulator.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
}

/// Run the demo, or explain why this build has none.
#[cfg(feature = "demo")]
pub async fn run(ctx: &Context, args: DemoArgs) -> Result<u8> {
    session::run(ctx, args).await
}

/// Without the feature: say why there is no demo and where to find it (exit code 2).
#[cfg(not(feature = "demo"))]
pub async fn run(_ctx: &Context, _args: DemoArgs) -> Result<u8> {
    eprintln!(
        "sber-tunnel: this build has no demo: the built-in Confluence emulator is left out of \
         installed builds. From a source tree run scripts/demo.sh, or \
         `cargo run --features demo -- --cli demo`."
    );
    Ok(super::exit::USAGE)
}
