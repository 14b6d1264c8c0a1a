//! Exit codes of the command line. [`MEANINGS`] says what each means; the README's
//! "Exit codes" table shows the same rows (a test below compares them) and `--help` prints them.
//! [`exit_code`] is the one mapping from an [`ErrorCode`] to an exit code: the command line uses
//! it for work it did itself and for a refusal a running service sent back over the control
//! channel, so both exit the same way.

use tunnel_core::error::ErrorCode;

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONFIG: u8 = 3;
pub const UNREACHABLE: u8 = 4;
pub const MASS_DELETION: u8 = 5;
pub const FOLDER_MISSING: u8 = 6;
pub const REMOTE_FORMAT: u8 = 7;
pub const NOT_CONFIGURED: u8 = 8;
pub const PARTIAL: u8 = 9;

/// Every exit code and what it tells a person or a script.
pub const MEANINGS: &[(u8, &str)] = &[
    (OK, "success"),
    (FAILURE, "failure not covered below"),
    (
        USAGE,
        "bad command-line usage, or a folder that is not synced or cannot be added",
    ),
    (
        CONFIG,
        "authentication, certificate or permission problem, or page not found: fix the configuration",
    ),
    (UNREACHABLE, "server unreachable, rate limited or busy: try again later"),
    (
        MASS_DELETION,
        "the sync would delete many files: re-run with `--confirm-deletions` if intended",
    ),
    (
        FOLDER_MISSING,
        "a synced folder is missing, unmounted, or replaced by another folder",
    ),
    (
        REMOTE_FORMAT,
        "the remote data is invalid or written by a newer sber-tunnel",
    ),
    (NOT_CONFIGURED, "not set up yet: run `init`"),
    (
        PARTIAL,
        "synced, but some files could not be synced this time (the rest was; they are retried next sync)",
    ),
];

/// The exit codes as text for `--help`.
pub fn help_text() -> String {
    let mut out = String::from("Exit codes:\n");
    for (code, meaning) in MEANINGS {
        out.push_str(&format!("  {code}  {meaning}\n"));
    }
    out
}

/// The exit code for an error code: the one mapping.
pub fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::Auth | ErrorCode::Certificate | ErrorCode::Permission | ErrorCode::NotFound => {
            CONFIG
        }
        ErrorCode::Unreachable => UNREACHABLE,
        ErrorCode::MassDeletion => MASS_DELETION,
        ErrorCode::FolderMissing | ErrorCode::FolderReplaced => FOLDER_MISSING,
        ErrorCode::RemoteFormat => REMOTE_FORMAT,
        ErrorCode::Invalid => USAGE,
        ErrorCode::NotConfigured => NOT_CONFIGURED,
        ErrorCode::Local | ErrorCode::Internal => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of the README's "Exit codes" table.
    fn readme_rows() -> Vec<(u8, String)> {
        let readme = include_str!("../../../README.md");
        let section = readme
            .split("### Exit codes")
            .nth(1)
            .expect("the README has an Exit codes section");
        section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                Some((cells.first()?.parse().ok()?, cells.get(1)?.to_string()))
            })
            .collect()
    }

    #[test]
    fn the_readme_table_says_what_the_code_does() {
        let ours: Vec<(u8, String)> = MEANINGS.iter().map(|(c, m)| (*c, m.to_string())).collect();
        assert_eq!(
            readme_rows(),
            ours,
            "README.md's Exit codes table and cli/exit.rs MEANINGS disagree"
        );
    }

    #[test]
    fn every_code_has_one_meaning() {
        let codes: Vec<u8> = MEANINGS.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, (0..=PARTIAL).collect::<Vec<u8>>());
        assert!(help_text().contains("  5  the sync would delete many files"));
    }

    #[test]
    fn every_error_code_exits_with_a_documented_code_other_than_success() {
        for code in ErrorCode::ALL {
            let exit = exit_code(*code);
            assert!(
                exit != OK && exit != PARTIAL,
                "{code} must not look like a (partial) success"
            );
            assert!(
                MEANINGS.iter().any(|(c, _)| *c == exit),
                "{code} exits with {exit}, which the table does not explain"
            );
        }
    }

    /// Issue 12: the README's row 2 says "a folder that is not synced" exits 2, so every layer
    /// that can find such a folder (the journal's tracking, the engine, the syncer) must map to
    /// that row, not to 3 ("page not found: fix the configuration").
    #[test]
    fn a_folder_that_is_not_synced_exits_2_whichever_layer_finds_it() {
        use crate::app::opened_config::TrackError;
        use std::path::PathBuf;
        use tunnel_core::engine::EngineError;
        use tunnel_core::error::SyncError;
        let found: Vec<(&str, anyhow::Error)> = vec![
            (
                "tracking",
                TrackError::NotTracked(PathBuf::from("/f")).into(),
            ),
            (
                "engine",
                EngineError::UnknownFolder(PathBuf::from("/f")).into(),
            ),
            ("syncer", SyncError::UnknownFolder("7".into()).into()),
        ];
        for (layer, e) in found {
            assert_eq!(
                exit_code(crate::app::app_error::code_of(&e)),
                USAGE,
                "a folder the {layer} does not know must exit as the README's row 2 says"
            );
        }
        let (code, meaning) = MEANINGS[usize::from(USAGE)];
        assert_eq!(code, USAGE);
        assert!(meaning.contains("a folder that is not synced"), "{meaning}");
    }

    #[test]
    fn an_error_exits_the_same_whether_found_here_or_sent_by_a_service() {
        use tunnel_core::remote::RemoteError;
        // Found here: a library error under context.
        let here = anyhow::Error::new(RemoteError::Auth("wrong password".into()))
            .context("checking page 1");
        // Sent by a service: the code and message it put in its reply.
        let sent = anyhow::Error::new(crate::app::app_error::AppError::new(
            ErrorCode::Auth,
            "authentication failed: wrong password",
        ));
        let code_for = |e: &anyhow::Error| exit_code(crate::app::app_error::code_of(e));
        assert_eq!(code_for(&here), CONFIG);
        assert_eq!(code_for(&sent), code_for(&here));
    }
}
