//! The `excluded` table: per folder, the subtrees this device leaves out (selective sync, see
//! `crate::selective`). Rows are this device's choice only; nothing of it is published.

use std::collections::BTreeSet;

use rusqlite::params;

use super::{decode_rel, Journal, Result};
use crate::ids::FolderId;
use crate::rel_path::RelPath;

impl Journal {
    /// The paths of `folder` this device leaves out, sorted.
    pub fn excluded_paths(&self, folder: FolderId) -> Result<BTreeSet<RelPath>> {
        self.read("reading the excluded paths", |c| {
            let mut stmt =
                c.prepare_cached("SELECT path FROM excluded WHERE folder_id = ?1 ORDER BY path")?;
            let rows = stmt.query_map([folder], |r| r.get::<_, String>(0))?;
            let mut out = BTreeSet::new();
            for row in rows {
                out.insert(decode_rel("excluded", folder, &row?)?);
            }
            Ok(out)
        })
    }

    /// Replace `folder`'s excluded paths by `paths`, in one transaction.
    pub fn set_excluded_paths(&self, folder: FolderId, paths: &BTreeSet<RelPath>) -> Result<()> {
        self.write("storing the excluded paths", |tx| {
            super::clean::forget(tx, folder)?;
            tx.execute("DELETE FROM excluded WHERE folder_id = ?1", [folder])?;
            let mut insert =
                tx.prepare_cached("INSERT INTO excluded (folder_id, path) VALUES (?1, ?2)")?;
            for p in paths {
                insert.execute(params![folder, p.as_str()])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{folder, rel};
    use super::*;

    #[test]
    fn excluded_paths_round_trip_per_folder_and_go_with_their_folder() {
        let j = Journal::open_in_memory().expect("open");
        let a = folder(&j, "/data/a");
        let b = folder(&j, "/data/b");
        assert!(
            j.excluded_paths(a.id).expect("read").is_empty(),
            "a new folder excludes nothing"
        );
        let paths: BTreeSet<RelPath> = [rel("Photos"), rel("docs/big.iso")].into();
        j.set_excluded_paths(a.id, &paths).expect("store");
        j.set_excluded_paths(b.id, &[rel("x")].into())
            .expect("store b");
        assert_eq!(j.excluded_paths(a.id).expect("read"), paths);
        j.set_excluded_paths(a.id, &[rel("Photos")].into())
            .expect("replace");
        assert_eq!(
            j.excluded_paths(a.id).expect("read"),
            [rel("Photos")].into(),
            "the set is replaced, not merged"
        );
        j.remove_folder(b.id).expect("remove folder");
        assert!(
            j.excluded_paths(b.id).expect("read").is_empty(),
            "a removed folder's choice goes with it"
        );
    }
}
