//! `--help` in the reader's language: the about line and every command's summary come from the
//! catalogue when the language is not English (clap takes them at run time, before parsing).
//! The language is known before parsing: `--lang`, else `[ui] language` of the configuration
//! that `--config-dir` / SBER_TUNNEL_HOME names, else the system's locale — the same order the
//! commands use. Flag descriptions and clap's own words ("Usage", "Options", its usage errors)
//! stay English.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Command;

use crate::i18n::{Lang, Msg};

/// Every command and its summary's catalogue row (a test checks the English rows are the doc
/// comments clap shows, so the two cannot drift apart).
pub const SUMMARIES: &[(&str, Msg)] = &[
    ("init", Msg::HelpInit),
    ("add", Msg::HelpAdd),
    ("remove", Msg::HelpRemove),
    ("sync", Msg::HelpSync),
    ("status", Msg::HelpStatus),
    ("conflicts", Msg::HelpConflicts),
    ("trash", Msg::HelpTrash),
    ("demo", Msg::HelpDemo),
    ("log", Msg::HelpLog),
    ("start", Msg::HelpStart),
    ("run", Msg::HelpRun),
    ("stop", Msg::HelpStop),
    ("pause", Msg::HelpPause),
    ("resume", Msg::HelpResume),
    ("exclude", Msg::HelpExclude),
    ("include", Msg::HelpInclude),
    ("excluded", Msg::HelpExcluded),
    ("usage", Msg::HelpUsage),
    ("page", Msg::HelpPage),
    ("ignore", Msg::HelpIgnore),
    ("history", Msg::HelpHistory),
    ("restore", Msg::HelpRestore),
];

/// The exit codes' meanings, in the order of [`super::exit::MEANINGS`] (a test compares the
/// English rows with that table, which the README's table is compared with).
pub const EXIT_MEANINGS: &[Msg] = &[
    Msg::Exit0,
    Msg::Exit1,
    Msg::Exit2,
    Msg::Exit3,
    Msg::Exit4,
    Msg::Exit5,
    Msg::Exit6,
    Msg::Exit7,
    Msg::Exit8,
    Msg::Exit9,
];

/// The exit-code table of `--help` in `lang`.
fn exit_codes(lang: Lang) -> String {
    let mut out = format!("{}\n", Msg::HelpExitCodes.text(lang));
    for ((code, _), msg) in super::exit::MEANINGS.iter().zip(EXIT_MEANINGS) {
        out.push_str(&format!("  {code}  {}\n", msg.text(lang)));
    }
    out
}

/// `cmd` with its about, command summaries and exit codes in `lang` (English: unchanged).
pub fn localize(mut cmd: Command, lang: Lang) -> Command {
    if lang == Lang::En {
        return cmd;
    }
    cmd = cmd
        .about(Msg::HelpAbout.text(lang))
        .after_long_help(exit_codes(lang));
    for (name, msg) in SUMMARIES {
        // Without the final period, as clap shows a doc comment's first sentence.
        let text = msg.text(lang).trim_end_matches('.');
        cmd = cmd.mut_subcommand(*name, |c| c.about(text).long_about(None));
    }
    cmd
}

/// The language to speak before the arguments are parsed.
pub fn language_before_parsing(args: &[OsString]) -> Lang {
    if let Some(lang) = flag_value(args, "--lang").and_then(|v| Lang::from_code(&v)) {
        return lang;
    }
    let dir = flag_value(args, "--config-dir").map(PathBuf::from);
    let setting = crate::app::opened_config::OpenedConfig::resolve_paths(dir.as_deref())
        .ok()
        .and_then(|p| tunnel_core::config::Config::load(&p.config_file()).ok())
        .map(|c| c.ui.language)
        .unwrap_or(tunnel_core::config::LanguageSetting::System);
    crate::i18n::locale::for_setting(setting)
}

/// The value of `--name VALUE` or `--name=VALUE` (the last one given).
fn flag_value(args: &[OsString], name: &str) -> Option<String> {
    let mut found = None;
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == name {
            found = it.next().map(|v| v.into_owned());
        } else if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_english_rows_are_the_summaries_clap_shows() {
        let cmd = super::super::Cli::command();
        assert_eq!(
            cmd.get_about().map(|a| a.to_string()).as_deref(),
            Some(Msg::HelpAbout.text(Lang::En))
        );
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        let ours: Vec<&str> = SUMMARIES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ours, "every command has its summary row");
        for (name, msg) in SUMMARIES {
            let sub = cmd.find_subcommand(name).expect("listed");
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert_eq!(
                about,
                msg.text(Lang::En).trim_end_matches('.'),
                "{name}: the doc comment and the row differ"
            );
        }
    }

    #[test]
    fn the_exit_code_rows_are_the_table() {
        assert_eq!(exit_codes(Lang::En), super::super::exit::help_text());
        assert!(exit_codes(Lang::Ru).contains("  8  ещё не настроено: выполните `init`"));
    }

    #[test]
    fn russian_help_names_every_command_in_russian() {
        let mut cmd = localize(super::super::Cli::command(), Lang::Ru);
        let help = cmd.render_help().to_string();
        assert!(help.contains(Msg::HelpAbout.text(Lang::Ru)), "{help}");
        for (_, msg) in SUMMARIES {
            assert!(
                !help.contains(msg.text(Lang::En).trim_end_matches('.')),
                "{:?} is still English in --help",
                msg
            );
        }
    }

    #[test]
    fn the_flag_is_found_in_either_spelling() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            flag_value(&args(&["x", "--lang", "ru", "status"]), "--lang").as_deref(),
            Some("ru")
        );
        assert_eq!(
            flag_value(&args(&["x", "--lang=en"]), "--lang").as_deref(),
            Some("en")
        );
        assert_eq!(
            flag_value(&args(&["x", "--language", "ru"]), "--lang"),
            None
        );
    }
}
