//! The name rules of the file system a synced folder lives on: whether two names that differ
//! only in case (`README.md`, `Readme.md`) or only in Unicode normalisation (NFC `é`, NFD
//! `e` + U+0301) are one file there, and whether the platform refuses some names outright
//! (Windows: `CON`, `aux.txt`, `a.`, `a?b`, …).
//!
//! [`NameRules`] is a plain value: [`probe`] measures it on a real folder, tests set any
//! combination on any platform, and the pure planner ([`crate::plan`]) takes it as input so
//! that two remote names which are one name on this disk never collapse into one file (one is
//! renamed to a `(Case Conflict)` copy), and names this disk cannot hold are never written
//! (nor deleted remotely because they are missing here).
//!
//! Invariant: [`NameRules::key`] maps two paths to the same key exactly when the rules say
//! they name the same file (up to the simplification that case is folded with Unicode's
//! lower-casing, which is what NTFS and APFS do for every name people use).

use std::borrow::Cow;
use std::path::Path;

use unicode_normalization::UnicodeNormalization;

use crate::events::UnstorableName;
use crate::ids::FolderId;
use crate::rel_path::RelPath;

/// How the file system of one folder treats names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NameRules {
    /// `a.txt` and `A.txt` are one file (Windows, macOS by default).
    pub case_insensitive: bool,
    /// NFC and NFD spellings of a name are one file (macOS).
    pub normalization_insensitive: bool,
    /// Names Windows cannot store are refused (see [`windows_reserved_reason`]).
    pub windows_reserved: bool,
}

impl NameRules {
    /// Byte-exact names and no reserved names: Linux's ext4, btrfs, xfs.
    pub const EXACT: NameRules = NameRules {
        case_insensitive: false,
        normalization_insensitive: false,
        windows_reserved: false,
    };

    /// What this platform's usual file systems do, used when a probe cannot run (the folder
    /// is read-only, say): case-insensitive on Windows and macOS, normalisation-insensitive on
    /// macOS, Windows' reserved names on Windows. Erring towards "insensitive" only costs a
    /// name reported as not stored; erring the other way could merge two files.
    pub fn platform_default() -> NameRules {
        NameRules {
            case_insensitive: cfg!(any(windows, target_os = "macos")),
            normalization_insensitive: cfg!(target_os = "macos"),
            windows_reserved: cfg!(windows),
        }
    }

    /// True when some names collide here that are distinct on a byte-exact disk.
    pub fn folds_names(&self) -> bool {
        self.case_insensitive || self.normalization_insensitive
    }

    /// The identity of `path` on this disk: two paths with equal keys are one file here.
    /// Paths are NFC already ([`RelPath`]), so normalisation needs no folding of its own;
    /// case is folded by lower-casing (and re-composing, as lower-casing can decompose).
    pub fn key<'a>(&self, path: &'a str) -> Cow<'a, str> {
        if self.case_insensitive {
            Cow::Owned(path.to_lowercase().nfc().collect())
        } else {
            Cow::Borrowed(path)
        }
    }

    /// Why this disk cannot store `path`, if it cannot: today only Windows' reserved names
    /// (when [`NameRules::windows_reserved`] is on), judged on each component.
    pub fn unstorable_reason(&self, path: &RelPath) -> Option<&'static str> {
        if !self.windows_reserved {
            return None;
        }
        path.components().find_map(windows_reserved_reason)
    }

    /// The shortest prefix of `path` (itself or a folder above it) this disk cannot store.
    pub fn unstorable_prefix(&self, path: &RelPath) -> Option<(RelPath, &'static str)> {
        if !self.windows_reserved {
            return None;
        }
        let mut end = 0usize;
        let text = path.as_str();
        for (i, part) in path.components().enumerate() {
            end = if i == 0 {
                part.len()
            } else {
                end + 1 + part.len()
            };
            if let Some(why) = windows_reserved_reason(part) {
                let prefix = RelPath::new(&text[..end]).ok()?;
                return Some((prefix, why));
            }
        }
        None
    }
}

/// Device names Windows reserves, with any extension (`con`, `CON.txt`, `nul.tar.gz`).
const WINDOWS_DEVICES: [&str; 28] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8",
    "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Why Windows cannot store a file or folder called `name` (one path component), if it
/// cannot: a device name (`CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`, also
/// `CONIN$`/`CONOUT$` and the superscript-digit forms, in any case, with any extension), a
/// trailing dot or space, one of `<>:"|?*\`, or a control character.
pub fn windows_reserved_reason(name: &str) -> Option<&'static str> {
    if name.chars().any(|c| c.is_control()) {
        return Some(CONTROL_CHARACTER);
    }
    if name
        .chars()
        .any(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\'))
    {
        return Some(FORBIDDEN_CHARACTER);
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some(TRAILING_DOT_OR_SPACE);
    }
    // The device part is what comes before the first dot, trailing spaces ignored
    // (`con .txt` is CON too).
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_uppercase();
    if WINDOWS_DEVICES.contains(&upper.as_str()) || upper == "CONIN$" || upper == "CONOUT$" {
        return Some(RESERVED_DEVICE_NAME);
    }
    None
}

const CONTROL_CHARACTER: &str = "a control character in the name";
const FORBIDDEN_CHARACTER: &str = r#"one of < > : " | ? * \ in the name"#;
const TRAILING_DOT_OR_SPACE: &str = "the name ends with a dot or a space";
const RESERVED_DEVICE_NAME: &str = "a device name Windows reserves";

/// The machine word for a reason [`windows_reserved_reason`] gave (what a translation and
/// `--json` key on; see [`crate::events::UnstorableName::kind`]).
pub fn reserved_reason_kind(reason: &str) -> &'static str {
    match reason {
        CONTROL_CHARACTER => "control-character",
        FORBIDDEN_CHARACTER => "forbidden-character",
        TRAILING_DOT_OR_SPACE => "trailing-dot-or-space",
        RESERVED_DEVICE_NAME => "reserved-device-name",
        _ => "other",
    }
}

/// Files the probe creates start with this (a hidden temporary name the scanner skips and
/// removes when a killed probe left one behind: [`crate::sync::TEMP_PREFIX`]).
const PROBE_STEM: &str = ".sbt-names-";

/// Measure the name rules of the file system holding `dir` (an existing folder): a file with
/// a mixed-case name is created there and looked up under the other case, one with an NFC
/// name looked up under its NFD spelling; both are removed afterwards. `windows_reserved`
/// follows the platform (`cfg(windows)`): Windows refuses those names whatever the disk.
pub fn probe(dir: &Path) -> std::io::Result<NameRules> {
    use rand::Rng;
    let tag: u64 = rand::thread_rng().gen();
    let suffix = crate::sync::TEMP_SUFFIX;
    let case_name = format!("{PROBE_STEM}{tag:016x}-Case{suffix}");
    let case_other = format!("{PROBE_STEM}{tag:016x}-cASE{suffix}");
    let nfc_name = format!("{PROBE_STEM}{tag:016x}-\u{e9}{suffix}");
    let nfd_name = format!("{PROBE_STEM}{tag:016x}-e\u{301}{suffix}");
    let case_insensitive = probe_pair(dir, &case_name, &case_other)?;
    let normalization_insensitive = probe_pair(dir, &nfc_name, &nfd_name)?;
    Ok(NameRules {
        case_insensitive,
        normalization_insensitive,
        windows_reserved: cfg!(windows),
    })
}

/// Create `dir/created`, report whether `dir/other` names it, remove it.
fn probe_pair(dir: &Path, created: &str, other: &str) -> std::io::Result<bool> {
    let path = dir.join(created);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let seen = std::fs::symlink_metadata(dir.join(other));
    let removed = std::fs::remove_file(&path);
    let same = match seen {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    removed?;
    Ok(same)
}

/// Tests of the binary only: in debug builds, this environment variable replaces the probe's
/// answer, so a Linux test can run a device with Windows' (or a case-insensitive disk's)
/// rules. A comma-separated list of `case-insensitive`, `normalization-insensitive`,
/// `windows-reserved` (empty: byte-exact). Release builds ignore it.
pub const TEST_NAME_RULES_ENV: &str = "SBER_TUNNEL_TEST_NAME_RULES";

/// The rules [`TEST_NAME_RULES_ENV`] asks for, in a debug build where it is set.
pub fn rules_from_test_env() -> Option<NameRules> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let text = std::env::var(TEST_NAME_RULES_ENV).ok()?;
    let mut rules = NameRules::EXACT;
    for word in text.split(',').map(str::trim) {
        match word {
            "case-insensitive" => rules.case_insensitive = true,
            "normalization-insensitive" => rules.normalization_insensitive = true,
            "windows-reserved" => rules.windows_reserved = true,
            _ => {}
        }
    }
    Some(rules)
}

/// Journal setting holding a folder's last list of names that cannot be stored here.
fn unstorable_key(folder_id: FolderId) -> String {
    format!("unstorable:{folder_id}")
}

/// The names of folder `folder_id` that its last sync found it cannot store on this computer
/// (for `status`, whether or not a service runs); empty when none or never synced.
pub fn stored_unstorable(
    journal: &crate::journal::Journal,
    folder_id: FolderId,
) -> Result<Vec<UnstorableName>, crate::journal::JournalError> {
    Ok(journal
        .get_config(&unstorable_key(folder_id))?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

/// Remember `list` for [`stored_unstorable`]; written only when it changed.
pub(crate) fn store_unstorable(
    journal: &crate::journal::Journal,
    folder_id: FolderId,
    list: &[UnstorableName],
) -> Result<(), crate::journal::JournalError> {
    if stored_unstorable(journal, folder_id)? == list {
        return Ok(());
    }
    let text = serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    journal.set_config(&unstorable_key(folder_id), &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid path")
    }

    #[test]
    fn windows_refuses_device_names_with_any_extension_and_in_any_case() {
        for bad in [
            "CON",
            "con",
            "Con.txt",
            "PRN",
            "aux",
            "NUL",
            "nul.tar.gz",
            "COM1",
            "com9.log",
            "LPT1",
            "lpt5.doc",
            "COM¹",
            "lpt³.x",
            "CONIN$",
            "conout$.txt",
            "con .txt",
        ] {
            assert_eq!(
                windows_reserved_reason(bad),
                Some("a device name Windows reserves"),
                "{bad:?} is a device name on Windows"
            );
        }
        for ok in [
            "CONSOLE",
            "con-notes.txt",
            "COM0",
            "COM10",
            "LPT0",
            "aux_file",
            "nully",
            "x.con",
            "icon.png",
            "a.b.c",
        ] {
            assert_eq!(windows_reserved_reason(ok), None, "{ok:?} is storable");
        }
    }

    #[test]
    fn windows_refuses_trailing_dots_spaces_forbidden_characters_and_controls() {
        for bad in [
            "a.", "a ", "x..", "a<b", "a>b", "a:b", "a\"b", "a|b", "a?b", "a*b",
        ] {
            assert!(windows_reserved_reason(bad).is_some(), "{bad:?}");
        }
        assert!(windows_reserved_reason("a\u{1}b").is_some(), "control char");
        for ok in [".hidden", "a.b", " a", "é", "a b", "a'b", "a#b"] {
            assert_eq!(windows_reserved_reason(ok), None, "{ok:?} is storable");
        }
    }

    #[test]
    fn every_reason_has_its_own_machine_word() {
        let kinds: Vec<&str> = ["a\u{1}b", "a?b", "a.", "NUL.txt"]
            .into_iter()
            .map(|name| reserved_reason_kind(windows_reserved_reason(name).expect("refused")))
            .collect();
        assert_eq!(
            kinds,
            [
                "control-character",
                "forbidden-character",
                "trailing-dot-or-space",
                "reserved-device-name"
            ]
        );
    }

    #[test]
    fn reserved_names_count_only_under_windows_rules_and_anywhere_in_the_path() {
        let path = p("docs/CON/notes.txt");
        assert_eq!(NameRules::EXACT.unstorable_reason(&path), None);
        assert_eq!(NameRules::EXACT.unstorable_prefix(&path), None);
        let win = NameRules {
            windows_reserved: true,
            ..NameRules::EXACT
        };
        assert!(win.unstorable_reason(&path).is_some());
        assert_eq!(
            win.unstorable_prefix(&path).map(|(p, _)| p),
            Some(p("docs/CON")),
            "the shortest unstorable prefix: everything below it goes with it"
        );
        assert_eq!(win.unstorable_prefix(&p("docs/a.txt")), None);
    }

    #[test]
    fn keys_fold_case_only_when_the_disk_does() {
        let exact = NameRules::EXACT;
        let ci = NameRules {
            case_insensitive: true,
            ..NameRules::EXACT
        };
        assert_ne!(exact.key("README.md"), exact.key("Readme.md"));
        assert_eq!(ci.key("README.md"), ci.key("Readme.md"));
        assert_eq!(
            ci.key("Docs/ÉTÉ.txt"),
            ci.key("docs/été.txt"),
            "non-ASCII case"
        );
        assert_ne!(ci.key("a.txt"), ci.key("b.txt"));
        // NFC and NFD spellings reach the planner as one RelPath already.
        assert_eq!(p("e\u{301}.txt"), p("\u{e9}.txt"));
        assert!(!exact.folds_names());
        assert!(ci.folds_names());
    }

    #[test]
    fn the_probe_sees_a_byte_exact_disk_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rules = probe(dir.path()).expect("probe");
        // The test disk of this lane (Linux tmpfs/ext4) is byte-exact; under Wine or on
        // macOS the same probe reports insensitivity, which is what the assertions below say.
        if cfg!(target_os = "linux") {
            assert_eq!(
                rules,
                NameRules::EXACT,
                "Linux's disks keep names byte-exact"
            );
        }
        if cfg!(windows) {
            assert!(rules.case_insensitive, "NTFS (and Wine's view) folds case");
            assert!(rules.windows_reserved);
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .collect::<Result<_, _>>()
            .expect("entries");
        assert!(left.is_empty(), "the probe removes its files: {left:?}");
    }

    #[test]
    fn the_probe_fails_on_a_missing_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(probe(&dir.path().join("nope")).is_err());
    }
}
