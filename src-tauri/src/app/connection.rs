//! Saving a connection: the one path by which both the command line's `init` and the desktop
//! wizard turn what a person typed into a checked, saved connection — settings built, the page
//! probed (a real user, readable, attachments allowed), then the configuration file and the
//! secret store written. It also builds the connection settings of a saved configuration, so
//! every client of the program talks to Confluence with the same timeouts and auth rules.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tunnel_confluence::{
    Auth, ClientIdentity, ConfluenceClient, ConnectionSettings, RetryPolicy, Secret,
};
use tunnel_core::config::{AuthKind, Config, DeviceConfig};
use tunnel_core::ids::PageId;
use tunnel_core::paths::AppPaths;
use tunnel_core::remote::{RemoteError, RemoteIdentity, RemoteStore};
use tunnel_core::secrets::{SecretKind, SecretStore};

/// How long one request may take before it is retried (uploads of a 100 MB chunk included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a person gives to connect (the flags and answers of `init`, or the wizard's form).
#[derive(Clone, Debug)]
pub struct ConnectionInput {
    /// The Confluence base URL.
    pub url: String,
    /// How to sign in.
    pub auth: AuthKind,
    /// The user name (not used with a personal access token).
    pub username: Option<String>,
    /// The page that stores the folders by default.
    pub page_id: PageId,
    /// The password or token; `None` keeps the stored one.
    pub secret: Option<String>,
    /// A client certificate (.p12).
    pub p12: Option<PathBuf>,
    /// Its password; `None` keeps the stored one.
    pub p12_password: Option<String>,
    /// Extra CA certificates to trust.
    pub ca_file: Option<PathBuf>,
    /// Skip verifying the server's certificate (test servers only).
    pub accept_invalid_certs: bool,
}

/// Something the person still has to enter.
#[derive(Debug, thiserror::Error)]
pub enum MissingInput {
    /// No password or token was typed and none is stored.
    #[error("enter the password or token")]
    Secret,
    /// Basic sign-in without a user name.
    #[error("enter your user name")]
    UserName,
}

/// Which check of [`check`] failed.
#[derive(Debug)]
pub enum CheckStage {
    /// Setting up the client (the certificate files, the URL).
    Prepare,
    /// Signing in or reading the page.
    Connect,
    /// Adding attachments to the page, as `user`.
    Write {
        /// Who was signed in.
        user: String,
    },
}

/// A failed [`check`].
#[derive(Debug)]
pub struct CheckFailed {
    /// Which step failed.
    pub stage: CheckStage,
    /// Why.
    pub error: RemoteError,
}

impl ConnectionInput {
    /// The base URL as stored: trimmed, no trailing slash.
    pub fn clean_url(&self) -> String {
        self.url.trim().trim_end_matches('/').to_string()
    }

    fn clean_username(&self) -> Option<String> {
        self.username.clone().filter(|u| !u.is_empty())
    }

    /// Connection settings for this input; secrets not typed come from `stored`.
    pub fn settings(&self, stored: &SecretStore) -> Result<ConnectionSettings, MissingInput> {
        let secret = match self.secret.as_ref().filter(|s| !s.is_empty()) {
            Some(s) => s.clone(),
            None => stored
                .get(self.auth.secret_kind())
                .map(|s| s.expose().to_string())
                .ok_or(MissingInput::Secret)?,
        };
        let p12_password = self
            .p12_password
            .clone()
            .or_else(|| {
                stored
                    .get(SecretKind::P12Password)
                    .map(|s| s.expose().to_string())
            })
            .unwrap_or_default();
        Ok(settings(
            self.clean_url(),
            auth(self.auth, self.clean_username(), secret).ok_or(MissingInput::UserName)?,
            self.p12.clone().map(|p| (p, p12_password)),
            self.ca_file.clone(),
            self.accept_invalid_certs,
        ))
    }

    /// Write the configuration (keeping what `init` does not set: folders' settings, the
    /// device) and the secrets that were typed. Returns the saved configuration.
    pub fn save(&self, paths: &AppPaths) -> Result<Config> {
        let mut config = Config::load(&paths.config_file()).unwrap_or_default();
        config.remote.url = self.clean_url();
        config.remote.auth = self.auth;
        config.remote.username = self.clean_username();
        config.remote.default_page_id = Some(self.page_id.clone());
        config.remote.p12 = self.p12.clone();
        config.remote.ca_file = self.ca_file.clone();
        config.remote.accept_invalid_certs = self.accept_invalid_certs;
        if config.device.id.is_empty() {
            config.device = DeviceConfig::generate();
        }
        std::fs::create_dir_all(&paths.config_dir)
            .with_context(|| crate::i18n::t!(CtxCreating, path = paths.config_dir.display()))?;
        let secrets = SecretStore::new(paths);
        if let Some(s) = self.secret.as_ref().filter(|s| !s.is_empty()) {
            secrets
                .set(self.auth.secret_kind(), s)
                .with_context(|| crate::i18n::t!(CtxSavingSecret))?;
        }
        if let Some(p) = &self.p12_password {
            secrets
                .set(SecretKind::P12Password, p)
                .with_context(|| crate::i18n::t!(CtxSavingCertPassword))?;
        }
        config
            .save(&paths.config_file())
            .with_context(|| crate::i18n::t!(CtxSavingConfig))?;
        Ok(config)
    }
}

/// Check that `settings` reach page `page_id` as a real user who may add attachments.
pub async fn check(
    settings: ConnectionSettings,
    page_id: &PageId,
) -> Result<RemoteIdentity, CheckFailed> {
    let connect = |error| CheckFailed {
        stage: CheckStage::Connect,
        error,
    };
    // Reading the certificate files and the system's trust store blocks: not on the reactor.
    let client = tokio::task::spawn_blocking(move || ConfluenceClient::new(settings))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        .map_err(|error| CheckFailed {
            stage: CheckStage::Prepare,
            error,
        })?;
    let store = client.store(page_id.as_str());
    let identity = store.probe().await.map_err(connect)?;
    store.probe_write().await.map_err(|error| CheckFailed {
        stage: CheckStage::Write {
            user: identity.user.clone(),
        },
        error,
    })?;
    Ok(identity)
}

/// The connection settings of a saved configuration, secrets from `secrets`.
pub fn saved_settings(
    config: &Config,
    secrets: &SecretStore,
) -> Result<ConnectionSettings, RemoteError> {
    let remote = &config.remote;
    let secret = secrets
        .get(remote.auth.secret_kind())
        .map(|s| s.expose().to_string())
        .ok_or_else(|| {
            RemoteError::Auth(match remote.auth {
                AuthKind::Pat => "no personal access token is stored; run `sber-tunnel init` or set SBER_TUNNEL_TOKEN".into(),
                _ => "no password or API token is stored; run `sber-tunnel init` or set SBER_TUNNEL_PASSWORD".into(),
            })
        })?;
    let auth = auth(remote.auth, remote.username.clone(), secret).ok_or_else(|| {
        RemoteError::Auth("no user name is configured; run `sber-tunnel init`".into())
    })?;
    let client_identity = remote.p12.clone().map(|p12| {
        let password = secrets
            .get(SecretKind::P12Password)
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
        (p12, password)
    });
    Ok(settings(
        remote.url.clone(),
        auth,
        client_identity,
        remote.ca_file.clone(),
        remote.accept_invalid_certs,
    ))
}

/// How `kind` signs in with `secret`; `None` when Basic sign-in has no user name.
fn auth(kind: AuthKind, username: Option<String>, secret: String) -> Option<Auth> {
    Some(match kind {
        AuthKind::Pat => Auth::Bearer {
            token: Secret::new(secret),
        },
        AuthKind::Password | AuthKind::ApiToken => Auth::Basic {
            username: username?,
            password: Secret::new(secret),
        },
    })
}

fn settings(
    base_url: String,
    auth: Auth,
    p12: Option<(PathBuf, String)>,
    ca_file: Option<PathBuf>,
    accept_invalid_certs: bool,
) -> ConnectionSettings {
    ConnectionSettings {
        base_url,
        auth,
        client_identity: p12.map(|(p12_path, password)| ClientIdentity {
            p12_path,
            password: Secret::new(password),
        }),
        ca_file,
        accept_invalid_certs,
        retry: RetryPolicy::default(),
        timeout: REQUEST_TIMEOUT,
        pace_rate_limits: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(auth: AuthKind, username: Option<&str>, secret: Option<&str>) -> ConnectionInput {
        ConnectionInput {
            url: " https://wiki.example.com/confluence/ ".into(),
            auth,
            username: username.map(str::to_string),
            page_id: PageId::parse("42").expect("digits"),
            secret: secret.map(str::to_string),
            p12: None,
            p12_password: None,
            ca_file: None,
            accept_invalid_certs: false,
        }
    }

    fn empty_store() -> (tempfile::TempDir, SecretStore) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let paths =
            AppPaths::resolve(Some(&tmp.path().join("cfg")), None, tmp.path()).expect("paths");
        (tmp, SecretStore::new(&paths))
    }

    #[test]
    fn each_way_of_signing_in_becomes_its_http_auth() {
        let (_tmp, stored) = empty_store();
        let s = input(AuthKind::Pat, None, Some("tok"))
            .settings(&stored)
            .expect("a token is enough");
        assert!(matches!(s.auth, Auth::Bearer { .. }));
        assert_eq!(s.base_url, "https://wiki.example.com/confluence");
        assert_eq!(s.timeout, REQUEST_TIMEOUT);
        for kind in [AuthKind::Password, AuthKind::ApiToken] {
            let s = input(kind, Some("alice"), Some("pw"))
                .settings(&stored)
                .expect("user and secret");
            assert!(matches!(s.auth, Auth::Basic { ref username, .. } if username == "alice"));
            assert!(matches!(
                input(kind, Some(""), Some("pw")).settings(&stored),
                Err(MissingInput::UserName)
            ));
        }
    }

    #[test]
    fn auth_kinds_need_their_secret() {
        assert_eq!(AuthKind::Password.secret_kind(), SecretKind::Password);
        assert_eq!(AuthKind::ApiToken.secret_kind(), SecretKind::Token);
        assert_eq!(AuthKind::Pat.secret_kind(), SecretKind::Token);
    }
}
