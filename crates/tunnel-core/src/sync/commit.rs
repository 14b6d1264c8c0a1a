//! The commit: the file list written in parts, the head moved with a compare-and-swap, the
//! base recorded, the commit's new references checked, and garbage collection.

use super::*;
use crate::remote::HeadState;

impl Syncer {
    /// Publish `entries` as the next delta and move the head with a compare-and-swap.
    ///
    /// `view` is taken whole: its tree becomes the tree after this commit in place (issue 15:
    /// a copy of a 100,000-entry tree per commit was most of a one-change sync's peak). A head
    /// that moved meanwhile fails the compare-and-swap, and the caller reads the page again.
    ///
    /// `whole_tree` false: `view.tree` holds only a narrow sync's paths (see `narrow`). The
    /// delta, the references it introduces and whether it drops any are judged on those
    /// paths alone (every entry published is among them); what needs every entry — a new
    /// snapshot, garbage collection, the late check of earlier commits' blobs — reads the
    /// whole tree from the journal's cache when it runs, and only then.
    ///
    /// `store` is the attempt's [`fresh_blobs::Recording`]: what its uploads (and this
    /// commit's file-list parts) created is spared the check right after the commit when the
    /// compare-and-swap follows the upload closely enough (see [`fresh_blobs`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit(
        &self,
        folder: &FolderRecord,
        store: &fresh_blobs::Recording<'_>,
        mut view: remote_state::RemoteView,
        mut whole_tree: bool,
        entries: Vec<FileEntry>,
        not_here: &HashSet<RelPath>,
        renamed: &HashMap<RelPath, RelPath>,
    ) -> Result<HeadState, SyncError> {
        // Committing on a history we could not trust (restored page, rewritten history):
        // start a new generation with a full snapshot, so every other device notices and
        // re-reads instead of applying our delta on top of a different past.
        let fresh_generation = view.head.is_some() && !view.base_trusted;
        let id = folder.id;
        if !whole_tree && self.commit_compacts(&view, &entries)? {
            // A new snapshot lists every entry: the whole tree, from the cache the narrow
            // sync brought to this very head.
            let (g, s) = (view.tree.generation.clone(), view.tree.seq);
            let cached = self.with_journal(move |j| j.remote_cache(id)).await?;
            match cached {
                Some(t) if t.generation == g && t.seq == s => {
                    view.tree = t;
                    whole_tree = true;
                }
                // Another sync moved the cache: plan again (in full).
                _ => {
                    self.with_journal(move |j| j.forget_remote_cache(id))
                        .await?;
                    return Err(RemoteError::Conflict { current: None }.into());
                }
            }
        }
        // What this commit adds to the page's references (checked after the head moved), and
        // whether it drops any: judged against the tree before it.
        let mut introduced = verify::introduced(&entries, &view.tree);
        let removes_references = entries.iter().any(|e| {
            view.tree
                .files
                .get(&e.path)
                .is_some_and(|old| !old.chunks.is_empty() && old.chunks != e.chunks)
        });
        let from_seq = view.tree.seq;
        let seq = from_seq + 1;
        let mut tree = view.tree;
        if fresh_generation {
            tree.generation = uuid::Uuid::new_v4().to_string();
            info!("starting a new remote generation after a rewritten history");
        }
        let generation = tree.generation.clone();
        let mut delta = Delta {
            format: FORMAT_VERSION,
            generation: generation.clone(),
            seq,
            device: self.device.clone(),
            entries,
        };
        tree.apply_delta_ref(&delta)?;

        let mut head = match &view.head {
            Some(h) if !fresh_generation => h.clone(),
            _ => Head {
                history: None,
                format: FORMAT_VERSION,
                generation: generation.clone(),
                seq: 0,
                snapshot: None,
                deltas: Vec::new(),
            },
        };
        head.seq = seq;
        // A commit that writes the page's first snapshot (a first upload, a new generation:
        // no snapshot on the page yet) lists the tree, which holds every entry of the delta
        // now, and never writes the delta itself: the delta's list is let go before the parts
        // are made, and what the journal needs of it is read from the tree by path (issue 15:
        // a first sync of 100,000 files held them twice at its peak).
        let first_snapshot: Option<Vec<RelPath>> =
            (whole_tree && head.snapshot.is_none()).then(|| {
                std::mem::take(&mut delta.entries)
                    .into_iter()
                    .map(|e| e.path)
                    .collect()
            });
        // The delta in parts, or a new snapshot in parts (format 2): every part below the
        // chunk size the server accepts and the readers' cap, the head below its limit.
        let written = file_list::write_file_list(
            store,
            &head,
            &delta,
            whole_tree.then_some(&tree),
            unix_now_ns() - TOMBSTONE_KEEP_NS,
            self.part_limits(),
            file_list::HistoryPolicy {
                now_ms: unix_now_ns() / 1_000_000,
                keep_ms: self.history_keep_ms(&folder.path),
            },
        )
        .await?;
        let head = written.head;
        let compacting = written.compacted;
        // The file list's own parts are new references too; the small ones can be restored
        // from memory (they exist nowhere on disk).
        let mut known_bytes: HashMap<BlobName, bytes::Bytes> = HashMap::new();
        for (name, bytes) in written.parts {
            introduced.insert(name.clone());
            if let Some(b) = bytes {
                known_bytes.insert(name, b);
            }
        }
        let head_value = head.to_value();
        let head_version = store.write_head(&head_value, view.head_version).await?;
        // The entries published: the delta's, or those the first snapshot holds at its paths.
        let entries: Vec<&FileEntry> = match &first_snapshot {
            Some(paths) => paths.iter().filter_map(|p| tree.files.get(p)).collect(),
            None => delta.entries.iter().collect(),
        };
        info!(seq, entries = entries.len(), "committed");
        let written_head = HeadState {
            value: head_value.clone(),
            version: head_version,
        };
        // What no collector can have trashed yet: blobs this attempt's own uploads created,
        // the upload begun less than the shortest grace (less a margin) before now. Their
        // check waits for the late one; everything else introduced is checked at once.
        let committed = fresh_blobs::Stamp::now();
        let spared = fresh_blobs::spared(
            &introduced,
            &store.created(),
            &committed,
            fresh_blobs::spare_window_secs(self.gc_grace_secs()),
        );
        if !spared.is_empty() {
            debug!(
                spared = spared.len(),
                checked = introduced.len() - spared.len(),
                "blobs this sync just created are not looked up again now"
            );
        }

        // The base is what this folder holds: a published entry that is not here (a conflict
        // copy whose download failed) stays out of it and is downloaded next time.
        // (The entries themselves, lent to the journal thread with the delta: 100,000 of them
        // are not copied, issue 15.)
        let not_here: HashSet<RelPath> = not_here.clone();
        let removals: Vec<RelPath> = entries
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.path.clone())
            .collect();
        // A name renamed to a case-conflict copy is not a deletion: its content lives on
        // under the new name (the summary counts the renames).
        for e in entries
            .iter()
            .filter(|e| e.deleted && !renamed.contains_key(&e.path))
        {
            self.emit(SyncEvent::Deleted {
                folder: folder.path.clone(),
                path: e.path.to_string(),
                remote: true,
            });
        }
        let g = generation.clone();
        let seen_text = head_value.to_string();
        // The cache moves by this commit's rows when it holds the tree this commit starts
        // from; else (a new generation, a first commit) it is stored whole. The tree is lent
        // to the journal thread and handed back, not copied.
        drop(entries);
        let changed = delta.entries;
        let tree_for_gc = self
            .with_journal(move |j| {
                // A commit landed: the packs on record are no interrupted upload's to resume
                // (this one's are committed; any other's file changed since).
                super::packed_chunks::mark_committed(j, id)?;
                match &first_snapshot {
                    // The tree is the first snapshot's list: the cache is stored whole.
                    Some(paths) => {
                        let upserts = paths
                            .iter()
                            .filter_map(|p| tree.files.get(p))
                            .filter(|e| !e.deleted && !not_here.contains(&e.path));
                        j.apply_base_from(id, upserts, &removals)?;
                        j.store_remote_cache(id, &tree)?;
                    }
                    None => {
                        let upserts = changed
                            .iter()
                            .filter(|e| !e.deleted && !not_here.contains(&e.path));
                        j.apply_base_from(id, upserts, &removals)?;
                        if !j.advance_remote_cache(id, &g, from_seq, seq, &changed)? {
                            if whole_tree {
                                j.store_remote_cache(id, &tree)?;
                            } else {
                                // Never a narrow tree as the cache: read in full next time.
                                j.forget_remote_cache(id)?;
                            }
                        }
                    }
                }
                j.set_remote_position(id, &g, seq)?;
                j.set_config(&format!("seen-head:{id}"), &seen_text)?;
                Ok(tree)
            })
            .await?;
        self.check_introduced(
            folder,
            store,
            &head,
            &tree_for_gc,
            whole_tree,
            introduced,
            &spared,
            &known_bytes,
        )
        .await;
        if compacting || removes_references {
            if whole_tree {
                self.maybe_collect_garbage(folder, store, &head, head_version, &tree_for_gc)
                    .await;
            } else if self.gc_due(id).await {
                let whole = self
                    .with_journal(move |j| j.remote_cache(id))
                    .await
                    .ok()
                    .flatten()
                    .filter(|t| t.generation == tree_for_gc.generation && t.seq == seq);
                if let Some(whole) = whole {
                    self.maybe_collect_garbage(folder, store, &head, head_version, &whole)
                        .await;
                }
            }
        }
        Ok(written_head)
    }

    /// Whether publishing `entries` on `view`'s head writes a new snapshot of the file list.
    fn commit_compacts(
        &self,
        view: &remote_state::RemoteView,
        entries: &[FileEntry],
    ) -> Result<bool, SyncError> {
        let Some(head) = view.head.as_ref().filter(|_| view.base_trusted) else {
            return Ok(true);
        };
        let delta = Delta {
            format: FORMAT_VERSION,
            generation: view.tree.generation.clone(),
            seq: view.tree.seq + 1,
            device: self.device.clone(),
            entries: entries.to_vec(),
        };
        let mut next = head.clone();
        next.seq = delta.seq;
        file_list::compacts(&next, &delta, self.part_limits(), unix_now_ns() / 1_000_000)
    }

    /// The part limits of this syncer's file lists (a commit's, and what decides whether a
    /// commit compacts).
    fn part_limits(&self) -> file_list::PartLimits {
        file_list::PartLimits::for_commit(
            self.settings.chunk_size,
            self.limits.max_bytes,
            self.limits.max_head_bytes,
            self.limits.max_parts,
        )
    }

    /// Whether garbage collection would run now (at most once per `min(grace, 1 h)`).
    async fn gc_due(&self, id: FolderId) -> bool {
        let every = self.gc_grace_secs().min(3600) as i64;
        let key = format!("gc-last-run:{id}");
        let Ok(last) = self.with_journal(move |j| j.get_config(&key)).await else {
            return false;
        };
        let last: i64 = last.and_then(|s| s.parse().ok()).unwrap_or(0);
        unix_now().saturating_sub(last) >= every
    }

    /// Check the blobs a commit introduced (`fresh`, empty after a sync without a commit) now,
    /// and those of earlier commits once their verification window has passed; restore any
    /// that a collector trashed meanwhile (see [`verify`]). The blobs of `fresh` that are in
    /// `spared` are not looked up now (no collector can have trashed them yet: see
    /// [`fresh_blobs`]); they are checked late like every other. Failures are logged: the list
    /// stays in the journal and is tried again next sync.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check_introduced(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        head: &Head,
        tree: &RemoteTree,
        whole_tree: bool,
        fresh: std::collections::BTreeSet<BlobName>,
        spared: &std::collections::BTreeSet<BlobName>,
        known: &HashMap<BlobName, bytes::Bytes>,
    ) {
        let id = folder.id;
        let key = verify::pending_key(id);
        let k = key.clone();
        let Ok(stored) = self.with_journal(move |j| j.get_config(&k)).await else {
            return;
        };
        let mut pending: Vec<verify::Pending> = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        if fresh.is_empty() && pending.is_empty() {
            return;
        }
        let now = unix_now();
        let window = self.verify_window_secs();
        let is_due = |p: &verify::Pending| now.saturating_sub(p.committed) >= window;
        // Earlier commits' blobs are judged against the whole tree: a narrow sync's tree
        // (`whole_tree` false) leaves them for later, unless one is due now, when the whole
        // tree is read.
        let loaded;
        let (tree, whole_tree) = if !whole_tree && pending.iter().any(is_due) {
            let (g, s) = (tree.generation.clone(), tree.seq);
            loaded = self
                .with_journal(move |j| j.remote_cache(id))
                .await
                .ok()
                .flatten()
                .filter(|t| t.generation == g && t.seq == s);
            match &loaded {
                Some(t) => (t, true),
                None => (tree, false),
            }
        } else {
            (tree, whole_tree)
        };
        if whole_tree {
            // What no head references any more needs nothing.
            let needed = gc::referenced(head, tree);
            pending.retain(|p| needed.contains(&p.blob));
        }
        let due: std::collections::BTreeSet<BlobName> = pending
            .iter()
            .filter(|p| whole_tree && is_due(p))
            .map(|p| p.blob.clone())
            .chain(fresh.iter().filter(|b| !spared.contains(*b)).cloned())
            .collect();
        let mut known = known.clone();
        for p in &pending {
            if let Some(b) = p.bytes_hex.as_deref().and_then(|h| hex::decode(h).ok()) {
                known.entry(p.blob.clone()).or_insert_with(|| b.into());
            }
        }
        // A spared blob an earlier commit introduced too: its late check counts from this
        // commit (it is added again below), as for one checked now.
        pending.retain(|p| !spared.contains(&p.blob));
        match verify::ensure_present(store, &folder.path, tree, &due, &known).await {
            // Checked late enough, present, restored or (logged) lost for good: done.
            Ok(_) => pending.retain(|p| !due.contains(&p.blob)),
            Err(e) => warn!(error = %e, "could not check the blobs of a commit; next sync"),
        }
        for blob in fresh {
            if !pending.iter().any(|p| p.blob == blob) {
                let bytes_hex = known
                    .get(&blob)
                    .filter(|b| b.len() <= verify::KEEP_BYTES_UP_TO)
                    .map(hex::encode);
                pending.push(verify::Pending {
                    blob,
                    committed: now,
                    bytes_hex,
                });
            }
        }
        let text = serde_json::to_string(&pending).unwrap_or_else(|_| "[]".into());
        let _ = self.with_journal(move |j| j.set_config(&key, &text)).await;
    }

    /// Garbage collection of what `head` (just committed, at property version
    /// `head_version`) no longer references, at most once per `min(grace, 1 h)` per folder.
    /// Failures are logged, never fatal: nothing is lost by collecting later.
    pub(super) async fn maybe_collect_garbage(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        head: &Head,
        head_version: u64,
        tree: &RemoteTree,
    ) {
        let id = folder.id;
        let now = unix_now();
        let grace = self.gc_grace_secs();
        let every = grace.min(3600) as i64;
        let last_key = format!("gc-last-run:{id}");
        let lk = last_key.clone();
        let Ok(last) = self.with_journal(move |j| j.get_config(&lk)).await else {
            return;
        };
        let last: i64 = last.and_then(|s| s.parse().ok()).unwrap_or(0);
        if now.saturating_sub(last) < every {
            return;
        }
        // What the page's history needs stays too; when it cannot be read, nothing is
        // collected this time.
        let history = if history::history_matters(head, self.history_keep_ms(&folder.path)) {
            match history::referenced_by_history(store, head, Some(tree), &self.limits).await {
                Ok(h) => h,
                Err(e) => {
                    warn!(error = %e, "garbage collection skipped: the history could not be read");
                    return;
                }
            }
        } else {
            HashSet::new()
        };
        match gc::collect(store, head, head_version, tree, &history, grace).await {
            Ok(c) => {
                debug!(trashed = c.trashed, "garbage collection done");
                let history_key = history_ops::history_bytes_key(id);
                let history_bytes = c.history_only_bytes.to_string();
                let _ = self
                    .with_journal(move |j| {
                        j.set_config(&history_key, &history_bytes)?;
                        j.set_config(&last_key, &now.to_string())
                    })
                    .await;
            }
            Err(e) => warn!(error = %e, "garbage collection skipped"),
        }
    }

    /// The grace period garbage collection waits (see [`SyncSettings::gc_grace`]).
    pub(super) fn gc_grace_secs(&self) -> u64 {
        self.gc_timing_for_tests
            .map_or_else(|| self.settings.gc_grace(), |(grace, _)| grace)
    }

    /// How long after a commit its introduced blobs are checked once more.
    pub(super) fn verify_window_secs(&self) -> i64 {
        self.gc_timing_for_tests
            .map_or(verify::VERIFY_WINDOW_SECS, |(_, window)| window)
    }
}
