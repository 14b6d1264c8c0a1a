//! `log`: where the log files are, or the newest one's tail.

use anyhow::{Context as _, Result};
use clap::Args;

use super::{exit, Context};
use crate::app::opened_config::OpenedConfig;
use crate::i18n::t;

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Print the last lines of the newest log file.
    #[arg(long)]
    pub tail: bool,
    /// How many lines with --tail.
    #[arg(long, default_value_t = 50)]
    pub lines: usize,
}

pub async fn run(ctx: &Context, args: LogArgs) -> Result<u8> {
    let paths = OpenedConfig::resolve_paths(ctx.config_dir.as_deref())?;
    let dir = paths.log_dir();
    if !args.tail {
        if ctx.json {
            println!("{}", serde_json::json!({ "log_dir": dir }));
        } else {
            println!("{}", dir.display());
        }
        return Ok(exit::OK);
    }
    let newest = std::fs::read_dir(&dir)
        .with_context(|| t!(CtxReading, path = dir.display()))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("sber-tunnel"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok());
    let Some(newest) = newest else {
        println!("{}", t!(LogNone, path = dir.display()));
        return Ok(exit::OK);
    };
    let text = std::fs::read_to_string(newest.path())
        .with_context(|| t!(CtxReading, path = newest.path().display()))?;
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines[lines.len().saturating_sub(args.lines)..] {
        println!("{l}");
    }
    Ok(exit::OK)
}
