//! Bounded-time fuzzing of whole remote documents: valid snapshots, deltas and heads mutated
//! byte-wise (flips, deletions, duplications) and with hostile fragments spliced in (`..`,
//! backslashes, drive letters, NUL, huge numbers, deep nesting). The parsers must never panic;
//! whatever they accept must be fully valid (every path a `RelPath` that stays inside a root,
//! every entry passing `validate_entry`) and must round-trip.
//!
//! Format 2 heads and snapshot/delta parts are fuzzed the same way.
//!
//! `SBER_TUNNEL_FUZZ_CASES` sets the number of cases per document kind (default 3,000).

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tunnel_core::manifest::parts::{DeltaPart, SnapshotPart};
use tunnel_core::manifest::{validate_entry, Delta, FileEntry, Head, Limits, Snapshot};
use tunnel_core::rel_path::RelPath;

use crate::util::env_num;

const H1: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const H2: &str = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";

fn snapshot_doc() -> String {
    format!(
        concat!(
            r#"{{"format":1,"generation":"gen-1","seq":3,"files":["#,
            r#"{{"path":"docs","kind":"dir","deleted":false,"size":0,"mtime_ns":5,"version":1,"device":"laptop"}},"#,
            r#"{{"path":"docs/big.bin","kind":"file","deleted":false,"size":10,"mtime_ns":42,"sha256":"{h1}","version":7,"device":"desk","chunks":[{{"sha256":"{h2}","size":5,"blob":"p-{h1}","offset":100}},{{"sha256":"{h1}","size":5,"blob":"c-{h1}","offset":0}}]}},"#,
            r#"{{"path":"old.txt","kind":"file","deleted":true,"size":0,"mtime_ns":17,"version":2,"device":"laptop"}}"#,
            r#"]}}"#
        ),
        h1 = H1,
        h2 = H2
    )
}

fn delta_doc() -> String {
    format!(
        concat!(
            r#"{{"format":1,"generation":"gen-1","seq":4,"device":"laptop","entries":["#,
            r#"{{"path":"a/b c.txt","kind":"file","deleted":false,"size":5,"mtime_ns":-3,"sha256":"{h1}","version":1,"device":"laptop","chunks":[{{"sha256":"{h1}","size":5,"blob":"p-{h2}","offset":0}}]}}"#,
            r#"]}}"#
        ),
        h1 = H1,
        h2 = H2
    )
}

fn head_doc() -> String {
    format!(
        concat!(
            r#"{{"format":1,"generation":"9f0c2d7e-1b64","seq":3,"#,
            r#""snapshot":{{"name":"manifest.json","version":2,"sha256":"{h1}","size":120,"seq":1}},"#,
            r#""deltas":[{{"name":"d-{h2}.json","sha256":"{h2}","size":80,"seq":2}},"#,
            r#"{{"name":"d-{h1}.json","sha256":"{h1}","size":81,"seq":3}}]}}"#
        ),
        h1 = H1,
        h2 = H2
    )
}

/// One mutation of a document.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Splice(usize, &'static str),
}

const HOSTILE: &[&str] = &[
    "..",
    "../",
    "/..",
    "\\",
    "C:",
    "c:/",
    "\\u0000",
    "\u{0}",
    "/",
    "//",
    ".",
    "\"",
    "\\\"",
    "18446744073709551616",
    "-1",
    "1e999",
    "null",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[",
    "\u{202e}",
    "e\u{301}",
    "\u{feff}",
    "\\ud800",
    ",\"format\":2",
    ",\"path\":\"x\"",
];

fn mutation(len: usize) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..len, any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (0..len, 1..16usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (0..len, 1..64usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (0..len, proptest::sample::select(HOSTILE)).prop_map(|(i, s)| Mutation::Splice(i, s)),
    ]
}

fn apply(doc: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut d = doc.to_vec();
    for m in muts {
        if d.is_empty() {
            break;
        }
        match *m {
            Mutation::Flip(i, b) => {
                let i = i % d.len();
                d[i] = b;
            }
            Mutation::Delete(i, n) => {
                let i = i % d.len();
                let end = (i + n).min(d.len());
                d.drain(i..end);
            }
            Mutation::Duplicate(i, n) => {
                let i = i % d.len();
                let end = (i + n).min(d.len());
                let piece = d[i..end].to_vec();
                d.splice(i..i, piece);
            }
            Mutation::Splice(i, s) => {
                let i = i % (d.len() + 1);
                d.splice(i..i, s.bytes());
            }
        }
    }
    d
}

/// What a parser accepted must be valid through and through.
fn check_entries(entries: &[FileEntry], limits: &Limits) {
    let root = Path::new("/sync/root");
    for e in entries {
        validate_entry(e, limits).expect("an accepted entry validates");
        let again = RelPath::new(e.path.as_str()).expect("an accepted path re-validates");
        let native = again.to_native(root);
        assert!(native.starts_with(root), "{native:?} escapes the root");
        assert!(
            native
                .components()
                .all(|c| !matches!(c, std::path::Component::ParentDir)),
            "{native:?} has a '..'"
        );
    }
}

/// Run the mutations of `doc` through `check`, which says whether the parser accepted it.
fn run(kind: &str, doc: String, check: impl Fn(&[u8]) -> bool) {
    let cases = env_num("SBER_TUNNEL_FUZZ_CASES", 3000) as u32;
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let base = doc.into_bytes();
    assert!(check(&base), "{kind}: the unmutated document is refused");
    let len = base.len();
    let accepted = std::cell::Cell::new(0u32);
    runner
        .run(&proptest::collection::vec(mutation(len), 1..6), |muts| {
            let bytes = apply(&base, &muts);
            if check(&bytes) {
                accepted.set(accepted.get() + 1);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    eprintln!(
        "{kind}: {cases} mutated documents, {} accepted",
        accepted.get()
    );
    assert!(
        accepted.get() > 0,
        "{kind}: no mutation was accepted; the fuzzing is vacuous"
    );
}

#[test]
fn mutated_snapshots_are_refused_or_fully_valid() {
    let limits = Limits::default();
    run("snapshot", snapshot_doc(), |bytes| {
        let Ok(s) = Snapshot::parse(bytes, &limits) else {
            return false;
        };
        check_entries(&s.files, &limits);
        let again = Snapshot::parse(&s.to_bytes(), &limits).expect("round trip");
        assert_eq!(again.to_bytes(), s.to_bytes());
        true
    });
}

#[test]
fn mutated_deltas_are_refused_or_fully_valid() {
    let limits = Limits::default();
    run("delta", delta_doc(), |bytes| {
        let Ok(d) = Delta::parse(bytes, &limits) else {
            return false;
        };
        check_entries(&d.entries, &limits);
        let again = Delta::parse(&d.to_bytes(), &limits).expect("round trip");
        assert_eq!(again.to_bytes(), d.to_bytes());
        true
    });
}

#[test]
fn mutated_heads_are_refused_or_fully_valid() {
    let limits = Limits::default();
    run("head", head_doc(), |bytes| {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return false;
        };
        let Ok(h) = Head::parse(&v, &limits) else {
            return false;
        };
        let again = Head::parse(&h.to_value(), &limits).expect("round trip");
        assert_eq!(again.to_value(), h.to_value());
        true
    });
}

fn head_v2_doc() -> String {
    format!(
        concat!(
            r#"{{"format":2,"generation":"9f0c2d7e-1b64","seq":3,"#,
            r#""snapshot":{{"seq":1,"parts":[{{"sha256":"{h1}","size":120,"entries":2}},{{"sha256":"{h2}","size":99,"entries":1}}]}},"#,
            r#""deltas":[{{"seq":2,"parts":[{{"sha256":"{h2}","size":80,"entries":1}}]}},"#,
            r#"{{"seq":3,"parts":[{{"sha256":"{h1}","size":81,"entries":3}}]}}]}}"#
        ),
        h1 = H1,
        h2 = H2
    )
}

/// The format 1 snapshot document, as part 0 of 2 of a format 2 snapshot.
fn snapshot_part_doc() -> String {
    snapshot_doc().replacen(
        r#"{"format":1,"generation":"gen-1","seq":3,"#,
        r#"{"format":2,"generation":"gen-1","seq":3,"part":0,"parts":2,"#,
        1,
    )
}

fn delta_part_doc() -> String {
    delta_doc()
        .replacen(
            r#""device":"laptop","entries""#,
            r#""device":"laptop","part":0,"parts":1,"entries""#,
            1,
        )
        .replacen(r#"{"format":1,"#, r#"{"format":2,"#, 1)
}

#[test]
fn mutated_format_2_heads_are_refused_or_fully_valid() {
    let limits = Limits::default();
    run("head v2", head_v2_doc(), |bytes| {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return false;
        };
        let Ok(h) = Head::parse(&v, &limits) else {
            return false;
        };
        for p in h.parts() {
            assert!(p.size <= limits.max_bytes);
            let n = p.name.as_str();
            assert!(n.starts_with("s-") || n.starts_with("d-"), "{n}");
            assert!(n.contains(&p.sha256.to_hex()), "{n}");
        }
        let again = Head::parse(&h.to_value(), &limits).expect("round trip");
        assert_eq!(again, h);
        true
    });
}

#[test]
fn mutated_snapshot_and_delta_parts_are_refused_or_fully_valid() {
    let limits = Limits::default();
    run("snapshot part", snapshot_part_doc(), |bytes| {
        let Ok(s) = SnapshotPart::parse(bytes, &limits) else {
            return false;
        };
        check_entries(&s.files, &limits);
        assert!(s.part < s.parts);
        let again = SnapshotPart::parse(&serde_json::to_vec(&s).expect("json"), &limits)
            .expect("round trip");
        assert_eq!(again, s);
        true
    });
    run("delta part", delta_part_doc(), |bytes| {
        let Ok(d) = DeltaPart::parse(bytes, &limits) else {
            return false;
        };
        check_entries(&d.entries, &limits);
        assert!(!d.entries.is_empty());
        let again =
            DeltaPart::parse(&serde_json::to_vec(&d).expect("json"), &limits).expect("round trip");
        assert_eq!(again, d);
        true
    });
}
