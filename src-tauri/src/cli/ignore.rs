//! `ignore`: show and change ignore rules (issue 17 item 2) — the global patterns
//! (`sync.ignore`) and a synced folder's root `.sbtignore` — with presets, and a preview of
//! which existing files a change newly excludes or includes (`--dry-run` only previews).
//! Files already synced that a new rule ignores are not deleted anywhere: this device just
//! stops syncing them.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};

use tunnel_core::ignore_rules as rules;

use super::output::human_bytes;
use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::app::ignore_rules::{self as app_rules, FolderPreview, Target};
use crate::app::opened_config::OpenedConfig;
use crate::i18n::{lang, t};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct IgnoreArgs {
    /// Show the global patterns and this synced folder's `.sbtignore` (default: every folder).
    pub folder: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<IgnoreCommand>,
}

#[derive(Debug, Subcommand)]
pub enum IgnoreCommand {
    /// Add a pattern (gitignore syntax).
    Add(ChangeArgs),
    /// Remove a pattern (the exact line).
    Remove(ChangeArgs),
    /// Add a preset's patterns (build, node-modules, vcs, office-locks, os-junk); --remove
    /// takes them out.
    Preset(PresetArgs),
    /// List the presets and their patterns.
    Presets,
}

#[derive(Debug, Args)]
pub struct Where {
    /// The synced folder whose `.sbtignore` to change (default: the only one).
    #[arg(long, value_name = "FOLDER", conflicts_with = "global")]
    pub folder: Option<PathBuf>,
    /// Change the global patterns (`sync.ignore`, every folder) instead.
    #[arg(long)]
    pub global: bool,
    /// Only show what would change; save nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// The pattern, e.g. `*.log` or `build/`.
    pub pattern: String,
    #[command(flatten)]
    pub at: Where,
}

#[derive(Debug, Args)]
pub struct PresetArgs {
    /// The preset's name (see `sber-tunnel ignore presets`).
    pub name: String,
    /// Take the preset's patterns out instead.
    #[arg(long)]
    pub remove: bool,
    #[command(flatten)]
    pub at: Where,
}

pub async fn run(ctx: &Context, args: IgnoreArgs) -> Result<u8> {
    match args.command {
        None => show(ctx, args.folder.as_deref()),
        Some(IgnoreCommand::Presets) => list_presets(ctx),
        Some(IgnoreCommand::Add(a)) => change(ctx, &a.at, |text| {
            rules::add_pattern(text, &a.pattern).map_err(bad)
        }),
        Some(IgnoreCommand::Remove(a)) => change(ctx, &a.at, |text| {
            Ok(rules::remove_pattern(text, &a.pattern))
        }),
        Some(IgnoreCommand::Preset(a)) => {
            let p = rules::preset(&a.name).map_err(bad)?;
            change(ctx, &a.at, |text| {
                let new = if a.remove {
                    rules::remove_preset(text, p)
                } else {
                    rules::apply_preset(text, p)
                };
                Ok((new != text).then_some(new))
            })
        }
    }
}

fn bad(e: rules::IgnoreRulesError) -> anyhow::Error {
    AppError::invalid(e.to_string()).into()
}

fn show(ctx: &Context, only: Option<&Path>) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let folders = match only {
        Some(p) => vec![folder_of(&app, Some(p))?],
        None => folder_paths(&app)?,
    };
    let global = app_rules::read(&app.config, &Target::Global)?;
    let mut sets = Vec::new();
    for f in folders {
        sets.push(app_rules::read(&app.config, &Target::Folder(f))?);
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({ "global": global, "folders": sets })
        );
        return Ok(exit::OK);
    }
    println!("{}", t!(IgnGlobalHeader));
    print_rules(&global.text);
    for s in &sets {
        let path = s.folder.as_deref().unwrap_or(Path::new(""));
        println!(
            "{}",
            t!(
                IgnFolderHeader,
                path = path.join(tunnel_core::scan::IGNORE_FILE).display()
            )
        );
        print_rules(&s.text);
    }
    println!("{}", t!(IgnAlways));
    Ok(exit::OK)
}

fn print_rules(text: &str) {
    let lines = rules::rule_lines(text);
    if lines.is_empty() {
        println!("{}", t!(IgnNone));
    }
    for l in lines {
        println!("  {l}");
    }
}

fn list_presets(ctx: &Context) -> Result<u8> {
    if ctx.json {
        println!("{}", serde_json::json!({ "presets": app_rules::presets() }));
        return Ok(exit::OK);
    }
    for p in app_rules::presets() {
        println!("{:<14} {}", p.name, p.title_in(lang()));
        println!("{:<14} {}", "", p.lines.join("  "));
    }
    Ok(exit::OK)
}

/// Apply `edit` to the chosen rule text (`None`: nothing changes), preview, and save unless
/// `--dry-run`.
fn change(
    ctx: &Context,
    at: &Where,
    edit: impl FnOnce(&str) -> Result<Option<String>>,
) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let target = if at.global {
        Target::Global
    } else {
        Target::Folder(folder_of(&app, at.folder.as_deref())?)
    };
    let before = app_rules::read(&app.config, &target)?;
    let edited = edit(&before.text)?;
    let text = edited.clone().unwrap_or_else(|| before.text.clone());
    let previews = app_rules::preview(&app.config, &folder_paths(&app)?, &target, &text)?;
    let saved = match (&edited, at.dry_run) {
        (Some(t), false) => Some(app_rules::save(&app.paths, &target, t)?),
        _ => None,
    };
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "target": match &target { Target::Global => "global".to_string(), Target::Folder(p) => p.display().to_string() },
                "changed": edited.is_some(),
                "saved": saved.is_some(),
                "dry_run": at.dry_run,
                "rules": rules::rule_lines(&text),
                "preview": previews,
            })
        );
        return Ok(exit::OK);
    }
    let name = match &target {
        Target::Global => t!(IgnGlobalName),
        Target::Folder(p) => p.join(tunnel_core::scan::IGNORE_FILE).display().to_string(),
    };
    match (&edited, at.dry_run) {
        (None, _) => println!("{}", t!(IgnNoChange, name = name)),
        (Some(_), true) => println!("{}", t!(IgnWouldChange, name = name)),
        (Some(_), false) => println!("{}", t!(IgnSaved, name = name)),
    }
    if edited.is_some() {
        print_rules(&text);
        print_previews(&previews);
        if !at.dry_run && target == Target::Global {
            println!("{}", t!(IgnRestartHint));
        }
    }
    Ok(exit::OK)
}

fn print_previews(previews: &[FolderPreview]) {
    for fp in previews {
        let p = &fp.preview;
        if p.excluded_files == 0
            && p.included_files == 0
            && p.excluded.is_empty()
            && p.included.is_empty()
        {
            println!("{}", t!(IgnNoFileChanges, folder = fp.folder.display()));
            continue;
        }
        if !p.excluded.is_empty() {
            println!(
                "{}",
                t!(
                    IgnNewlyExcluded,
                    folder = fp.folder.display(),
                    count = p.excluded_files,
                    size = human_bytes(p.excluded_bytes)
                )
            );
            for s in &p.excluded {
                println!("  - {s}");
            }
        }
        if !p.included.is_empty() {
            println!(
                "{}",
                t!(
                    IgnNewlyIncluded,
                    folder = fp.folder.display(),
                    count = p.included_files,
                    size = human_bytes(p.included_bytes)
                )
            );
            for s in &p.included {
                println!("  + {s}");
            }
        }
        if p.truncated {
            println!("{}", t!(IgnAndMore, limit = rules::PREVIEW_LIMIT));
        }
    }
}

fn folder_paths(app: &OpenedConfig) -> Result<Vec<PathBuf>> {
    Ok(app.folders()?.into_iter().map(|f| f.path).collect())
}

/// The synced folder `given` names (absolute or from here), or the only one.
fn folder_of(app: &OpenedConfig, given: Option<&Path>) -> Result<PathBuf> {
    let folders = folder_paths(app)?;
    match given {
        Some(p) => {
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            folders
                .into_iter()
                .find(|f| *f == p)
                .ok_or_else(|| AppError::invalid(t!(IgnNotSynced, path = p.display())).into())
        }
        None => match folders.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(AppError::invalid(t!(IgnNoFolder)).into()),
            _ => Err(AppError::invalid(t!(IgnSeveral)).into()),
        },
    }
}
