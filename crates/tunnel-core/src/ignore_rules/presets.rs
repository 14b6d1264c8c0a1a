//! Named presets: each a list of gitignore lines that a rule text can take or drop at once.
//! Some name things the scanner already skips whatever the rules say (hidden names such as
//! `.git/`, temporary names such as `~$report.docx`); their lines are kept so that a rule
//! file copied to another tool says what it means, and so a user sees them listed.

use super::{add_pattern, remove_pattern, IgnoreRulesError};

/// A named list of rule lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Preset {
    /// Stable name (CLI argument, UI id).
    pub name: &'static str,
    /// What it covers, in a few words (English).
    pub title: &'static str,
    /// The same in Russian (the app shows it to a Russian reader).
    pub title_ru: &'static str,
    /// Its gitignore lines.
    pub lines: &'static [&'static str],
}

/// Every preset, in the order the app shows them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "build",
        title: "Build outputs (target/, build/, dist/, out/, __pycache__/, *.pyc, .gradle/ …)",
        title_ru:
            "Результаты сборки (target/, build/, dist/, out/, __pycache__/, *.pyc, .gradle/ …)",
        lines: &[
            "target/",
            "build/",
            "dist/",
            "out/",
            "__pycache__/",
            "*.pyc",
            "*.pyo",
            "*.o",
            "*.obj",
            ".gradle/",
            "bin/Debug/",
            "bin/Release/",
            "obj/",
            ".next/",
            ".cache/",
        ],
    },
    Preset {
        name: "node-modules",
        title: "node_modules/",
        title_ru: "Модули Node.js (node_modules/)",
        lines: &["node_modules/"],
    },
    Preset {
        name: "vcs",
        title: "Version control (.git/, .svn/, .hg/)",
        title_ru: "Системы контроля версий (.git/, .svn/, .hg/)",
        lines: &[".git/", ".svn/", ".hg/"],
    },
    Preset {
        name: "office-locks",
        title: "Office lock files (~$*, .~lock.*#)",
        title_ru: "Файлы блокировки Office (~$*, .~lock.*#)",
        lines: &["~$*", ".~lock.*#"],
    },
    Preset {
        name: "os-junk",
        title: "System files (Thumbs.db, desktop.ini, .DS_Store)",
        title_ru: "Системные файлы (Thumbs.db, desktop.ini, .DS_Store)",
        lines: &[
            "Thumbs.db",
            "ehthumbs.db",
            "desktop.ini",
            ".DS_Store",
            "$RECYCLE.BIN/",
        ],
    },
];

impl Preset {
    /// What it covers, in `lang`.
    pub fn title_in(&self, lang: crate::lang::Lang) -> &'static str {
        lang.pick(self.title, self.title_ru)
    }
}

/// The preset called `name`.
pub fn preset(name: &str) -> Result<&'static Preset, IgnoreRulesError> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| IgnoreRulesError::UnknownPreset(name.to_string()))
}

pub(super) fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `text` holds every line of `preset`.
pub fn has_preset(text: &str, preset: &Preset) -> bool {
    preset
        .lines
        .iter()
        .all(|l| text.lines().any(|t| t.trim_end_matches('\r') == *l))
}

/// `text` with the lines of `preset` it lacks appended (in the preset's order).
pub fn apply_preset(text: &str, preset: &Preset) -> String {
    preset.lines.iter().fold(text.to_string(), |acc, l| {
        // Preset lines are valid patterns (tested), so `add_pattern` only says "already there".
        add_pattern(&acc, l).ok().flatten().unwrap_or(acc)
    })
}

/// `text` without the lines of `preset`.
pub fn remove_preset(text: &str, preset: &Preset) -> String {
    preset.lines.iter().fold(text.to_string(), |acc, l| {
        remove_pattern(&acc, l).unwrap_or(acc)
    })
}
