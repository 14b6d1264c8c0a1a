//! Format 3 history: the file lists older than the head's snapshot that are still retained,
//! as *segments* — each one a former head's snapshot and deltas, exactly as that head named
//! them, with their commit times. The head names one immutable history document
//! (`h-<sha256>.json`) listing the segments in seq order; every compaction writes a new one
//! (the folded segment appended, the expired ones dropped).
//!
//! Invariants checked on parse: the generation is the head's, the segments follow each other
//! without gap or overlap (each segment's snapshot seq is one past the previous segment's last
//! seq), each segment's deltas are consecutive after its snapshot, every commit has a time,
//! and the last segment ends right before the head's snapshot ([`History::check_against`]).

use serde::{Deserialize, Serialize};

use super::parts::{check_part_list, part_to_wire, wire_to_part, DeltaWire, SnapshotWire};
use super::{
    check_generation, delta_blob_name, invalid, parse_bounded, snapshot_part_blob_name, DeltaRef,
    Head, Limits, ManifestError, SnapshotRef, FORMAT_VERSION,
};
use crate::hash::Digest;
use crate::remote::BlobName;

/// `h-<hex>.json`: a history document, named by the hash of its bytes.
pub fn history_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("h-{}.json", d.to_hex())).expect("hex is a valid blob name")
}

/// One former head's file list: its snapshot and the deltas after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The snapshot (with its time).
    pub snapshot: SnapshotRef,
    /// The deltas after it, consecutive, each with its time.
    pub deltas: Vec<DeltaRef>,
}

impl Segment {
    /// The first seq it describes (its snapshot's).
    pub fn first_seq(&self) -> u64 {
        self.snapshot.seq
    }

    /// The last seq it describes.
    pub fn last_seq(&self) -> u64 {
        self.deltas.last().map_or(self.snapshot.seq, |d| d.seq)
    }

    /// Every commit of the segment: (seq, time in ms), in order.
    pub fn commits(&self) -> impl Iterator<Item = (u64, i64)> + '_ {
        std::iter::once((self.snapshot.seq, self.snapshot.time_ms.unwrap_or(0)))
            .chain(self.deltas.iter().map(|d| (d.seq, d.time_ms.unwrap_or(0))))
    }

    /// A head naming exactly this segment up to `seq` (within it): what the reader needs to
    /// rebuild the file list at `seq`.
    pub fn head_at(&self, generation: &str, seq: u64) -> Head {
        Head {
            format: FORMAT_VERSION,
            generation: generation.to_string(),
            seq,
            snapshot: Some(self.snapshot.clone()),
            deltas: self
                .deltas
                .iter()
                .filter(|d| d.seq <= seq)
                .cloned()
                .collect(),
            history: None,
        }
    }

    /// The segment a head's own snapshot and deltas form (`None` before the first commit).
    pub fn of_head(head: &Head) -> Option<Segment> {
        head.snapshot.as_ref().map(|s| Segment {
            snapshot: s.clone(),
            deltas: head.deltas.clone(),
        })
    }
}

/// The retained older file lists of one generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    /// Generation (the head's).
    pub generation: String,
    /// Segments in seq order.
    pub segments: Vec<Segment>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentWire {
    snapshot: SnapshotWire,
    deltas: Vec<DeltaWire>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryWire {
    format: u32,
    generation: String,
    segments: Vec<SegmentWire>,
}

impl History {
    /// Parse and validate a history document (its size and SHA-256 are checked by the caller
    /// against the head before this).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<History, ManifestError> {
        let w: HistoryWire = parse_bounded(bytes, FORMAT_VERSION, limits)?;
        check_generation(&w.generation)?;
        let mut segments = Vec::with_capacity(w.segments.len());
        let mut next: Option<u64> = None;
        for s in w.segments {
            let what = format!("history segment at seq {}", s.snapshot.seq);
            check_part_list(&what, &s.snapshot.parts, true, limits)?;
            if let Some(n) = next {
                if s.snapshot.seq != n {
                    return Err(ManifestError::SeqGap {
                        expected: n,
                        found: s.snapshot.seq,
                    });
                }
            }
            let mut expect = s.snapshot.seq;
            let Some(snapshot_time) = s.snapshot.time_ms else {
                return Err(invalid(&what, "a commit without its time"));
            };
            let mut deltas = Vec::with_capacity(s.deltas.len());
            for d in s.deltas {
                expect += 1;
                if d.seq != expect {
                    return Err(ManifestError::SeqGap {
                        expected: expect,
                        found: d.seq,
                    });
                }
                check_part_list(&format!("delta {}", d.seq), &d.parts, false, limits)?;
                if d.time_ms.is_none() {
                    return Err(invalid(&what, "a commit without its time"));
                }
                deltas.push(DeltaRef {
                    seq: d.seq,
                    time_ms: d.time_ms,
                    parts: d
                        .parts
                        .into_iter()
                        .map(|p| wire_to_part(p, delta_blob_name))
                        .collect(),
                });
            }
            next = Some(expect + 1);
            segments.push(Segment {
                snapshot: SnapshotRef {
                    seq: s.snapshot.seq,
                    parts: s
                        .snapshot
                        .parts
                        .into_iter()
                        .map(|p| wire_to_part(p, snapshot_part_blob_name))
                        .collect(),
                    manifest_version: None,
                    time_ms: Some(snapshot_time),
                },
                deltas,
            });
        }
        Ok(History {
            generation: w.generation,
            segments,
        })
    }

    /// The document's bytes (compact JSON, one segment per line).
    pub fn to_bytes(&self) -> Vec<u8> {
        let segs: Vec<String> = self
            .segments
            .iter()
            .map(|s| {
                let w = SegmentWire {
                    snapshot: SnapshotWire {
                        seq: s.snapshot.seq,
                        time_ms: s.snapshot.time_ms,
                        parts: s.snapshot.parts.iter().map(part_to_wire).collect(),
                    },
                    deltas: s
                        .deltas
                        .iter()
                        .map(|d| DeltaWire {
                            seq: d.seq,
                            time_ms: d.time_ms,
                            parts: d.parts.iter().map(part_to_wire).collect(),
                        })
                        .collect(),
                };
                serde_json::to_string(&w).expect("a segment has only plain values")
            })
            .collect();
        format!(
            "{{\"format\":{FORMAT_VERSION},\"generation\":{},\"segments\":[\n{}\n]}}",
            serde_json::to_string(&self.generation).expect("a string"),
            segs.join(",\n")
        )
        .into_bytes()
    }

    /// The history must belong to `head`: same generation, ending right before its snapshot.
    pub fn check_against(&self, head: &Head) -> Result<(), ManifestError> {
        if self.generation != head.generation {
            return Err(ManifestError::GenerationMismatch);
        }
        if let (Some(last), Some(s)) = (self.segments.last(), &head.snapshot) {
            if last.last_seq() + 1 != s.seq {
                return Err(ManifestError::SeqGap {
                    expected: s.seq,
                    found: last.last_seq() + 1,
                });
            }
        }
        Ok(())
    }

    /// Append `folded` (the segment a compaction replaces) and drop the segments whose every
    /// state was replaced before `keep_from_ms`: a state stays while the commit that replaced
    /// it is younger than the retention period. `next_start_ms` is the time of the commit
    /// after `folded` (the compaction itself).
    pub fn fold(&mut self, folded: Segment, next_start_ms: i64, keep_from_ms: i64) {
        self.segments.push(folded);
        let starts: Vec<i64> = self
            .segments
            .iter()
            .skip(1)
            .map(|s| s.snapshot.time_ms.unwrap_or(i64::MAX))
            .chain(std::iter::once(next_start_ms))
            .collect();
        let keep: Vec<bool> = starts.iter().map(|&end| end >= keep_from_ms).collect();
        let mut i = 0;
        self.segments.retain(|_| {
            let k = keep[i];
            i += 1;
            k
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::PartRef;

    fn part(name: BlobName, d: Digest) -> PartRef {
        PartRef {
            name,
            sha256: d,
            size: 10,
            entries: Some(1),
        }
    }

    fn segment(first: u64, last: u64, t0: i64) -> Segment {
        let d = Digest::of(&first.to_le_bytes());
        Segment {
            snapshot: SnapshotRef {
                seq: first,
                parts: vec![part(snapshot_part_blob_name(&d), d)],
                manifest_version: None,
                time_ms: Some(t0),
            },
            deltas: (first + 1..=last)
                .map(|s| {
                    let d = Digest::of(&s.to_le_bytes());
                    DeltaRef {
                        seq: s,
                        parts: vec![part(delta_blob_name(&d), d)],
                        time_ms: Some(t0 + (s - first) as i64),
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn a_history_reads_back_what_was_written() {
        let h = History {
            generation: "g-1".into(),
            segments: vec![
                segment(1, 3, 1000),
                segment(4, 4, 2000),
                segment(5, 9, 3000),
            ],
        };
        let bytes = h.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"format\":3,\"generation\":\"g-1\",\"segments\":[\n"));
        assert_eq!(History::parse(&bytes, &Limits::default()).unwrap(), h);
    }

    #[test]
    fn gaps_overlaps_and_missing_times_are_refused() {
        let limits = Limits::default();
        let gap = History {
            generation: "g".into(),
            segments: vec![segment(1, 3, 0), segment(5, 6, 10)],
        };
        assert!(matches!(
            History::parse(&gap.to_bytes(), &limits),
            Err(ManifestError::SeqGap {
                expected: 4,
                found: 5
            })
        ));
        let overlap = History {
            generation: "g".into(),
            segments: vec![segment(1, 3, 0), segment(3, 6, 10)],
        };
        assert!(History::parse(&overlap.to_bytes(), &limits).is_err());
        let mut untimed = segment(1, 2, 0);
        untimed.deltas[0].time_ms = None;
        let doc = History {
            generation: "g".into(),
            segments: vec![untimed],
        };
        assert!(History::parse(&doc.to_bytes(), &limits).is_err());
        // A reader of format 2 refuses a history document with the upgrade message.
        let old = Limits {
            max_format: 2,
            ..Limits::default()
        };
        assert!(matches!(
            History::parse(&gap.to_bytes(), &old),
            Err(ManifestError::UnsupportedFormat { found: 3, .. })
        ));
    }

    /// The retention boundary: a segment stays while the commit that replaced its last state
    /// is at least as young as `keep_from`; one replaced earlier goes.
    #[test]
    fn fold_keeps_exactly_the_states_replaced_within_the_retention() {
        let mut h = History {
            generation: "g".into(),
            segments: vec![segment(1, 2, 100), segment(3, 4, 200)],
        };
        // Segment 1..=2 was replaced at 200 (segment 3's start), 3..=4 at 300 (the folded
        // one's), the folded 5..=6 at 400 (the compaction).
        h.fold(segment(5, 6, 300), 400, 200);
        let firsts: Vec<u64> = h.segments.iter().map(|s| s.first_seq()).collect();
        assert_eq!(firsts, vec![1, 3, 5], "replaced at 200 >= 200: kept");
        h.fold(segment(7, 7, 400), 500, 201);
        let firsts: Vec<u64> = h.segments.iter().map(|s| s.first_seq()).collect();
        assert_eq!(firsts, vec![3, 5, 7], "replaced at 200 < 201: dropped");
    }

    fn hex(b: &[u8]) -> String {
        Digest::of(b).to_hex()
    }

    /// Format 3 compatibility: the head carries times and a history reference; a reader
    /// limited to format 2 (the code path a format 2 build runs: `format` first) refuses it
    /// with the "upgrade sber-tunnel" message, before anything else is looked at.
    #[test]
    fn a_format_3_head_round_trips_and_a_format_2_reader_refuses_it_cleanly() {
        let (s, d, h) = (hex(b"s"), hex(b"d"), hex(b"h"));
        let value = serde_json::json!({"format": 3, "generation": "g", "seq": 2,
            "snapshot": {"seq": 1, "time_ms": 1000, "parts": [{"sha256": s, "size": 10, "entries": 1}]},
            "deltas": [{"seq": 2, "time_ms": 2000, "parts": [{"sha256": d, "size": 5, "entries": 1}]}],
            "history": {"sha256": h, "size": 70, "entries": 1}});
        let head = Head::parse(&value, &Limits::default()).expect("format 3 head");
        assert_eq!(head.snapshot.as_ref().unwrap().time_ms, Some(1000));
        assert_eq!(head.deltas[0].time_ms, Some(2000));
        assert_eq!(
            head.history.as_ref().unwrap().name.as_str(),
            format!("h-{h}.json")
        );
        assert!(!head.needs_compaction(), "format 3 is the current format");
        assert_eq!(head.to_value(), value, "written back as read");

        let format_2_reader = Limits {
            max_format: 2,
            ..Limits::default()
        };
        let err = Head::parse(&value, &format_2_reader).unwrap_err();
        assert!(
            matches!(
                err,
                ManifestError::UnsupportedFormat {
                    found: 3,
                    supported: 2
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade sber-tunnel"), "{err}");

        // Format 3 requires every commit's time; format 2 may not carry times or a history.
        let mut untimed = value.clone();
        untimed["deltas"][0]
            .as_object_mut()
            .unwrap()
            .remove("time_ms");
        assert!(Head::parse(&untimed, &Limits::default()).is_err());
        let mut v2_with_history = value.clone();
        v2_with_history["format"] = 2.into();
        assert!(Head::parse(&v2_with_history, &Limits::default()).is_err());
        let v2 = serde_json::json!({"format": 2, "generation": "g", "seq": 1,
            "snapshot": {"seq": 1, "parts": [{"sha256": s, "size": 10, "entries": 1}]},
            "deltas": []});
        let old = Head::parse(&v2, &Limits::default()).expect("format 2 is still read");
        assert!(
            old.needs_compaction(),
            "the next commit upgrades it to format 3"
        );
        assert_eq!(
            old.to_value(),
            v2,
            "and it is written back unchanged until then"
        );
    }
}
