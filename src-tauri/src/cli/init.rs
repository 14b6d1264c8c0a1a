//! `init`: ask for (or take from flags and the environment) the Confluence connection, check
//! that it really works — authenticated as a real user, the page readable, attachments
//! allowed — and only then save it. Secrets go to the secret store, never to the config file.

use crate::i18n::{current, t, tr, Msg};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use tunnel_core::config::{AuthKind, Config};
use tunnel_core::ids::PageId;
use tunnel_core::secrets::SecretStore;

use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::app::connection::{self, CheckStage, ConnectionInput};
use crate::app::opened_config::OpenedConfig;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuthArg {
    /// User name and password (Basic).
    Password,
    /// User name and API token (Basic).
    ApiToken,
    /// Personal access token (Bearer), Confluence Data Center 7.9+.
    Pat,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Confluence base URL, e.g. https://wiki.example.com/confluence
    #[arg(long)]
    pub url: Option<String>,
    /// Your Confluence user name (not needed with a personal access token).
    #[arg(long)]
    pub username: Option<String>,
    /// How to authenticate. The secret itself comes from SBER_TUNNEL_PASSWORD or
    /// SBER_TUNNEL_TOKEN, or is asked for.
    #[arg(long, value_enum)]
    pub auth: Option<AuthArg>,
    /// ID of the Confluence page that stores your folders.
    #[arg(long)]
    pub page_id: Option<PageId>,
    /// Client certificate (PKCS#12 .p12/.pfx); its password from SBER_TUNNEL_P12_PASSWORD or asked.
    #[arg(long, value_name = "FILE")]
    pub p12: Option<PathBuf>,
    /// Extra CA certificates to trust (PEM).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Do not verify the server's certificate. Dangerous: anyone on the network could read
    /// your files. Only for test servers.
    #[arg(long)]
    pub insecure: bool,
    /// Never ask; fail when something is missing.
    #[arg(long)]
    pub non_interactive: bool,
    #[command(flatten)]
    pub privacy: super::page::PrivacyArgs,
}

struct Answers {
    url: String,
    auth: AuthKind,
    username: Option<String>,
    secret: String,
    page_id: PageId,
    p12: Option<PathBuf>,
    p12_password: Option<String>,
}

pub async fn run(ctx: &Context, args: InitArgs) -> Result<u8> {
    let _log = ctx.init_terminal_logging();
    let paths = OpenedConfig::resolve_paths(ctx.config_dir.as_deref())?;
    let existing = Config::load(&paths.config_file()).ok();
    let answers = collect(&args, existing.as_ref())?;

    let input = ConnectionInput {
        url: answers.url.clone(),
        auth: answers.auth,
        username: answers.username.clone(),
        page_id: answers.page_id.clone(),
        secret: Some(answers.secret.clone()),
        p12: answers.p12.clone(),
        p12_password: answers.p12_password.clone(),
        ca_file: args.ca.clone(),
        accept_invalid_certs: args.insecure,
    };
    let settings = input
        .settings(&SecretStore::new(&paths))
        .context(t!(CtxPreparing))?;
    if args.insecure {
        eprintln!("{}", t!(InitInsecure));
    }
    if !ctx.json {
        eprintln!("{}", tr(Msg::InitChecking, &[("url", &answers.url)]));
    }
    let identity = connection::check(settings, &answers.page_id)
        .await
        .map_err(|f| {
            let what = match f.stage {
                CheckStage::Prepare => t!(CtxPreparing),
                CheckStage::Connect => t!(CtxCheckingConnection),
                CheckStage::Write { user } => {
                    t!(CtxCheckingWrite, user = user, page = answers.page_id)
                }
            };
            anyhow::Error::new(f.error).context(what)
        })?;
    let config = input.save(&paths)?;
    // Create the journal now so `status` works at once.
    let app = OpenedConfig::with_config(paths.clone(), config.clone())?;
    let privacy = super::page::check_and_offer(
        &app.client()?,
        &answers.page_id,
        &args.privacy,
        !args.non_interactive,
    )
    .await?;

    if ctx.json {
        let body = serde_json::json!({
            "url": answers.url, "user": identity.user, "page_id": answers.page_id,
            "page_title": identity.title, "device": config.device.id,
            "config_dir": paths.config_dir, "page_privacy": privacy,
        });
        println!("{body}");
    } else {
        println!(
            "{}",
            tr(
                Msg::InitConnected,
                &[
                    ("url", &answers.url),
                    ("user", &identity.user),
                    ("page", &answers.page_id),
                    ("title", &identity.title),
                ]
            )
        );
        println!(
            "{}",
            tr(
                Msg::InitDevice,
                &[
                    ("device", &config.device.id),
                    ("path", &paths.config_dir.display())
                ]
            )
        );
        println!("{}", tr(Msg::InitNext, &[]));
    }
    Ok(exit::OK)
}

fn collect(args: &InitArgs, existing: Option<&Config>) -> Result<Answers> {
    let mut p = Prompter::new(args.non_interactive);
    let url = match &args.url {
        Some(u) => u.clone(),
        None => p.ask(
            Msg::InitUrl.text(current()),
            existing
                .map(|c| c.remote.url.clone())
                .filter(|u| !u.is_empty()),
        )?,
    };
    let url = url.trim().trim_end_matches('/').to_string();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(refused(t!(InitUrlScheme, url = url)));
    }
    let auth = match args.auth {
        Some(AuthArg::Password) => AuthKind::Password,
        Some(AuthArg::ApiToken) => AuthKind::ApiToken,
        Some(AuthArg::Pat) => AuthKind::Pat,
        None if args.username.is_some() => {
            if std::env::var_os("SBER_TUNNEL_PASSWORD").is_some() {
                AuthKind::Password
            } else {
                AuthKind::ApiToken
            }
        }
        None => AuthKind::Password,
    };
    let username = match (&args.username, auth, args.auth.is_some()) {
        (Some(u), _, _) => Some(u.clone()),
        (None, AuthKind::Pat, _) => None,
        (None, _, _) => {
            let u = p.ask_optional(Msg::InitUser.text(current()))?;
            u.filter(|s| !s.is_empty())
        }
    };
    let auth = if username.is_none() {
        AuthKind::Pat
    } else {
        auth
    };
    let (env_name, label) = match auth {
        AuthKind::Password => ("SBER_TUNNEL_PASSWORD", Msg::InitPassword.text(current())),
        AuthKind::ApiToken => ("SBER_TUNNEL_TOKEN", Msg::InitApiToken.text(current())),
        AuthKind::Pat => ("SBER_TUNNEL_TOKEN", Msg::InitPat.text(current())),
    };
    let secret = match std::env::var(env_name).ok().filter(|s| !s.is_empty()) {
        Some(s) => s,
        None if auth == AuthKind::Password => match std::env::var("SBER_TUNNEL_TOKEN")
            .ok()
            .filter(|s| !s.is_empty())
        {
            Some(s) => s,
            None => p.ask_secret(label)?,
        },
        None => p.ask_secret(label)?,
    };
    let page_id = match &args.page_id {
        Some(id) => id.clone(),
        None => PageId::parse(
            &p.ask(
                Msg::InitPageId.text(current()),
                existing
                    .and_then(|c| c.remote.default_page_id.as_ref())
                    .map(PageId::to_string),
            )?,
        )
        .map_err(AppError::from)?,
    };
    let p12 = match &args.p12 {
        Some(p) => Some(p.clone()),
        None if args.non_interactive || args.url.is_some() => None,
        None => p
            .ask_optional(Msg::InitP12.text(current()))?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    };
    let p12_password = match &p12 {
        Some(_) => Some(match std::env::var("SBER_TUNNEL_P12_PASSWORD") {
            Ok(s) => s,
            Err(_) => p.ask_secret(Msg::InitP12Password.text(current()))?,
        }),
        None => None,
    };
    Ok(Answers {
        url,
        auth,
        username,
        secret,
        page_id,
        p12,
        p12_password,
    })
}

/// Input the command cannot use (a missing or malformed answer or flag): bad usage, exit 2.
fn refused(message: String) -> anyhow::Error {
    AppError::invalid(message).into()
}

/// Asks on the terminal, or reads answers line by line from piped standard input.
struct Prompter {
    never: bool,
    tty: bool,
    lines: Option<std::io::Lines<std::io::StdinLock<'static>>>,
}

impl Prompter {
    fn new(never: bool) -> Self {
        Prompter {
            never,
            tty: std::io::stdin().is_terminal(),
            lines: None,
        }
    }

    fn read_line(&mut self, question: &str) -> Result<Option<String>> {
        if self.never {
            return Err(refused(t!(InitMissing, question = question)));
        }
        eprint!("{question}: ");
        let _ = std::io::stderr().flush();
        let lines = self
            .lines
            .get_or_insert_with(|| std::io::stdin().lock().lines());
        match lines.next() {
            Some(Ok(l)) => {
                if !self.tty {
                    eprintln!();
                }
                Ok(Some(l.trim().to_string()))
            }
            Some(Err(e)) => Err(e).context(t!(CtxStdin)),
            None => Ok(None),
        }
    }

    fn ask(&mut self, question: &str, default: Option<String>) -> Result<String> {
        let q = match &default {
            Some(d) => format!("{question} [{d}]"),
            None => question.to_string(),
        };
        match (self.read_line(&q)?, default) {
            (Some(a), _) if !a.is_empty() => Ok(a),
            (_, Some(d)) => Ok(d),
            _ => Err(refused(t!(InitNoAnswer, question = question))),
        }
    }

    fn ask_optional(&mut self, question: &str) -> Result<Option<String>> {
        self.read_line(question)
    }

    fn ask_secret(&mut self, question: &str) -> Result<String> {
        if self.never {
            return Err(refused(t!(InitMissingSecret, question = question)));
        }
        let answer = if self.tty {
            rpassword::prompt_password(format!("{question}: ")).context(t!(CtxReadingSecret))?
        } else {
            self.read_line(question)?.unwrap_or_default()
        };
        if answer.is_empty() {
            return Err(refused(t!(InitNoAnswer, question = question)));
        }
        Ok(answer)
    }
}
