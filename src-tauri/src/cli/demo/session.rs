//! The demo itself (feature `demo`): the emulator, two devices, and the story they tell.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use confluence_emulator::Emulator;
use tunnel_core::config::{AuthKind, Config, DeviceConfig};
use tunnel_core::ids::{FolderId, PageId};
use tunnel_core::paths::AppPaths;
use tunnel_core::secrets::SecretKind;
use tunnel_core::sync::{SyncOptions, Syncer};

use super::DemoArgs;
use crate::app::opened_config::OpenedConfig;
use crate::cli::sync::describe_summary;
use crate::cli::{exit, Context};

const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo";
const DEMO_PAGE: &str = "1000";
const DEMO_PAGE_2: &str = "1001";

struct Device {
    name: &'static str,
    app: OpenedConfig,
    folder: PathBuf,
    folder_id: FolderId,
}

pub async fn run(ctx: &Context, args: DemoArgs) -> Result<u8> {
    let _log = ctx.init_terminal_logging();
    let work = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("sber-tunnel-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let work = std::fs::canonicalize(&work)?;

    let emulator = Emulator::builder()
        .listen(args.listen)
        .user(DEMO_USER, DEMO_PASSWORD)
        .page_titled(DEMO_PAGE, "sber-tunnel demo")
        // Empty, for a second folder added by hand (the desktop demo suggests it).
        .page_titled(DEMO_PAGE_2, "sber-tunnel demo, second folder")
        .data_dir(work.join("emulator-data"))
        .spawn()
        .await
        .context("starting the Confluence emulator")?;
    let url = emulator.base_url();
    say(&format!("Confluence emulator running at {url} (user {DEMO_USER}, password {DEMO_PASSWORD}, page {DEMO_PAGE}; page {DEMO_PAGE_2} is empty)"));

    let laptop = device(&work, "laptop", &url)?;
    let desktop = device(&work, "desktop", &url)?;
    let client = laptop.app.client()?;
    let store = client.store(DEMO_PAGE);

    say("1. The laptop has a few files; it syncs them up to the page.");
    write(&laptop.folder, "README.txt", b"Hello from the laptop.\n")?;
    write(&laptop.folder, "notes/todo.md", b"- try sber-tunnel\n")?;
    write(
        &laptop.folder,
        "notes/ideas.md",
        b"- sync through Confluence\n",
    )?;
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    write(&laptop.folder, "photos/holiday.raw", &big)?;
    sync(&laptop, &store).await?;
    say("2. The desktop syncs and receives them.");
    sync(&desktop, &store).await?;
    show_tree(&desktop.folder)?;

    say("3. The desktop edits a note and deletes another; the laptop receives both changes.");
    write(
        &desktop.folder,
        "notes/todo.md",
        b"- try sber-tunnel\n- done!\n",
    )?;
    std::fs::remove_file(desktop.folder.join("notes/ideas.md"))?;
    sync(&desktop, &store).await?;
    sync(&laptop, &store).await?;
    show_tree(&laptop.folder)?;

    say("4. Both edit README.txt before syncing: the later edit wins, the other is kept as a conflict copy.");
    write(&laptop.folder, "README.txt", b"Laptop's version.\n")?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(
        &desktop.folder,
        "README.txt",
        b"Desktop's version (written last).\n",
    )?;
    sync(&laptop, &store).await?;
    sync(&desktop, &store).await?;
    sync(&laptop, &store).await?;
    show_tree(&laptop.folder)?;

    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "sber-tunnel".into());
    say(&format!(
        "Done. The two devices live in {}:\n  {exe} --config-dir {} status\n  {exe} --config-dir {} sync",
        work.display(),
        laptop.app.paths.config_dir.display(),
        desktop.app.paths.config_dir.display()
    ));
    if args.serve {
        say("The emulator keeps running; press Ctrl-C to stop it.");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    emulator.shutdown().await;
    Ok(exit::OK)
}

fn say(s: &str) {
    println!("\n== {s}");
}

/// The page the demo's devices sync through.
fn demo_page() -> PageId {
    PageId::parse(DEMO_PAGE).expect("the demo's page id is digits")
}

fn device(work: &Path, name: &'static str, url: &str) -> Result<Device> {
    let home = work.join(name);
    let paths = AppPaths::resolve(Some(&home.join("config")), None, work)?;
    let mut config = Config::default();
    config.remote.url = url.to_string();
    config.remote.auth = AuthKind::Password;
    config.remote.username = Some(DEMO_USER.into());
    config.remote.default_page_id = Some(demo_page());
    config.device = DeviceConfig::generate();
    config.device.id = format!(
        "{name}-{}",
        &config.device.id[config.device.id.len().saturating_sub(4)..]
    );
    config.device.name = name.into();
    std::fs::create_dir_all(&paths.config_dir)?;
    config.save(&paths.config_file())?;
    let app = OpenedConfig::with_config(paths, config)?;
    app.secrets.set(SecretKind::Password, DEMO_PASSWORD)?;
    let folder = home.join("Sync");
    std::fs::create_dir_all(&folder)?;
    let folder = std::fs::canonicalize(&folder)?;
    let existing = app.with_journal(|j| Ok(j.folder_by_path(&folder)?))?;
    let record = match existing {
        Some(r) => r,
        None => app.with_journal(|j| Ok(j.add_folder(&folder, &demo_page())?))?,
    };
    Syncer::mark_folder(&folder, &record.folder_uuid)?;
    Ok(Device {
        name,
        app,
        folder,
        folder_id: record.id,
    })
}

async fn sync(d: &Device, store: &tunnel_confluence::ConfluenceStore) -> Result<()> {
    let syncer = d.app.syncer();
    let summary = syncer
        .sync_folder(d.folder_id, store, &SyncOptions::default())
        .await
        .with_context(|| format!("syncing the {}", d.name))?;
    println!("   {:8} sync: {}", d.name, describe_summary(&summary));
    Ok(())
}

fn write(root: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
}

fn show_tree(root: &Path) -> Result<()> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if e.file_type()?.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                files.push((rel, e.metadata()?.len()));
            }
        }
    }
    files.sort();
    for (p, n) in files {
        println!("     {:40} {:>10} bytes", p.display(), n);
    }
    Ok(())
}
