//! The local trash (issue 16 item 4): the previous content of a file another device's edit
//! replaced is kept, as is a file another device deleted, each with a journal record of why
//! and whose change it was; a conflict's loser is kept as the conflict copy only.

use tunnel_core::journal::{TrashReason, TrashRecord};
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::sync::{list_trash, TRASH_DIR};

use crate::util::{runtime, Device};

fn records(d: &Device) -> Vec<TrashRecord> {
    let j = d.syncer.journal();
    let j = j.lock().expect("journal");
    j.trash_records(d.folder).expect("records")
}

fn in_trash(d: &Device, r: &TrashRecord) -> Vec<u8> {
    std::fs::read(d.root.join(TRASH_DIR).join(&r.in_trash)).expect("kept in the trash")
}

#[test]
fn an_edit_from_another_device_keeps_the_previous_content_in_the_trash() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("docs/plan.txt", b"first version");
        a.write("same.txt", b"unchanged");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        assert!(records(&b).is_empty(), "a first download replaces nothing");

        a.write("docs/plan.txt", b"second version, from a");
        a.sync(&store).await.expect("a edits");
        b.sync(&store).await.expect("b receives");
        assert_eq!(
            std::fs::read(b.path("docs/plan.txt")).expect("read"),
            b"second version, from a"
        );
        let r = records(&b);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].path.as_str(), "docs/plan.txt");
        assert_eq!(r[0].reason, TrashReason::Replaced);
        assert_eq!(r[0].device.as_deref(), Some("dev-a"), "whose edit it was");
        assert_eq!(r[0].size, b"first version".len() as u64);
        assert_eq!(
            in_trash(&b, &r[0]),
            b"first version",
            "the previous content"
        );
        assert!(records(&a).is_empty(), "the editing device keeps nothing");
        assert_eq!(a.tree(), b.tree(), "the trash is never synced");

        // A deletion from a: recorded with the deleting device too.
        std::fs::remove_file(a.path("same.txt")).expect("rm");
        a.sync(&store).await.expect("a deletes");
        b.sync(&store).await.expect("b trashes");
        let r = records(&b);
        let del = r
            .iter()
            .find(|r| r.path.as_str() == "same.txt")
            .expect("recorded");
        assert_eq!(del.reason, TrashReason::Deleted);
        assert_eq!(del.device.as_deref(), Some("dev-a"));
        assert_eq!(in_trash(&b, del), b"unchanged");

        let (items, stale) = list_trash(&b.root, &r).expect("list");
        assert!(stale.is_empty());
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(items.iter().all(|i| i.device.as_deref() == Some("dev-a")));
    });
}

#[test]
fn a_conflicts_loser_is_kept_as_the_conflict_copy_not_also_in_the_trash() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("plan.txt", b"v1");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        a.write("plan.txt", b"a's edit");
        a.sync(&store).await.expect("a edits");
        std::thread::sleep(std::time::Duration::from_millis(30));
        b.write("plan.txt", b"b's later edit");
        b.sync(&store).await.expect("b: conflict");
        a.sync(&store).await.expect("a: receives");
        for d in [&a, &b] {
            assert!(
                !d.root.join(TRASH_DIR).exists()
                    || list_trash(&d.root, &[]).expect("list").0.is_empty(),
                "{}: nothing in the trash: {:?}",
                d.id,
                list_trash(&d.root, &[]).expect("list").0
            );
            let copies = d
                .tree()
                .keys()
                .filter(|k| k.contains("(conflict from "))
                .count();
            assert_eq!(copies, 1, "{}: the loser is the conflict copy", d.id);
        }
    });
}
