//! The download pass: every file the plan brings here, packs prefetched once, each file
//! verified and put in place through a temporary file; local I/O failures retried one by one.

use super::*;

/// One file to fetch: where it goes, what the page holds, what the plan saw there. Borrowed
/// from the plan (issue 15: a new device receiving 100,000 files held each entry cloned twice
/// over, about 50 MB).
#[derive(Clone, Copy)]
struct Job<'a> {
    dest: &'a RelPath,
    entry: &'a FileEntry,
    expected: Option<&'a LocalEntry>,
    /// The plan's download whose entry this is (not a conflict copy's renamed entry).
    action: Option<usize>,
}

impl Syncer {
    pub(super) async fn download_all(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        actions: &[Action],
        local: &BTreeMap<RelPath, LocalEntry>,
        exec: &mut Execution,
    ) -> Result<(), SyncError> {
        // A losing remote version kept as a conflict copy is fetched under the copy's name:
        // its entries, renamed, are made first, so the jobs below can borrow them.
        let renamed_copies: Vec<FileEntry> = actions
            .iter()
            .filter_map(|a| match a {
                Action::ConflictLocalWins { copy, entry, .. } => {
                    let mut as_copy = (**entry).clone();
                    as_copy.path = copy.clone();
                    Some(as_copy)
                }
                _ => None,
            })
            .collect();
        let mut renamed_copies = renamed_copies.iter();
        // Room for one job per action, made once (untouched room costs no memory): grown by
        // doubling, a new device's 100,000 jobs were copied at each of 15 doublings.
        let mut jobs: Vec<Job<'_>> = Vec::with_capacity(actions.len());
        // Conflict copies of the remote version: their base is recorded only after the commit
        // that publishes them, or a lost commit race would read them as deleted remotely.
        let mut copies: HashSet<RelPath> = HashSet::new();
        for (k, a) in actions.iter().enumerate() {
            match a {
                Action::Download { path, entry } => match entry.kind {
                    EntryKind::Dir => {
                        // A file replaced by a folder remotely: the plan saw the file
                        // unchanged since the base, so it may go.
                        if let Some(l) = local.get(path).filter(|l| l.kind == EntryKind::File) {
                            if download::matches_expected(&folder.path, path, Some(l)).await {
                                let _ = fs_safe::remove_file(&folder.path, path);
                            }
                        }
                        match fs_safe::create_dir_all(&folder.path, path) {
                            Ok(()) => {
                                exec.base_upserts.push(entry.clone());
                                exec.summary.downloaded += 1;
                            }
                            Err(e) => {
                                exec.failed_files += 1;
                                warn!(path = %path, error = %e, "could not create folder");
                            }
                        }
                    }
                    // Renamed in place (a case-only rename): the content is already there.
                    EntryKind::File if exec.renamed.contains(path) => {
                        exec.base_upserts.push(entry.clone());
                        exec.summary.downloaded += 1;
                    }
                    EntryKind::File => jobs.push(Job {
                        dest: path,
                        entry,
                        expected: local.get(path),
                        action: Some(k),
                    }),
                },
                Action::ConflictRemoteWins {
                    path, copy, entry, ..
                } if exec.moved.contains_key(copy) => {
                    if entry.kind == EntryKind::Dir {
                        // The local file moved aside for a folder: the folder takes its place
                        // now, before the files inside it are fetched.
                        let native = path.to_native(&folder.path);
                        match tokio::fs::create_dir_all(&native).await {
                            Ok(()) => exec.base_upserts.push((**entry).clone()),
                            Err(e) => {
                                exec.failed_files += 1;
                                warn!(path = %path, error = %e, "could not create folder");
                            }
                        }
                    } else {
                        jobs.push(Job {
                            dest: path,
                            entry,
                            expected: None,
                            action: None,
                        });
                    }
                }
                Action::ConflictLocalWins { copy, .. } => {
                    if let Some(as_copy) = renamed_copies.next() {
                        copies.insert(copy.clone());
                        jobs.push(Job {
                            dest: copy,
                            entry: as_copy,
                            expected: None,
                            action: None,
                        });
                    }
                }
                // A remote name renamed to a case-conflict copy: brought here under the new
                // name; like a conflict copy its base is recorded by the commit that publishes
                // the rename, never before (a lost race must not read it as deleted remotely).
                // A copy left here by an earlier attempt: nothing to fetch.
                Action::RenameRemote { here: true, .. } => {}
                Action::RenameRemote { path, entry, .. } => match entry.kind {
                    EntryKind::Dir => {
                        if let Err(e) = fs_safe::create_dir_all(&folder.path, path) {
                            exec.failed_files += 1;
                            exec.copies_not_here.insert(path.clone());
                            warn!(path = %path, error = %e, "could not create folder");
                        }
                    }
                    EntryKind::File => {
                        copies.insert(path.clone());
                        jobs.push(Job {
                            dest: path,
                            entry,
                            expected: None,
                            action: None,
                        });
                    }
                },
                Action::RecordBase { entry, .. } => exec.base_upserts.push(entry.clone()),
                Action::ForgetBase { path } => exec.base_removals.push(path.clone()),
                Action::Upload { .. }
                | Action::ConflictRemoteWins { .. }
                | Action::DeleteLocal { .. }
                | Action::Evict { .. }
                | Action::DeleteRemote { .. } => {}
            }
        }
        let total_bytes: u64 = jobs.iter().map(|j| j.entry.size).sum();
        let exact = exec.tally.downloads_are(crate::progress::totals::Amount {
            files: jobs.len() as u64,
            bytes: total_bytes,
        });
        if jobs.is_empty() {
            return Ok(());
        }
        self.emit_progress(folder, exact);
        let packs = self
            .prefetch_packs(folder, store, jobs.iter().map(|j| j.entry))
            .await;
        let packs = match packs {
            Ok(p) => p,
            Err(e) => return Err(e),
        };
        let root = folder.path.clone();
        let arriving: Vec<&FileEntry> = jobs.iter().map(|j| j.entry).collect();
        let keep: HashSet<&RelPath> = jobs
            .iter()
            .filter(|j| download::keeps_previous(j.expected, j.entry, &arriving))
            .map(|j| j.dest)
            .collect();
        let tally = &exec.tally;
        let mut results = Vec::with_capacity(jobs.len());
        // Files cut out of packs already here need no request: they are written more at once
        // (their time is the disk's flush of each file, which the disk overlaps), then the
        // others with the configured number of transfers. One transfer means one file at a
        // time everywhere.
        let parallel = self.settings.parallel_transfers.max(1);
        let local_parallel = if parallel == 1 {
            1
        } else {
            LOCAL_WRITES_IN_FLIGHT.max(parallel)
        };
        // Every request of the pass, whichever file it is for, takes one of these.
        let slots = &download::RequestSlots::new(parallel);
        // Jobs go by their index: a closure over borrowed jobs would not be `Send` for every
        // lifetime, as the spawned sync needs.
        let (local_jobs, remote_jobs): (Vec<usize>, Vec<usize>) = (0..jobs.len()).partition(|&i| {
            jobs[i]
                .entry
                .chunks
                .iter()
                .all(|c| packs.contains_key(&c.blob))
        });
        {
            let jobs = &jobs;
            let run = |i: usize| {
                let Job {
                    dest,
                    entry,
                    expected,
                    ..
                } = jobs[i];
                let packs = &packs;
                let root = &root;
                let keep = keep.contains(dest);
                async move {
                    tally.start(dest);
                    let on_chunk = |n: u64| {
                        if let Some(p) = tally.bytes(dest, n) {
                            self.emit_progress(folder, p);
                        }
                    };
                    let fetch = || {
                        download::download_file(
                            store, root, dest, entry, expected, keep, packs, &on_chunk, slots,
                        )
                    };
                    let mut r = fetch().await;
                    // A damaged body (truncated by a proxy, corrupted) is fetched once more.
                    if matches!(&r, Err(DownloadError::Remote(RemoteError::Integrity(_)))) {
                        tally.restart(dest);
                        r = fetch().await;
                    }
                    (i, r)
                }
            };
            let mut fetched = stream::iter(local_jobs)
                .map(&run)
                .buffer_unordered(local_parallel)
                .chain(
                    stream::iter(remote_jobs)
                        .map(&run)
                        .buffer_unordered(parallel),
                );
            while let Some(done) = fetched.next().await {
                if done.1.is_ok() {
                    let p = tally.file_done(jobs[done.0].dest, jobs[done.0].entry.size);
                    self.emit_progress(folder, p);
                }
                results.push(done);
            }
        }
        // Local I/O failures (a disk filled up by a big file in parallel, say) are tried once
        // more one at a time, smallest first, once the failed transfers' temporary files are
        // gone: what fits still lands.
        let mut again: Vec<usize> = (0..results.len())
            .filter(|&i| matches!(results[i].1, Err(DownloadError::Io(_))))
            .collect();
        again.sort_by_key(|&i| jobs[results[i].0].entry.size);
        for i in again {
            let Job {
                dest,
                entry,
                expected,
                ..
            } = jobs[results[i].0];
            let keep = keep.contains(dest);
            tally.restart(dest);
            tally.start(dest);
            let on_chunk = |n: u64| {
                if let Some(p) = tally.bytes(dest, n) {
                    self.emit_progress(folder, p);
                }
            };
            let r = download::download_file(
                store,
                &root,
                dest,
                entry,
                expected,
                keep,
                &packs,
                &on_chunk,
                &download::RequestSlots::new(1),
            )
            .await;
            if r.is_ok() {
                let p = tally.file_done(dest, entry.size);
                self.emit_progress(folder, p);
            }
            results[i].1 = r;
        }
        for pack in packs.values() {
            let _ = tokio::fs::remove_file(&pack.file).await;
        }
        // The renames made durable before the base records them (one flush per folder).
        let placed: Vec<RelPath> = results
            .iter()
            .filter(|r| r.1.is_ok())
            .map(|r| jobs[r.0].dest.clone())
            .collect();
        download::sync_folders(&root, placed).await;
        let mut fatal: Option<SyncError> = None;
        exec.base_from_plan.reserve(results.len());
        for (i, r) in results {
            let Job {
                dest,
                entry,
                expected,
                action,
            } = jobs[i];
            if r.is_err() {
                let p = exec.tally.file_failed(dest, entry.size, false);
                self.emit_progress(folder, p);
            }
            if r.is_err() && copies.contains(dest) {
                exec.copies_not_here.insert(dest.clone());
            }
            match r {
                Ok(kept) => {
                    if let Some(in_trash) = kept {
                        exec.trashed.push(crate::journal::TrashRecord {
                            path: dest.clone(),
                            in_trash,
                            at: unix_now(),
                            reason: crate::journal::TrashReason::Replaced,
                            device: Some(entry.device.to_string()),
                            size: expected.map_or(0, |e| e.size),
                        });
                    }
                    exec.summary.downloaded += 1;
                    exec.summary.bytes_down += entry.size;
                    self.emit(SyncEvent::Downloaded {
                        folder: folder.path.clone(),
                        path: dest.to_string(),
                        bytes: entry.size,
                    });
                    if !copies.contains(dest) {
                        match action {
                            Some(k) => exec.base_from_plan.push(k),
                            None => exec.base_upserts.push(entry.clone()),
                        }
                    }
                }
                Err(DownloadError::LocalChanged(p)) => {
                    exec.failed_files += 1;
                    info!(path = %p, "changed locally during the download; next sync");
                }
                Err(DownloadError::Remote(e)) if is_fatal(&e) => {
                    fatal.get_or_insert(SyncError::Remote(e));
                }
                Err(DownloadError::Io(e)) if crate::in_use::is_in_use(&e) => {
                    exec.failed_files += 1;
                    exec.in_use.insert(dest.clone());
                    warn!(path = %dest, "not replaced: {}", crate::in_use::IN_USE_REASON);
                }
                Err(e) => {
                    exec.failed_files += 1;
                    warn!(path = %dest, error = %e, "download failed; retried next sync");
                }
            }
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub(super) async fn prefetch_packs<'a>(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        entries: impl Iterator<Item = &'a FileEntry>,
    ) -> Result<HashMap<BlobName, Arc<PackCache>>, SyncError> {
        let wanted = download::packs_to_prefetch(entries);
        let root = folder.path.clone();
        let fetched: Vec<_> = stream::iter(wanted)
            .map(|(blob, (start, end))| {
                let root = &root;
                async move {
                    let r = download::prefetch_pack(store, root, &blob, start, end).await;
                    (blob, r)
                }
            })
            .buffer_unordered(PACKS_IN_FLIGHT)
            .collect()
            .await;
        let mut out = HashMap::new();
        for (blob, r) in fetched {
            match r {
                Ok(cache) => {
                    out.insert(blob, Arc::new(cache));
                }
                Err(DownloadError::Remote(e)) if is_fatal(&e) => {
                    for c in out.values() {
                        let c: &Arc<PackCache> = c;
                        let _ = std::fs::remove_file(&c.file);
                    }
                    return Err(SyncError::Remote(e));
                }
                // The files of this pack fall back to one ranged request each.
                Err(e) => warn!(blob = %blob, error = %e, "could not prefetch a pack"),
            }
        }
        Ok(out)
    }
}
