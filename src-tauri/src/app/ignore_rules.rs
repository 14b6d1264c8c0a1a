//! Ignore rules as both faces read and change them (issue 17 item 2): the global patterns
//! (`sync.ignore` in the configuration file) and each synced folder's root `.sbtignore`, the
//! presets, and a preview of what a proposal would change among the files there now. The
//! rules themselves and the preview are tunnel-core's (`tunnel_core::ignore_rules`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;
use tunnel_core::config::Config;
use tunnel_core::ignore_rules::{self as rules, Preview, Proposed};
use tunnel_core::paths::AppPaths;

use super::app_error::AppError;

/// Where a rule set lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The global patterns (`sync.ignore`), for every folder.
    Global,
    /// This synced folder's root `.sbtignore`.
    Folder(PathBuf),
}

/// A rule set as text (one pattern a line), with the presets it holds in full.
#[derive(Clone, Debug, Serialize)]
pub struct RuleSet {
    /// `null` for the global patterns.
    pub folder: Option<PathBuf>,
    pub text: String,
    /// Names of the presets all of whose lines are in `text`.
    pub presets: Vec<&'static str>,
}

/// What a proposal changes in one folder.
#[derive(Clone, Debug, Serialize)]
pub struct FolderPreview {
    pub folder: PathBuf,
    #[serde(flatten)]
    pub preview: Preview,
}

/// The current rule text of `target`.
pub fn read(config: &Config, target: &Target) -> Result<RuleSet> {
    let text = match target {
        Target::Global => {
            let mut t = config.sync.ignore.join("\n");
            if !t.is_empty() {
                t.push('\n');
            }
            t
        }
        Target::Folder(root) => rules::read_folder_rules(root).map_err(invalid)?,
    };
    Ok(rule_set(target, text))
}

fn rule_set(target: &Target, text: String) -> RuleSet {
    let presets = rules::PRESETS
        .iter()
        .filter(|p| rules::has_preset(&text, p))
        .map(|p| p.name)
        .collect();
    RuleSet {
        folder: match target {
            Target::Global => None,
            Target::Folder(p) => Some(p.clone()),
        },
        text,
        presets,
    }
}

/// What saving `text` as `target`'s rules would change: in that folder, or (global) in each of
/// `folders`. A folder that is missing right now is left out.
pub fn preview(
    config: &Config,
    folders: &[PathBuf],
    target: &Target,
    text: &str,
) -> Result<Vec<FolderPreview>> {
    let (roots, proposed): (Vec<&Path>, Proposed) = match target {
        Target::Global => (
            folders.iter().map(PathBuf::as_path).collect(),
            Proposed::Global(rules::rule_lines(text)),
        ),
        Target::Folder(root) => (vec![root.as_path()], Proposed::FolderRules(text.into())),
    };
    match &proposed {
        Proposed::Global(lines) => rules::validate_lines(lines).map_err(invalid)?,
        Proposed::FolderRules(t) => rules::validate_text(t).map_err(invalid)?,
    }
    let mut out = Vec::new();
    for root in roots {
        if !root.is_dir() {
            continue;
        }
        let preview = rules::preview(root, &config.sync.ignore, &proposed).map_err(invalid)?;
        out.push(FolderPreview {
            folder: root.to_owned(),
            preview,
        });
    }
    Ok(out)
}

/// Save `text` as `target`'s rules: the folder's `.sbtignore` atomically, or the global
/// patterns into the configuration file (validated like any configuration). Returns the
/// saved rule set. A running service takes a folder's rules at its next sync, the global
/// patterns when it restarts (the desktop app restarts its engine).
pub fn save(paths: &AppPaths, target: &Target, text: &str) -> Result<RuleSet> {
    match target {
        Target::Folder(root) => {
            rules::save_folder_rules(root, text).map_err(invalid)?;
            Ok(rule_set(
                target,
                rules::read_folder_rules(root).map_err(invalid)?,
            ))
        }
        Target::Global => {
            let file = paths.config_file();
            let mut config = Config::load(&file)
                .with_context(|| crate::i18n::t!(CtxReading, path = file.display()))?;
            config.sync.ignore = rules::rule_lines(text);
            config
                .validate()
                .map_err(|e| AppError::invalid(e.to_string()))?;
            config
                .save(&file)
                .with_context(|| crate::i18n::t!(CtxWriting, path = file.display()))?;
            read(&config, target)
        }
    }
}

/// The presets, for listing.
pub fn presets() -> &'static [rules::Preset] {
    rules::PRESETS
}

fn invalid(e: rules::IgnoreRulesError) -> anyhow::Error {
    AppError::invalid(e.to_string()).into()
}

/// What the desktop app's rule editor shows: the rules, every preset, and where they apply.
#[derive(Clone, Debug, Serialize)]
pub struct RulesEditor {
    #[serde(flatten)]
    pub rules: RuleSet,
    /// Every preset (name, title, lines).
    pub available: &'static [rules::Preset],
}

/// The target `folder` names: `None` for the global patterns, else a tracked folder of `app`.
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // the desktop app's
pub fn target_of(
    app: &super::opened_config::OpenedConfig,
    folder: Option<PathBuf>,
) -> Result<Target, AppError> {
    let Some(folder) = folder else {
        return Ok(Target::Global);
    };
    let tracked = app.folders().map_err(|e| AppError::from_anyhow(&e))?;
    if tracked.iter().any(|f| f.path == folder) {
        Ok(Target::Folder(folder))
    } else {
        Err(AppError::invalid(crate::i18n::t!(
            ErrUnknownFolder,
            path = folder.display()
        )))
    }
}

/// The editor's view of `target`.
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // the desktop app's
pub fn editor(config: &Config, target: &Target) -> Result<RulesEditor, AppError> {
    let rules = read(config, target).map_err(|e| AppError::from_anyhow(&e))?;
    Ok(RulesEditor {
        rules,
        available: presets(),
    })
}

/// `config` with the global patterns of `text` (validated).
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // the desktop app's
pub fn with_global(config: &Config, text: &str) -> Result<Config, AppError> {
    let mut config = config.clone();
    config.sync.ignore = rules::rule_lines(text);
    config
        .validate()
        .map_err(|e| AppError::invalid(e.to_string()))?;
    Ok(config)
}
