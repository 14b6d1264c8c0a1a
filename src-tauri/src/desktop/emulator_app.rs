//! Test-only: the configuration the wizard saves, pointed at an emulator page (user `alice`,
//! her password in the app's secrets store), for the tests that run the real backend.

use std::path::Path;

use confluence_emulator::{Emulator, EmulatorHandle};
use tunnel_core::config::{AuthKind, Config, DeviceConfig};
use tunnel_core::ids::PageId;
use tunnel_core::paths::AppPaths;
use tunnel_core::secrets::SecretKind;

use crate::app::opened_config::OpenedConfig;

/// The emulator's user the configuration signs in as.
pub(crate) const USER: &str = "alice";
/// Her password.
pub(crate) const PASSWORD: &str = "s3cret";
/// The configuration's default page.
pub(crate) const PAGE: &str = "4242";

/// A fresh emulator with [`USER`] (her [`PASSWORD`]) and the empty page [`PAGE`].
pub(crate) async fn spawn() -> EmulatorHandle {
    Emulator::builder()
        .user(USER, PASSWORD)
        .page(PAGE)
        .spawn()
        .await
        .expect("emulator")
}

/// Save under `home` (configuration in `home/config`) a connection to the emulator at
/// `base_url` as [`USER`] with [`PASSWORD`] and [`PAGE`], and a new device; returns it opened
/// (drop it before a backend opens its own, unless the test holds its lock on purpose).
pub(crate) fn configured(base_url: String, home: &Path) -> OpenedConfig {
    let paths = AppPaths::resolve(Some(&home.join("config")), None, home).expect("paths");
    let mut config = Config::default();
    config.remote.url = base_url;
    config.remote.auth = AuthKind::Password;
    config.remote.username = Some(USER.into());
    config.remote.default_page_id = PageId::parse(PAGE).ok();
    config.device = DeviceConfig::generate();
    std::fs::create_dir_all(&paths.config_dir).expect("config dir");
    config.save(&paths.config_file()).expect("config");
    let app = OpenedConfig::with_config(paths, config).expect("app");
    app.secrets
        .set(SecretKind::Password, PASSWORD)
        .expect("secret");
    app
}
