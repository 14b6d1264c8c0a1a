//! The headless command line (`sber-tunnel --cli <command>`; the same commands also work
//! without `--cli`). One file per command; errors are mapped to documented exit codes
//! (see [`exit`]).

mod add;
mod conflicts;
mod demo;
pub mod exit;
mod folder_args;
mod help_text;
mod history;
mod ignore;
mod init;
mod log;
mod output;
mod page;
mod restore;
mod selective;
mod service;
mod status;
mod sync;
mod trash;
mod usage;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::opened_config::OpenedConfig;

/// Keep folders in sync between your machines through a Confluence page.
#[derive(Debug, Parser)]
#[command(name = "sber-tunnel", version, about, long_about = None, after_long_help = exit::help_text())]
pub struct Cli {
    /// Run without the desktop app (accepted for scripts; commands imply it).
    #[arg(long, global = true)]
    pub cli: bool,
    /// Use this folder for configuration, journal and logs (also: SBER_TUNNEL_HOME).
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// More output on stderr (-v: info, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Language of the messages: en or ru (default: the `ui.language` setting, else the
    /// system's locale, LC_ALL / LC_MESSAGES / LANG).
    #[arg(long, global = true, value_name = "LANG", value_parser = ["en", "ru"])]
    pub lang: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up the connection to Confluence (asks for what flags do not give).
    Init(init::InitArgs),
    /// Start syncing a folder.
    Add(add::AddArgs),
    /// Stop syncing a folder (its files stay where they are).
    Remove(add::RemoveArgs),
    /// Sync now, once: every folder, or the one given.
    Sync(sync::SyncArgs),
    /// Show the configuration and every folder's state.
    Status,
    /// Conflicts: list them with both versions, or resolve one (keep mine, theirs or both).
    Conflicts(conflicts::ConflictsArgs),
    /// The local trash: list, restore or empty what other devices' changes deleted or replaced.
    Trash(trash::TrashArgs),
    /// See it work: a built-in Confluence emulator and two devices that sync.
    Demo(demo::DemoArgs),
    /// Where the logs are (or print the newest one).
    Log(log::LogArgs),
    /// Start the sync service in the background (syncs on every change and every 30 s).
    Start,
    /// Run the sync service in the foreground (for systemd and containers).
    Run,
    /// Stop the background sync service.
    Stop,
    /// Pause syncing (one folder or all); remembered across restarts.
    Pause(service::PauseArgs),
    /// Resume syncing (one folder or all).
    Resume(service::PauseArgs),
    /// Keep a subfolder off this computer (selective sync): its copies here leave at the next
    /// sync, the page and other devices keep it.
    Exclude(selective::PathArgs),
    /// Bring an excluded subfolder back to this computer (downloaded at the next sync).
    Include(selective::PathArgs),
    /// List what this computer excludes (every folder, or the one given).
    Excluded(selective::ExcludedArgs),
    /// What the Confluence page holds (attachments, old versions) and what garbage
    /// collection would free.
    Usage(usage::UsageArgs),
    /// Who besides you may view and edit the page(s) your files sync through; --make-private
    /// restricts them to you.
    Page(page::PageArgs),
    /// Ignore rules: show them, or add/remove a pattern or a preset, globally or in a folder's
    /// .sbtignore, with a preview of the files it newly excludes or includes (--dry-run).
    Ignore(ignore::IgnoreArgs),
    /// The retained versions of a file or folder on the page (time, device, size, change).
    History(history::HistoryArgs),
    /// Restore a file, a folder or a whole synced folder as it was at a time or version.
    Restore(restore::RestoreArgs),
}

/// Parse the process arguments and run.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().filter(|a| a != "--cli").collect();
    // The language is needed before parsing, for --help and usage errors.
    crate::i18n::set_current(help_text::language_before_parsing(&args));
    let parsed = {
        use clap::{CommandFactory, FromArgMatches};
        help_text::localize(Cli::command(), crate::i18n::current())
            .try_get_matches_from(args)
            .and_then(|m| Cli::from_arg_matches(&m))
    };
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = help_text::localize(Cli::command(), crate::i18n::current()).print_help();
        return ExitCode::from(exit::USAGE);
    };
    let runtime = match crate::app::runtime::build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sber-tunnel: {e:#}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    // `--json` is for scripts: its messages stay English whatever the language.
    let lang_flag = if cli.json {
        Some(crate::i18n::Lang::En)
    } else {
        cli.lang.as_deref().and_then(crate::i18n::Lang::from_code)
    };
    crate::i18n::set_current(lang_flag.unwrap_or_else(|| {
        crate::i18n::locale::for_setting(tunnel_core::config::LanguageSetting::System)
    }));
    let ctx = Context {
        lang_flag,
        config_dir: cli.config_dir.clone(),
        json: cli.json,
        verbose: cli.verbose,
        quiet: cli.quiet,
    };
    let result = runtime.block_on(run(&ctx, command));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let failure = crate::app::app_error::AppError::from_anyhow(&e);
            let code = exit::exit_code(failure.code);
            if ctx.json {
                let body = serde_json::json!({
                    "error": failure.message,
                    "code": failure.code,
                    "exit_code": code,
                });
                println!("{body}");
            } else {
                eprintln!("sber-tunnel: {}", failure.message);
            }
            ExitCode::from(code)
        }
    }
}

/// What every command gets besides its own arguments.
pub struct Context {
    /// `--lang`, which wins over the `ui.language` setting (English under `--json`).
    pub lang_flag: Option<crate::i18n::Lang>,
    pub config_dir: Option<PathBuf>,
    pub json: bool,
    pub verbose: u8,
    pub quiet: bool,
}

impl Context {
    fn stderr_level(&self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, _) => "debug",
        }
    }

    /// Open the configuration and install logging.
    pub fn open(&self) -> anyhow::Result<(OpenedConfig, crate::logging::LogGuard)> {
        let paths = OpenedConfig::resolve_paths(self.config_dir.as_deref())?;
        let app = OpenedConfig::open(paths)?;
        if self.lang_flag.is_none() {
            crate::i18n::set_current(crate::i18n::locale::for_setting(app.config.ui.language));
        }
        let guard = crate::logging::init(
            Some(&app.paths.log_dir()),
            &app.config.log.level,
            app.config.log.keep_files,
            self.stderr_level(),
        );
        Ok((app, guard))
    }

    /// Install terminal-only logging (commands that run before a configuration exists).
    pub fn init_terminal_logging(&self) -> crate::logging::LogGuard {
        crate::logging::init(None, "info", 1, self.stderr_level())
    }
}

async fn run(ctx: &Context, command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Init(a) => init::run(ctx, a).await,
        Command::Add(a) => add::run_add(ctx, a).await,
        Command::Remove(a) => add::run_remove(ctx, a).await,
        Command::Sync(a) => sync::run(ctx, a).await,
        Command::Status => status::run_status(ctx).await,
        Command::Conflicts(a) => conflicts::run(ctx, a).await,
        Command::Trash(a) => trash::run(ctx, a).await,
        Command::Demo(a) => demo::run(ctx, a).await,
        Command::Log(a) => log::run(ctx, a).await,
        Command::Start => service::start(ctx).await,
        Command::Run => service::run_foreground(ctx).await,
        Command::Stop => service::stop(ctx).await,
        Command::Pause(a) => service::pause(ctx, a, true).await,
        Command::Resume(a) => service::pause(ctx, a, false).await,
        Command::Exclude(a) => selective::run_exclude(ctx, a).await,
        Command::Include(a) => selective::run_include(ctx, a).await,
        Command::Excluded(a) => selective::run_list(ctx, a).await,
        Command::Usage(a) => usage::run(ctx, a).await,
        Command::Page(a) => page::run(ctx, a).await,
        Command::Ignore(a) => ignore::run(ctx, a).await,
        Command::History(a) => history::run(ctx, a).await,
        Command::Restore(a) => restore::run(ctx, a).await,
    }
}
