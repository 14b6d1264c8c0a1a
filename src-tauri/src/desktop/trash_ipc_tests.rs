//! The Trash view's commands (issue 16 item 4) through Tauri's mock runtime over the REAL
//! backend, with the Confluence emulator on a real socket and a second device (an in-process
//! syncer with its own configuration, journal and folder) changing the same page: what that
//! device's deletion and edit took away here is listed with why and whose change it was, put
//! back (never over a file) and then synced to it, and the rest emptied.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use test_support::wait::wait_for;
use tunnel_core::config::{AuthKind, Config, DeviceConfig};
use tunnel_core::ids::PageId;
use tunnel_core::journal::FolderRecord;
use tunnel_core::paths::AppPaths;
use tunnel_core::secrets::SecretKind;
use tunnel_core::sync::SyncOptions;

use super::versions_ipc_tests::Harness;
use crate::app::opened_config::OpenedConfig;

/// How long a test waits for a sync (a generous bound for a busy CI machine).
const PATIENCE: Duration = Duration::from_secs(60);

/// Another device on the emulator's page: its own configuration in `home`, its folder
/// `home/synced`.
struct OtherDevice {
    app: OpenedConfig,
    folder: FolderRecord,
}

impl OtherDevice {
    fn new(home: &Path, url: String) -> OtherDevice {
        let paths = AppPaths::resolve(Some(&home.join("config")), None, home).expect("paths");
        let mut config = Config::default();
        config.remote.url = url;
        config.remote.auth = AuthKind::Password;
        config.remote.username = Some("alice".into());
        config.remote.default_page_id = PageId::parse("4242").ok();
        config.device = DeviceConfig::generate();
        std::fs::create_dir_all(&paths.config_dir).expect("config dir");
        config.save(&paths.config_file()).expect("config");
        let app = OpenedConfig::with_config(paths, config).expect("app");
        app.secrets
            .set(SecretKind::Password, "s3cret")
            .expect("secret");
        let page = PageId::parse("4242").expect("page id");
        let folder = app
            .track_folder(&home.join("synced"), &page)
            .expect("tracked");
        OtherDevice { app, folder }
    }

    fn id(&self) -> String {
        self.app.config.device.id.clone()
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.folder.path.join(rel)
    }

    /// One sync of its folder, as `sber-tunnel sync` makes it.
    fn sync(&self) {
        tauri::async_runtime::block_on(async {
            let client = self.app.client().expect("client");
            let store = client.store(self.folder.page_id.as_str());
            self.app
                .syncer()
                .sync_folder(self.folder.id, &store, &SyncOptions::default())
                .await
                .expect("the other device syncs");
        });
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()))
}

/// The items of the one folder's trash, and its retention.
fn trash(h: &Harness, folder: &str) -> (Vec<Value>, Value) {
    let listed = h.ok("list_trash", json!({}));
    let all = listed.as_array().expect("a list");
    assert_eq!(all.len(), 1, "one folder: {listed}");
    assert_eq!(all[0]["folder"], folder, "{listed}");
    (
        all[0]["items"].as_array().expect("items").clone(),
        all[0]["keep_days"].clone(),
    )
}

fn item<'a>(items: &'a [Value], path: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["path"] == path)
        .unwrap_or_else(|| panic!("{path} in the trash: {items:?}"))
}

#[test]
fn what_another_device_deleted_or_replaced_is_listed_put_back_and_emptied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical temp dir");
    let (home, other_home) = (root.join("here"), root.join("other"));
    let synced = home.join("synced");
    std::fs::create_dir_all(&synced).expect("mkdir");
    std::fs::write(synced.join("plan.txt"), "version 1").expect("write");
    std::fs::write(synced.join("gone.txt"), "bye").expect("write");
    std::fs::write(synced.join("spare.txt"), "spare").expect("write");
    let h = Harness::start(&home);
    let folder = synced.to_str().expect("utf-8 path").to_owned();
    h.ok("add_folder", json!({"path": folder, "page_id": null}));
    h.sync_until(&folder, "spare.txt", 1);
    let (items, keep_days) = trash(&h, &folder);
    assert!(items.is_empty(), "nothing trashed yet: {items:?}");
    assert_eq!(keep_days, 30, "the default retention");

    // The other device receives the files, then deletes two and edits one.
    let other = OtherDevice::new(&other_home, h.emulator_url());
    other.sync();
    assert_eq!(read(&other.path("plan.txt")), "version 1");
    std::fs::remove_file(other.path("gone.txt")).expect("rm");
    std::fs::remove_file(other.path("spare.txt")).expect("rm");
    std::fs::write(other.path("plan.txt"), "version 2 from the other").expect("edit");
    other.sync();

    // Here the deletions and the edit arrive; what they took away is in the trash.
    let mut asked = 0;
    wait_for("three items in the trash", PATIENCE, || {
        // Asked again now and then: a sync already running may have read the page before.
        if asked % 20 == 0 {
            let _ = h.invoke("sync_now", json!({"path": folder}));
        }
        asked += 1;
        trash(&h, &folder).0.len() == 3
    });
    assert_eq!(read(&synced.join("plan.txt")), "version 2 from the other");
    assert!(!synced.join("gone.txt").exists());
    let (items, _) = trash(&h, &folder);
    let who = other.id();
    let plan = item(&items, "plan.txt");
    assert_eq!(plan["reason"], "replaced", "{plan}");
    assert_eq!(plan["device"], who.as_str(), "whose edit: {plan}");
    assert_eq!(plan["size"], 9, "the previous content's size: {plan}");
    let gone = item(&items, "gone.txt");
    assert_eq!(gone["reason"], "deleted", "{gone}");
    assert_eq!(gone["device"], who.as_str(), "whose deletion: {gone}");
    assert_eq!(gone["size"], 3);
    let now = tunnel_core::clock::unix_now();
    let at = gone["at"].as_i64().expect("a time");
    assert!(
        now - at < 600 && at <= now,
        "when it went to the trash: {at} (now {now})"
    );
    let ats: Vec<i64> = items.iter().filter_map(|i| i["at"].as_i64()).collect();
    assert!(
        ats.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {ats:?}"
    );

    // The previous content comes back beside the edited file, never over it.
    let back = h.ok(
        "put_back_from_trash",
        json!({"folder": folder, "in_trash": plan["in_trash"]}),
    );
    assert_eq!(back["beside"], true, "{back}");
    assert_eq!(
        back["original"],
        synced.join("plan.txt").to_str().expect("utf-8")
    );
    let beside = synced.join("plan (restored).txt");
    assert_eq!(back["placed"], beside.to_str().expect("utf-8"), "{back}");
    assert_eq!(read(&beside), "version 1");
    assert_eq!(read(&synced.join("plan.txt")), "version 2 from the other");
    // The deleted file comes back at its place.
    let back = h.ok(
        "put_back_from_trash",
        json!({"folder": folder, "in_trash": gone["in_trash"]}),
    );
    assert_eq!(back["beside"], false, "{back}");
    assert_eq!(read(&synced.join("gone.txt")), "bye");
    let err = h
        .invoke(
            "put_back_from_trash",
            json!({"folder": folder, "in_trash": gone["in_trash"]}),
        )
        .expect_err("it is no longer in the trash");
    assert_eq!(err["code"], "invalid", "{err}");
    let (items, _) = trash(&h, &folder);
    let left: Vec<&Value> = items.iter().map(|i| &i["path"]).collect();
    assert_eq!(
        left,
        [&json!("spare.txt")],
        "put-back items leave the trash"
    );

    // What was put back is an ordinary local change: it reaches the other device.
    wait_for("the put-back files on the other device", PATIENCE, || {
        let _ = h.invoke("sync_now", json!({"path": folder}));
        other.sync();
        read(&other.path("gone.txt")) == "bye"
            && read(&other.path("plan (restored).txt")) == "version 1"
    });

    // Emptying deletes the rest for good.
    let emptied = h.ok("empty_trash", json!({"folder": folder}));
    assert_eq!(emptied["removed"], 1, "{emptied}");
    assert!(trash(&h, &folder).0.is_empty());
    assert!(!synced.join("spare.txt").exists(), "deleted, not put back");
    let err = h
        .invoke("empty_trash", json!({"folder": other_home.to_str()}))
        .expect_err("not a synced folder here");
    assert_eq!(err["code"], "invalid", "{err}");
}
