//! The upload pass: what the plan publishes, chunks and packs sent (re-using what the page
//! already holds), and the entries for the commit.

use futures::stream::FuturesUnordered;

use super::*;
use crate::remote::BlobInfo;

/// Packs read at once, each on its own blocking thread.
const PACK_BUILDERS: usize = 2;
/// Members a pack reads in one blocking task (a pack of 100,000 tiny files reads in several).
const FILL_BATCH: usize = 1024;
/// Scan-cache rows of files hashed as they were packed, written at a time.
const ROW_BATCH: usize = 8192;
/// A narrow sync looks for chunks the page holds outside its paths (a pass over the journal's
/// remote cache) when this many bytes are left to send without them: about what that pass
/// costs at 100,000 tracked files, against sending them over a slow line.
pub(super) const NARROW_LOOKUP_FROM: u64 = 1 << 20;

impl Syncer {
    /// Send what the plan publishes; returns the entries for the commit.
    ///
    /// `actions` (the plan) and `hashes` (the scan's) are the pass's own: each file to send
    /// takes its chunk list from its scan row, and both are let go once the files to send are
    /// listed, before anything is read or sent (issue 15). `whole_tree` false: `remote`
    /// holds only a narrow sync's paths (see `narrow`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn upload_all(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        actions: Vec<Action>,
        mut hashes: crate::journal::ScanRows,
        remote: &RemoteTree,
        whole_tree: bool,
        exec: &mut Execution,
    ) -> Result<Vec<FileEntry>, SyncError> {
        let now_ns = unix_now_ns();
        let mut entries: Vec<FileEntry> = Vec::new();
        // Sized once: 100,000 new files would otherwise leave the vector at up to twice
        // their size, and copy it while it grows (issue 15).
        let sending = actions
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Action::Upload { .. }
                        | Action::ConflictLocalWins { .. }
                        | Action::ConflictRemoteWins { .. }
                )
            })
            .count();
        // Each file with the version it is published at (its entry is made from both once
        // its chunks are on the page).
        let mut files: Vec<(FileToSend, u64)> = Vec::with_capacity(sending);
        let device = crate::manifest::device_name(&self.device);
        // Which files the scan may have left unhashed: those the upload can hash.
        let by_upload = upload::HashedOnUpload::new(&self.settings, true);
        let add_upload = |path: &RelPath,
                          local: &LocalEntry,
                          version: u64,
                          hashes: Option<crate::journal::CachedHash>,
                          entries: &mut Vec<FileEntry>,
                          files: &mut Vec<(FileToSend, u64)>| {
            match (local.kind, local.sha256, hashes) {
                (EntryKind::Dir, _, _) => entries.push(FileEntry {
                    path: path.clone(),
                    kind: EntryKind::Dir,
                    deleted: false,
                    size: 0,
                    mtime_ns: local.mtime_ns,
                    sha256: None,
                    version,
                    device: device.clone(),
                    chunks: Default::default(),
                }),
                (EntryKind::File, Some(sha256), Some(h)) => files.push((
                    FileToSend {
                        path: path.clone(),
                        size: local.size,
                        sha256,
                        hashed: true,
                        mtime_ns: local.mtime_ns,
                        inode: h.inode,
                        chunks: h.chunks,
                    },
                    version,
                )),
                // Left unhashed by the scan (see `hash_later`): sent whole or streamed,
                // hashed as read.
                (EntryKind::File, None, None) if by_upload.takes(local.size) => files.push((
                    FileToSend {
                        path: path.clone(),
                        size: local.size,
                        sha256: Digest([0; 32]),
                        hashed: false,
                        mtime_ns: local.mtime_ns,
                        inode: 0,
                        chunks: Vec::new(),
                    },
                    version,
                )),
                (EntryKind::File, _, _) => {
                    warn!(path = %path, "no hashes for a file to upload; next sync");
                }
            }
        };
        for a in &actions {
            match a {
                Action::Upload {
                    path,
                    local,
                    version,
                } => add_upload(
                    path,
                    local,
                    *version,
                    hashes.take(path),
                    &mut entries,
                    &mut files,
                ),
                Action::ConflictLocalWins {
                    path,
                    copy,
                    entry,
                    local,
                    version,
                } => {
                    add_upload(
                        path,
                        local,
                        *version,
                        hashes.take(path),
                        &mut entries,
                        &mut files,
                    );
                    // The remote version lives on under `copy`, re-using its chunks.
                    let mut kept = entry.clone();
                    kept.path = copy.clone();
                    kept.version = 1;
                    entries.push(*kept);
                    exec.summary.conflicts += 1;
                    self.emit(SyncEvent::Conflict {
                        folder: folder.path.clone(),
                        path: path.to_string(),
                        copy: copy.to_string(),
                    });
                }
                Action::ConflictRemoteWins {
                    path,
                    copy,
                    local,
                    entry,
                } => {
                    // A folder the remote does not hold (deleted there while something was
                    // added inside) is published with the copy.
                    let live_there = remote.files.get(path).is_some_and(|e| !e.deleted);
                    if exec.moved.contains_key(copy) && entry.kind == EntryKind::Dir && !live_there
                    {
                        entries.push((**entry).clone());
                    }
                    if exec.moved.contains_key(copy) {
                        add_upload(
                            copy,
                            local,
                            1,
                            exec.moved_hashes.get(copy).cloned(),
                            &mut entries,
                            &mut files,
                        );
                    }
                }
                Action::DeleteRemote { tombstone, .. } => {
                    let mut t = tombstone.clone();
                    t.mtime_ns = now_ns;
                    entries.push(t);
                    exec.summary.deleted_remote += 1;
                }
                Action::RenameRemote {
                    path,
                    from,
                    entry,
                    tombstone,
                    ..
                } => {
                    // The same entry (same blobs) under the new name, and the old name gone:
                    // a rename on the page, nothing sent again.
                    entries.push((**entry).clone());
                    let mut t = tombstone.clone();
                    t.mtime_ns = now_ns;
                    entries.push(*t);
                    exec.renamed_remote.insert(from.clone(), path.clone());
                    info!(from = %from, to = %path, "renamed on the page: the name clashes with another on this disk");
                }
                Action::Download { .. }
                | Action::DeleteLocal { .. }
                | Action::Evict { .. }
                | Action::RecordBase { .. }
                | Action::ForgetBase { .. } => {}
            }
        }
        drop((actions, hashes));

        // Where each chunk can already be found: the remote tree, then blobs this device sent
        // in an earlier, interrupted sync. Only the chunks of the files to send are looked
        // for: an index of every chunk on the page cost 13 MB at 100,000 files, for a sync
        // that sends one file or none (issue 15).
        let mut needed: HashSet<Digest> = files
            .iter()
            .flat_map(|(f, _)| f.chunks.iter().map(|c| c.sha256))
            .collect();
        let mut index: ChunkIndex = HashMap::new();
        if !needed.is_empty() {
            upload::index_page_chunks(remote, &needed, &mut index);
        }
        let id = folder.id;
        // What the index does not hold must be sent (or found among earlier uploads).
        needed.retain(|d| !index.contains_key(d));
        // A narrow tree holds only the sync's own paths: a copy of a file that lives elsewhere
        // on the page (one another device sent, or this one long ago) is found in the
        // journal's remote cache, the page as this sync read it.
        if !whole_tree && left_to_send(&files, &needed) >= self.narrow_lookup_from {
            let wanted = needed.clone();
            let found = self
                .with_journal(move |j| j.remote_chunks_among(id, &wanted))
                .await?;
            debug!(
                chunks = found.len(),
                "chunks found on the page outside the narrow tree"
            );
            if !found.is_empty() {
                self.narrow_tries
                    .found_outside
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            for (d, r) in found {
                needed.remove(&d);
                index.entry(d).or_insert(r);
            }
        }
        let known = self.with_journal(move |j| j.known_blobs(id)).await?;
        let wanted = needed;
        let mut gone: Vec<BlobName> = Vec::new();
        for (name, info) in &known {
            let Some(d) = name
                .as_str()
                .strip_prefix("c-")
                .and_then(|h| Digest::from_hex(h).ok())
            else {
                continue;
            };
            if !wanted.contains(&d) {
                continue;
            }
            // Sent in an earlier, interrupted sync: still there? (It may have been garbage
            // collected since; then it is simply sent again.)
            match store.find_blob(name).await {
                Ok(Some(found)) if found.size == info.size => {
                    index.entry(d).or_insert_with(|| ChunkRef {
                        sha256: d,
                        size: info.size,
                        blob: name.clone(),
                        offset: 0,
                    });
                }
                Ok(_) => gone.push(name.clone()),
                Err(e) if is_fatal(&e) => return Err(SyncError::Remote(e)),
                Err(e) => debug!(blob = %name, error = %e, "could not check a blob sent earlier"),
            }
        }
        if !gone.is_empty() {
            self.with_journal(move |j| j.forget_blobs(id, &gone))
                .await?;
        }
        // Chunks of big files packed in an earlier, interrupted sync: resumed, not sent again.
        let resumed = self.reuse_packed_chunks(id, store, &index, &wanted).await?;
        for r in resumed {
            index.entry(r.sha256).or_insert(r);
        }
        // Each list below is let go as soon as its step is done: the entries are assembled
        // beside the files to send, where a first sync of 100,000 files peaked (issue 15).
        drop(wanted);

        // Big files: their missing chunks, in parallel (cut at the chunk size), or in packs
        // (cut by content). Pack members: small files whole (`None`) or one chunk (`Some`).
        let chunking =
            crate::chunk::Chunking::new(self.settings.chunk_size, self.settings.delta_chunk_size);
        let mut chunk_jobs: Vec<(usize, usize)> = Vec::new();
        let mut pack_members: Vec<(usize, Option<usize>)> = Vec::with_capacity(files.len());
        let mut resolved: HashMap<usize, Vec<ChunkRef>> = HashMap::new();
        // A chunk that repeats (in one file or in several) is packed once.
        let mut packed_chunks: HashSet<Digest> = HashSet::new();
        let mut resolved_later: Vec<usize> = Vec::new();
        // New files cut by content the scan left unhashed: read, hashed and packed in one
        // pass each, once the other packs are sent, into packs they share with each other
        // (`upload_stream.rs`).
        let mut streamed: Vec<usize> = Vec::new();
        for (i, (f, _)) in files.iter().enumerate() {
            if !f.hashed {
                // No file on the page has its size (`hash_later`): a small one has nothing to
                // re-use; a big one's chunks are looked up as it is read.
                match by_upload.sent_whole(f.size) {
                    true => pack_members.push((i, None)),
                    false => streamed.push(i),
                }
                continue;
            }
            let by_content = chunking.content_for(f.size).is_some();
            match upload::plan_send(f, &index, self.settings.pack_threshold, by_content) {
                SendPlan::Ready(refs) => {
                    resolved.insert(i, refs);
                }
                SendPlan::Pack => pack_members.push((i, None)),
                SendPlan::Chunks { missing } => {
                    chunk_jobs.extend(missing.into_iter().map(|c| (i, c)));
                }
                SendPlan::PackChunks { missing } => {
                    let before = pack_members.len();
                    pack_members.extend(
                        missing
                            .into_iter()
                            .filter(|&c| packed_chunks.insert(f.chunks[c].sha256))
                            .map(|c| (i, Some(c))),
                    );
                    if pack_members.len() == before {
                        // Every missing chunk is packed for another file already.
                        resolved_later.push(i);
                    }
                }
            }
        }
        drop(packed_chunks);
        // What each file adds to the page: its missing chunks, or all of it in a pack.
        let mut need: Vec<u64> = vec![0; files.len()];
        let mut chunks_left: Vec<usize> = vec![0; files.len()];
        for &(i, c) in &chunk_jobs {
            need[i] += files[i].0.chunks.get(c).map_or(0, |c| c.size);
            chunks_left[i] += 1;
        }
        for &i in &streamed {
            need[i] = files[i].0.size;
        }
        for &(i, c) in &pack_members {
            match c {
                None => need[i] = files[i].0.size,
                Some(c) => {
                    need[i] += files[i].0.chunks.get(c).map_or(0, |c| c.size);
                    chunks_left[i] += 1;
                }
            }
        }
        let file_of: HashMap<&RelPath, usize> = files
            .iter()
            .enumerate()
            .map(|(i, (f, _))| (&f.path, i))
            .collect();
        let tally = &exec.tally;
        let exact = tally.uploads_are(crate::progress::totals::Amount {
            files: files.len() as u64,
            bytes: need.iter().sum(),
        });
        self.emit_progress(folder, exact);
        for i in resolved.keys().chain(&resolved_later) {
            // Every chunk is on the page already (or on its way for another file): nothing
            // to send.
            let p = tally.file_done(&files[*i].0.path, 0);
            self.emit_progress(folder, p);
        }
        let root = folder.path.clone();
        let mut failed: HashSet<usize> = HashSet::new();
        let mut fatal: Option<SyncError> = None;
        let mut bytes_up = 0;
        let mut in_use: Vec<RelPath> = Vec::new();
        {
            let files_ref = &files;
            let root_ref = &root;
            let mut sent = stream::iter(chunk_jobs)
                .map(|(i, c)| async move {
                    tally.start(&files_ref[i].0.path);
                    let r = upload::send_chunk(store, root_ref, &files_ref[i].0, c).await;
                    (i, r)
                })
                .buffer_unordered(self.settings.parallel_transfers.max(1));
            while let Some((i, r)) = sent.next().await {
                match r {
                    Ok((info, chunk)) => {
                        let path = &files_ref[i].0.path;
                        let update = tally.bytes(path, chunk.size);
                        bytes_up += chunk.size;
                        index.insert(chunk.sha256, chunk);
                        let info2 = info.clone();
                        self.with_journal(move |j| j.add_known_blobs(id, &[info2]))
                            .await?;
                        chunks_left[i] = chunks_left[i].saturating_sub(1);
                        if chunks_left[i] == 0 && !failed.contains(&i) {
                            self.emit_progress(folder, tally.file_done(path, need[i]));
                        } else if let Some(p) = update {
                            self.emit_progress(folder, p);
                        }
                    }
                    Err(e) if is_fatal(&e) => {
                        fatal.get_or_insert(SyncError::Remote(e));
                    }
                    Err(e) => {
                        warn!(path = %files_ref[i].0.path, error = %e, "upload failed; retried next sync");
                        if is_in_use(&e) {
                            in_use.push(files_ref[i].0.path.clone());
                        }
                        if failed.insert(i) {
                            let p = tally.file_failed(&files_ref[i].0.path, need[i], true);
                            self.emit_progress(folder, p);
                        }
                    }
                }
            }
        }
        exec.summary.bytes_up += bytes_up;
        exec.in_use.extend(in_use);
        if let Some(e) = fatal {
            return Err(e);
        }

        // Small files and the chunks of big files cut by content: packs, grouped by the sizes
        // the scan saw. Each pack's members are read and checked on one blocking thread; up
        // to PACK_BUILDERS packs are read at once (on two cores, reading and hashing one pack
        // at a time was the bound of 1,000 small files and of a 1 GiB file, issue 15) while
        // full ones go on their way, at most PACKS_IN_FLIGHT + 1 buffers resident.
        // Each whole file's place in its pack, by file (a table keyed by path was half again
        // its size, and grew by doubling while 100,000 members came in, issue 15).
        let mut pack_refs: Vec<Option<ChunkRef>> = Vec::new();
        if pack_members.iter().any(|(_, c)| c.is_none()) {
            pack_refs.resize(files.len(), None);
        }
        // A pack is closed once it reaches its target; a whole file (at most the pack
        // threshold) may take it past.
        let pack_room = self
            .settings
            .pack_target
            .saturating_add(self.settings.pack_threshold);
        // Where each packed chunk starts in its file, summed once per file (summed again for
        // every chunk, the offsets of a file of 50,000 chunks cost more than a billion
        // additions).
        let mut chunk_starts: HashMap<usize, Vec<u64>> = HashMap::new();
        for &(i, c) in &pack_members {
            if c.is_some() {
                chunk_starts.entry(i).or_insert_with(|| {
                    files[i]
                        .0
                        .chunks
                        .iter()
                        .scan(0u64, |at, ch| {
                            let start = *at;
                            *at += ch.size;
                            Some(start)
                        })
                        .collect()
                });
            }
        }
        let groups = upload::group_into_packs(&pack_members, self.settings.pack_target, |i, c| {
            let f = &files[i].0;
            c.and_then(|c| f.chunks.get(c)).map_or(f.size, |c| c.size)
        });
        {
            let buffers = PackBuffers::default();
            let mut groups = groups.into_iter();
            let mut building = FuturesUnordered::new();
            let mut in_flight = FuturesUnordered::new();
            let mut chunks_sent: Vec<(RelPath, u64)> = Vec::new();
            loop {
                while building.len() < PACK_BUILDERS
                    && building.len() + in_flight.len() <= PACKS_IN_FLIGHT
                {
                    let Some(group) = groups.next() else { break };
                    let members = &pack_members[group];
                    // The chunks of a file whose earlier chunk changed wait with it (next sync).
                    let skip: HashSet<usize> = members
                        .iter()
                        .filter(|&&(i, c)| c.is_some() && failed.contains(&i))
                        .map(|&(i, _)| i)
                        .collect();
                    let Some(&(first, _)) = members.first() else {
                        continue;
                    };
                    exec.tally.start(&files[first].0.path);
                    let (files, root, buffers) = (&files, &root, &buffers);
                    let chunk_starts = &chunk_starts;
                    building.push(async move {
                        // Read in batches: 100,000 tiny files make one pack, and their reads
                        // described all at once were 17 MB.
                        let mut pack = PackBuilder::with_room(pack_room, buffers);
                        let mut refused = Vec::new();
                        for batch in members.chunks(FILL_BATCH) {
                            let reads: Vec<_> = batch
                                .iter()
                                .filter(|(i, c)| c.is_none() || !skip.contains(i))
                                .map(|&(i, c)| {
                                    let f = &files[i].0;
                                    match c {
                                        None => upload::MemberRead::whole(i, f),
                                        Some(c) => upload::MemberRead::chunk(
                                            i,
                                            f,
                                            c,
                                            chunk_starts
                                                .get(&i)
                                                .and_then(|s| s.get(c))
                                                .copied()
                                                .unwrap_or_else(|| upload::chunk_offset(f, c)),
                                        ),
                                    }
                                })
                                .collect();
                            if reads.is_empty() {
                                continue;
                            }
                            let (filled, r) = pack.fill(root, reads).await;
                            pack = filled;
                            refused.extend(r);
                        }
                        (pack, refused)
                    });
                }
                if building.is_empty() && in_flight.is_empty() {
                    break;
                }
                tokio::select! {
                    Some((pack, refused)) = building.next(), if !building.is_empty() => {
                        for (i, e) in refused {
                            let first = failed.insert(i);
                            self.left_for_next_sync(&files[i].0.path, &e, first, need[i], exec, folder);
                        }
                        if !pack.is_empty() {
                            in_flight.push(pack.send(store));
                        }
                    }
                    Some(r) = in_flight.next(), if !in_flight.is_empty() => {
                        let done = self
                            .pack_sent(r, &mut pack_refs, &file_of, &mut index, exec, folder)
                            .await?;
                        chunks_sent.extend(done);
                    }
                }
                // Chunks of big files count as they are sent; a file is done with its last one.
                for (path, n) in chunks_sent.drain(..) {
                    self.chunk_packed(
                        &path,
                        n,
                        &file_of,
                        &mut chunks_left,
                        &need,
                        &failed,
                        exec,
                        folder,
                    );
                }
            }
        }

        // The new files cut by content, one after another into shared packs (each reads on
        // three threads).
        let mut hashed_now: Vec<(usize, crate::chunk::FileHashes)> = Vec::new();
        if !streamed.is_empty() {
            let have = chunks_not_to_stream(remote, &index);
            let to_read: Vec<FileToSend> = streamed.iter().map(|&i| files[i].0.clone()).collect();
            let read = self
                .send_streamed(
                    folder,
                    store,
                    to_read,
                    have,
                    &mut pack_refs,
                    &file_of,
                    &mut index,
                    exec,
                )
                .await?;
            for (&i, read) in streamed.iter().zip(read) {
                let f = &files[i].0;
                match read {
                    Ok(h) => {
                        self.streamed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let p = exec.tally.file_done(&f.path, need[i]);
                        self.emit_progress(folder, p);
                        hashed_now.push((i, h));
                    }
                    Err(e) => {
                        let first = failed.insert(i);
                        self.left_for_next_sync(&f.path, &e, first, need[i], exec, folder);
                    }
                }
            }
        }

        drop((pack_members, file_of, need, chunks_left, chunk_starts));

        // The streamed files' hashes: theirs from now on, in their scan-cache rows (the next
        // scan finds them), and the page's chunks they re-use in the index.
        if !hashed_now.is_empty() {
            let mut missing: HashSet<Digest> = HashSet::new();
            for (i, h) in &hashed_now {
                let f = &mut files[*i].0;
                f.sha256 = h.sha256;
                f.chunks = h.chunks.clone();
                f.inode = h.inode;
                f.hashed = true;
                missing.extend(
                    h.chunks
                        .iter()
                        .map(|c| c.sha256)
                        .filter(|d| !index.contains_key(d)),
                );
            }
            if !missing.is_empty() {
                upload::index_page_chunks(remote, &missing, &mut index);
            }
            let rows: Vec<(RelPath, crate::journal::CachedHash)> = hashed_now
                .into_iter()
                .map(|(i, h)| {
                    (
                        files[i].0.path.clone(),
                        crate::scan::row_hashed_on_upload(h),
                    )
                })
                .collect();
            self.with_journal(move |j| {
                j.update_scan_cache_from(id, rows.iter().map(|(p, r)| (p, r)), &[])
            })
            .await?;
        }

        // Assemble the entries (room made once: grown by doubling, 100,000 entries left the
        // list a third larger than them, into the commit, issue 15).
        entries.reserve_exact(files.len());
        for (i, (f, version)) in files.into_iter().enumerate() {
            if failed.contains(&i) {
                exec.failed_files += 1;
                continue;
            }
            let refs = if let Some(r) = resolved.remove(&i) {
                r
            } else if let Some(r) = pack_refs.get_mut(i).and_then(Option::take) {
                vec![r]
            } else {
                let refs: Option<Vec<ChunkRef>> = f
                    .chunks
                    .iter()
                    .map(|c| index.get(&c.sha256).cloned())
                    .collect();
                match refs {
                    Some(r) => r,
                    None => {
                        exec.failed_files += 1;
                        continue;
                    }
                }
            };
            let sha256 = match (f.hashed, refs.as_slice()) {
                (true, _) => f.sha256,
                // Hashed as it was packed, whole: its one chunk is the file.
                (false, [only]) if only.size == f.size => only.sha256,
                (false, _) => {
                    warn!(path = %f.path, "a file hashed on upload was not sent whole; next sync");
                    exec.failed_files += 1;
                    continue;
                }
            };
            entries.push(FileEntry {
                kind: EntryKind::File,
                deleted: false,
                size: f.size,
                mtime_ns: f.mtime_ns,
                sha256: Some(sha256),
                version,
                device: device.clone(),
                chunks: refs.into(),
                path: f.path,
            });
        }
        // Names renamed, counted once per folder moved with everything in it.
        exec.summary.case_renamed = exec
            .renamed_remote
            .keys()
            .filter(|from| {
                !from
                    .ancestors()
                    .any(|a| exec.renamed_remote.contains_key(a))
            })
            .count() as u64;
        let renamed_to: HashSet<&RelPath> = exec.renamed_remote.values().collect();
        for e in &entries {
            if !e.deleted && !renamed_to.contains(&e.path) {
                exec.summary.uploaded += 1;
                self.emit(SyncEvent::Uploaded {
                    folder: folder.path.clone(),
                    path: e.path.to_string(),
                    bytes: e.size,
                });
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// Record a pack that was sent (or fail the sync with its error): whole small files go to
    /// `refs` (and are done), chunks of big files to `index`; returns those chunks (path and
    /// size) for [`Syncer::chunk_packed`].
    pub(super) async fn pack_sent(
        &self,
        result: Result<(BlobInfo, Vec<upload::Packed>), RemoteError>,
        refs: &mut [Option<ChunkRef>],
        file_of: &HashMap<&RelPath, usize>,
        index: &mut upload::ChunkIndex,
        exec: &mut Execution,
        folder: &FolderRecord,
    ) -> Result<Vec<(RelPath, u64)>, SyncError> {
        let (info, members) = result.map_err(SyncError::Remote)?;
        let id = folder.id;
        exec.summary.bytes_up += info.size;
        self.remember_packed_chunks(id, &info, &members).await?;
        // The files the scan left unhashed, hashed as they were packed: their cache rows, so
        // that the next scan finds them (made and written a batch at a time: a pack of
        // 100,000 tiny files held a row for each while it was read, 16 MB, issue 15).
        for batch in members.chunks(ROW_BATCH) {
            let rows: Vec<(RelPath, crate::journal::CachedHash)> = batch
                .iter()
                .filter_map(|m| m.cache_row().map(|r| (m.path.clone(), r)))
                .collect();
            if !rows.is_empty() {
                self.with_journal(move |j| {
                    j.update_scan_cache_from(id, rows.iter().map(|(p, r)| (p, r)), &[])
                })
                .await?;
            }
        }
        self.with_journal(move |j| j.add_known_blobs(id, &[info]))
            .await?;
        let mut chunks = Vec::new();
        for m in members {
            if m.whole_file {
                let p = exec.tally.file_done(&m.path, m.chunk.size);
                self.emit_progress(folder, p);
                if let Some(slot) = file_of.get(&m.path).and_then(|&i| refs.get_mut(i)) {
                    *slot = Some(m.chunk);
                }
            } else {
                chunks.push((m.path, m.chunk.size));
                index.insert(m.chunk.sha256, m.chunk);
            }
        }
        Ok(chunks)
    }

    /// A file whose bytes were not sent this time (changed since the scan, in use, gone):
    /// said in the log, and — `first` time it fails in this pass — counted as failed with
    /// the `need` bytes it will not send; a file another program holds is reported.
    fn left_for_next_sync(
        &self,
        path: &RelPath,
        e: &RemoteError,
        first: bool,
        need: u64,
        exec: &mut Execution,
        folder: &FolderRecord,
    ) {
        info!(path = %path, error = %e, "not sent this time");
        if is_in_use(e) {
            exec.in_use.insert(path.clone());
        }
        if first {
            let p = exec.tally.file_failed(path, need, true);
            self.emit_progress(folder, p);
        }
    }

    /// A chunk of `path` (`n` bytes) was sent in a pack: its bytes count, and the file is done
    /// with its last chunk.
    #[allow(clippy::too_many_arguments)]
    fn chunk_packed(
        &self,
        path: &RelPath,
        n: u64,
        file_of: &HashMap<&RelPath, usize>,
        chunks_left: &mut [usize],
        need: &[u64],
        failed: &HashSet<usize>,
        exec: &Execution,
        folder: &FolderRecord,
    ) {
        let Some(&i) = file_of.get(path) else { return };
        chunks_left[i] = chunks_left[i].saturating_sub(1);
        if failed.contains(&i) {
            return;
        }
        // Its bytes were on the wire in the pack just sent: it is the file in transfer.
        exec.tally.start(path);
        if chunks_left[i] == 0 {
            self.emit_progress(folder, exec.tally.file_done(path, need[i]));
        } else if let Some(p) = exec.tally.bytes(path, n) {
            self.emit_progress(folder, p);
        }
    }
}

/// The chunks a streamed file need not send: those of the page's files cut in several (an
/// edited copy of a big file shares most of them; a file of one chunk is no content a new big
/// file's chunk is likely to have, and 100,000 small files would cost an entry each), and
/// those this pass placed already.
fn chunks_not_to_stream(remote: &RemoteTree, index: &ChunkIndex) -> HashSet<Digest> {
    let mut have: HashSet<Digest> = index.keys().copied().collect();
    for e in remote
        .files
        .values()
        .filter(|e| !e.deleted && e.chunks.len() > 1)
    {
        have.extend(e.chunks.iter().map(|c| c.sha256));
    }
    have
}

/// A local read failed because another program holds the file.
fn is_in_use(e: &RemoteError) -> bool {
    matches!(e, RemoteError::Io(io) if crate::in_use::is_in_use(io))
}

/// Bytes of the files' chunks in `needed` (a chunk counted each time a file lists it).
fn left_to_send(files: &[(FileToSend, u64)], needed: &HashSet<Digest>) -> u64 {
    files
        .iter()
        .flat_map(|(f, _)| f.chunks.iter())
        .filter(|c| needed.contains(&c.sha256))
        .map(|c| c.size)
        .sum()
}
