//! Paging through attachment listings safely on Data Center.
//!
//! DC caps attachment listings at 200 per page and, past 200 attachments, may keep emitting
//! `_links.next` for ever while repeating items (CONFSERVER-95396). The [`Pager`] therefore
//! de-duplicates by id and stops when a page brings no new id, is empty, has no `next`, or a
//! hard page bound is reached. It is pure: the HTTP loop lives in the store.

use std::collections::HashSet;

use tracing::warn;

/// Items requested per page (the DC cap for attachment listings).
pub const PAGE_LIMIT: u32 = 200;

/// Safety bound on pages fetched for one listing (200 × 1000 = 200 000 attachments, far
/// beyond any sane page).
pub const MAX_PAGES: usize = 1000;

/// De-duplicating page accumulator.
#[derive(Debug, Default)]
pub(crate) struct Pager {
    seen: HashSet<String>,
    pages: usize,
}

impl Pager {
    /// A fresh pager.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Feed one page of items. Returns the items not seen before and whether another page
    /// should be fetched.
    pub(crate) fn accept<T>(
        &mut self,
        items: Vec<T>,
        id: impl Fn(&T) -> &str,
        has_next: bool,
    ) -> (Vec<T>, bool) {
        self.pages += 1;
        let got = items.len();
        let fresh: Vec<T> = items
            .into_iter()
            .filter(|item| self.seen.insert(id(item).to_owned()))
            .collect();
        let more = has_next && !fresh.is_empty() && self.pages < MAX_PAGES;
        if has_next && got > 0 && fresh.is_empty() {
            warn!(
                pages = self.pages,
                known = self.seen.len(),
                "attachment listing repeats itself past 200 items (CONFSERVER-95396); stopping"
            );
        }
        if has_next && self.pages >= MAX_PAGES {
            warn!(pages = self.pages, "attachment listing too long; stopping");
        }
        (fresh, more)
    }

    /// Number of distinct ids seen.
    pub(crate) fn distinct(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(r: std::ops::Range<u32>) -> Vec<String> {
        r.map(|i| format!("att{i}")).collect()
    }

    #[test]
    fn stops_when_a_page_brings_nothing_new() {
        let mut p = Pager::new();
        let (a, more) = p.accept(ids(0..200), |s| s, true);
        assert_eq!((a.len(), more), (200, true));
        // CONFSERVER-95396: start=200 returns a mix of old and new items, then only old ones.
        let (b, more) = p.accept(ids(150..228), |s| s, true);
        assert_eq!((b.len(), more), (28, true), "only the 28 new ids are kept");
        let (c, more) = p.accept(ids(178..228), |s| s, true);
        assert_eq!(
            (c.len(), more),
            (0, false),
            "nothing new: stop despite `next`"
        );
        assert_eq!(p.distinct(), 228);
    }

    #[test]
    fn stops_on_empty_page_or_missing_next() {
        let mut p = Pager::new();
        let (_, more) = p.accept(ids(0..10), |s| s, false);
        assert!(!more);
        let mut p = Pager::new();
        let (_, more) = p.accept(Vec::<String>::new(), |s| s, true);
        assert!(!more);
    }
}
