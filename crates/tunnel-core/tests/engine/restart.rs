//! An engine restarted with new settings (the desktop app saving its settings or a new
//! connection) publishes on the same [`EngineChannels`]: a reader that subscribed once, before
//! any engine ran (the app's event bridge), keeps receiving status and events from every engine,
//! and what the host publishes while none runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tunnel_core::engine::{EngineChannels, EngineHandle, EngineSettings, StoreFactory};
use tunnel_core::events::{SyncEvent, SyncState, SyncStatus, WatchMode};
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::remote::RemoteStore;
use tunnel_core::sync::Syncer;

use crate::util::{settings, Device};

/// Longest wait for something the engine does at once (a sync of one small file).
const PATIENCE: Duration = Duration::from_secs(60);

fn engine_settings() -> EngineSettings {
    EngineSettings {
        // Only the syncs this test asks for (and the catch-up at start).
        watch: WatchMode::Polling,
        debounce: Duration::from_millis(50),
        ..EngineSettings::default()
    }
}

/// Wait until `events` reports `rel` uploaded.
async fn uploaded(events: &mut broadcast::Receiver<SyncEvent>, rel: &str) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Ok(SyncEvent::Uploaded { path, .. }) if path == rel => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    panic!("the host's event channel closed with an engine")
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no upload of {rel} reported"));
}

/// Wait until the status satisfies `ok`.
async fn status_until(
    status: &mut watch::Receiver<SyncStatus>,
    what: &str,
    ok: impl Fn(&SyncStatus) -> bool,
) {
    tokio::time::timeout(PATIENCE, status.wait_for(|s| ok(s)))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for the status to show {what}"))
        .expect("the host's status channel stays open between engines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_engine_publishes_on_the_channels_readers_already_hold() {
    let device = Device::new("laptop");
    let store = Arc::new(MemoryStore::new());
    let stores: StoreFactory = {
        let store = store.clone();
        Arc::new(move |_| {
            let s: Arc<dyn RemoteStore> = store.clone();
            Ok(s)
        })
    };
    let channels = EngineChannels::new();
    // Subscribed once, before any engine exists, as the desktop app's event bridge does.
    let mut status = channels.status();
    let mut events = channels.subscribe();

    device.write("one.txt", b"first engine");
    let (first, task) = EngineHandle::spawn(
        device.syncer.clone(),
        stores.clone(),
        engine_settings(),
        &channels,
    );
    first.sync_now(None).await.expect("sync requested");
    uploaded(&mut events, "one.txt").await;
    first.shutdown().await;
    task.await.expect("the first engine ends cleanly");
    tokio::time::timeout(PATIENCE, first.stopped())
        .await
        .expect("a shut-down engine says it has stopped");

    // Between two engines the host says why nothing syncs, on the same channel.
    channels.publish_status(SyncStatus {
        state: SyncState::Error,
        message: Some("waiting for the other service".into()),
        ..SyncStatus::default()
    });
    status_until(&mut status, "the host's message", |s| {
        s.message.as_deref() == Some("waiting for the other service")
    })
    .await;

    // The second engine: a new syncer (new settings) over the same journal, same channels.
    let syncer = Syncer::new(device.syncer.journal(), settings(), device.id.clone());
    device.write("two.txt", b"second engine");
    let (second, task) = EngineHandle::spawn(syncer, stores, engine_settings(), &channels);
    second.sync_now(None).await.expect("sync requested");
    uploaded(&mut events, "two.txt").await;
    status_until(&mut status, "the second engine's idle folder", |s| {
        s.state == SyncState::Idle
            && s.message.is_none()
            && s.folders.len() == 1
            && s.folders[0].last_sync_at.is_some()
    })
    .await;
    assert_eq!(
        second.status().borrow().folders,
        status.borrow().folders,
        "the handle's status is the host's channel, not a copy"
    );
    second.shutdown().await;
    task.await.expect("the second engine ends cleanly");
}
