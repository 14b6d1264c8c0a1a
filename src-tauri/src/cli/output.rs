//! Terminal output helpers: progress bars from sync events, human sizes.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::broadcast;
use tunnel_core::events::SyncEvent;

/// Show sync progress on stderr while events arrive (only on a terminal). Returns a task
/// handle; abort it when the sync is over.
pub fn spawn_progress(
    mut rx: broadcast::Receiver<SyncEvent>,
    enabled: bool,
) -> tokio::task::JoinHandle<()> {
    let enabled = enabled && std::io::stderr().is_terminal();
    tokio::spawn(async move {
        if !enabled {
            while rx.recv().await.is_ok() {}
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:40!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        loop {
            match rx.recv().await {
                Ok(SyncEvent::Started { folder }) => {
                    bar.reset();
                    bar.set_message(folder.display().to_string());
                }
                Ok(SyncEvent::Progress { progress, .. }) => {
                    bar.set_length(progress.bytes_total.max(1));
                    bar.set_position(progress.bytes_done);
                    let current = progress
                        .current
                        .as_deref()
                        .map(|c| format!(" · {c}"))
                        .unwrap_or_default();
                    bar.set_message(format!(
                        "{}{current}",
                        crate::i18n::t!(
                            ProgressFiles,
                            done = progress.files_done,
                            total = progress.files_total
                        )
                    ));
                }
                Ok(SyncEvent::Finished { .. }) | Ok(SyncEvent::Failed { .. }) => {
                    bar.finish_and_clear()
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
        bar.finish_and_clear();
    })
}

/// 1536 → "1.5 KiB" ("1,5 КБ" in Russian; the same words as the progress lines).
pub fn human_bytes(n: u64) -> String {
    tunnel_core::progress::text::format_bytes_in(crate::i18n::lang(), n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes_reads_well() {
        use tunnel_core::lang::Lang;
        use tunnel_core::progress::text::format_bytes_in;
        assert_eq!(format_bytes_in(Lang::En, 0), "0 B");
        assert_eq!(format_bytes_in(Lang::En, 1536), "1.5 KiB");
        assert_eq!(format_bytes_in(Lang::En, 3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(format_bytes_in(Lang::Ru, 3 * 1024 * 1024), "3,0 МБ");
    }
}
