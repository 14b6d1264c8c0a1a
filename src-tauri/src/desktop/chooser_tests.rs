//! "Choose folders…" against the real backend while the engine syncs (the packaged app's
//! emulator scenario once failed at this step after issue 15's journal changes): the dialog's
//! list comes from the journal the running engine writes, so each opening must be answered
//! promptly during the sync and must list the new subfolders once the sync has sent them.

use std::path::Path;
use std::time::{Duration, Instant};

use test_support::wait::wait_for_async;
use tunnel_core::events::SyncState;

use super::backend::DesktopBackend;
use super::real_backend::RealBackend;

/// How long a test waits for the app to react.
const PATIENCE: Duration = Duration::from_secs(60);
/// The longest one opening of the dialog may wait (the scenario gives the UI 15 s).
const ONE_OPENING: Duration = Duration::from_secs(10);

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chooser_answers_during_a_sync_and_lists_what_it_sent() {
    let emulator = super::emulator_app::spawn().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = super::emulator_app::configured(emulator.base_url(), dir.path())
        .paths
        .clone();

    let backend = RealBackend::new(paths.clone()).await;
    let folder = dir.path().join("Docs");
    write(&folder, "report.txt", b"first sync\n");
    let path = backend
        .add_folder(folder.clone(), None)
        .await
        .expect("folder added")
        .path;
    let idle_after_sync = || async {
        backend.folders().await.is_ok_and(|fs| {
            fs.iter()
                .all(|f| f.state == SyncState::Idle && f.last_sync_at.is_some())
        })
    };
    wait_for_async("the first sync", PATIENCE, idle_after_sync).await;

    // The scenario's step: subfolders written, "Sync now", the dialog opened until it lists
    // them (closed and opened again while it does not yet).
    write(&folder, "Big/movie.bin", &[3; 96 * 1024]);
    write(
        &folder,
        "Big/inner/notes.txt",
        b"inside an excluded folder\n",
    );
    write(&folder, "Keep/k.txt", b"stays here\n");
    backend
        .sync_now(Some(path.clone()))
        .await
        .expect("sync now");
    let deadline = Instant::now() + PATIENCE;
    let mut openings = 0;
    loop {
        let asked = Instant::now();
        let choice = tokio::time::timeout(ONE_OPENING, backend.folder_choice(path.clone()))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "opening {} of the chooser waited over {ONE_OPENING:?}",
                    openings + 1
                )
            })
            .expect("the chooser's list");
        openings += 1;
        let listed: Vec<String> = choice
            .subfolders
            .iter()
            .map(|s| s.path.to_string())
            .collect();
        if ["Big", "Big/inner", "Keep"]
            .iter()
            .all(|want| listed.iter().any(|l| l == want))
        {
            let big = choice
                .subfolders
                .iter()
                .find(|s| s.path.as_str() == "Big")
                .expect("Big");
            assert_eq!(big.files, 2, "{listed:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {openings} openings the chooser still lists {listed:?}"
        );
        // The scenario polls every 100 ms, once the previous answer came.
        tokio::time::sleep(Duration::from_millis(100).saturating_sub(asked.elapsed())).await;
    }
    wait_for_async("the sync to end", PATIENCE, idle_after_sync).await;
    backend.shutdown().await;
}
