//! Names of packs. A pack is the bytes of its members (whole small files, or chunks of big files
//! cut by content) one after the other, each with its own SHA-256 and size.
//!
//! - `p-<hex>` (written until 2026-12): `<hex>` is the SHA-256 of the pack's bytes — naming it
//!   cost one more SHA-256 pass over every byte packed.
//! - `m-<hex>` (written since): `<hex>` is the SHA-256 of the pack's *member list*: the tag
//!   [`LIST_TAG`], then per member in pack order its 32-byte SHA-256 and its size as 8 bytes
//!   little-endian. Members lie one after another from offset 0, so the list fixes every byte
//!   of the pack (as far as SHA-256 is collision-free, as for every other name): the name is
//!   as content-addressed as `p-`, but costs 40 bytes of hashing per member instead of a pass
//!   over the bytes, which the upload already hashed once to check each member.
//!
//! Readers never trusted a pack's name for its bytes — every chunk taken from a pack is
//! checked against the chunk's own SHA-256, and every file against its own — so an `m-` pack
//! downloads with the code that reads `p-` packs, old and new.

use crate::hash::{Digest, Hasher};
use crate::remote::BlobName;

/// The first bytes of a member list (so that no other digest of ours names the same text).
pub const LIST_TAG: &[u8] = b"sber-tunnel pack members 1\n";

/// The member list of a pack being built, hashed as members are added.
#[derive(Clone)]
pub struct MemberList {
    hasher: Hasher,
    len: u64,
}

impl Default for MemberList {
    fn default() -> Self {
        MemberList::new()
    }
}

impl MemberList {
    /// The list of an empty pack.
    pub fn new() -> MemberList {
        let mut hasher = Hasher::new();
        hasher.update(LIST_TAG);
        MemberList { hasher, len: 0 }
    }

    /// The next member: `size` bytes that hash to `sha256`, right after the previous one.
    pub fn push(&mut self, sha256: &Digest, size: u64) {
        self.hasher.update(&sha256.0);
        self.hasher.update(&size.to_le_bytes());
        self.len = self.len.saturating_add(size);
    }

    /// Bytes of the pack so far (where the next member starts).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when no bytes were added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of the list (what the pack's name holds).
    pub fn finish(self) -> Digest {
        self.hasher.finish()
    }

    /// The pack's name: `m-<digest of the list>`.
    pub fn name(self) -> BlobName {
        member_pack_blob_name(&self.finish())
    }
}

/// `m-<hex>`: a pack named by the digest of its member list.
pub fn member_pack_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("m-{}", d.to_hex())).expect("hex is a valid blob name")
}

/// How a pack's name says its bytes are checked as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackNaming {
    /// `p-`: the SHA-256 of the pack's bytes.
    Bytes(Digest),
    /// `m-`: the SHA-256 of its member list.
    Members(Digest),
}

impl PackNaming {
    /// The naming of a pack called `name` (`None`: not a pack name).
    pub fn of(name: &BlobName) -> Option<PackNaming> {
        let n = name.as_str();
        if let Some(h) = n.strip_prefix("p-") {
            return Digest::from_hex(h).ok().map(PackNaming::Bytes);
        }
        n.strip_prefix("m-")
            .and_then(|h| Digest::from_hex(h).ok())
            .map(PackNaming::Members)
    }

    /// Whether a pack made of `members` (SHA-256 and size of each, in pack order, one after
    /// another from offset 0) whose bytes are `bytes` has this name. The members' own digests
    /// are the caller's to check against their bytes.
    pub fn matches(&self, members: &[(Digest, u64)], bytes: &[u8]) -> bool {
        match self {
            PackNaming::Bytes(want) => Digest::of(bytes) == *want,
            PackNaming::Members(want) => {
                let mut list = MemberList::new();
                for (sha, size) in members {
                    list.push(sha, *size);
                }
                list.len() == bytes.len() as u64 && list.finish() == *want
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_of(members: &[&[u8]]) -> MemberList {
        let mut l = MemberList::new();
        for m in members {
            l.push(&Digest::of(m), m.len() as u64);
        }
        l
    }

    #[test]
    fn the_name_is_the_digest_of_the_tagged_member_list() {
        // Written out by hand: the format is what other builds read.
        let mut text = b"sber-tunnel pack members 1\n".to_vec();
        for m in [&b"alpha"[..], b"be"] {
            text.extend_from_slice(&Digest::of(m).0);
            text.extend_from_slice(&(m.len() as u64).to_le_bytes());
        }
        let l = list_of(&[b"alpha", b"be"]);
        assert_eq!(l.len(), 7);
        assert_eq!(
            l.name().as_str(),
            format!("m-{}", Digest::of(&text).to_hex())
        );
        assert_eq!(
            MemberList::new().finish(),
            Digest::of(LIST_TAG),
            "an empty list is the tag alone"
        );
    }

    #[test]
    fn order_sizes_and_contents_all_change_the_name() {
        let base = list_of(&[b"alpha", b"be"]).finish();
        assert_ne!(base, list_of(&[b"be", b"alpha"]).finish(), "order");
        assert_ne!(base, list_of(&[b"alpha", b"bf"]).finish(), "content");
        assert_ne!(base, list_of(&[b"alpha"]).finish(), "a member fewer");
        let mut other_size = MemberList::new();
        other_size.push(&Digest::of(b"alpha"), 5);
        other_size.push(&Digest::of(b"be"), 3);
        assert_ne!(base, other_size.finish(), "size");
        assert_eq!(base, list_of(&[b"alpha", b"be"]).finish(), "deterministic");
    }

    #[test]
    fn both_namings_are_parsed_and_checked() {
        let members = [(Digest::of(b"alpha"), 5), (Digest::of(b"be"), 2)];
        let m = list_of(&[b"alpha", b"be"]).name();
        let p = crate::manifest::pack_blob_name(&Digest::of(b"alphabe"));
        let (Some(nm), Some(np)) = (PackNaming::of(&m), PackNaming::of(&p)) else {
            panic!("both are pack names")
        };
        assert!(matches!(nm, PackNaming::Members(_)));
        assert!(matches!(np, PackNaming::Bytes(_)));
        assert!(nm.matches(&members, b"alphabe"));
        assert!(np.matches(&members, b"alphabe"));
        // The bytes of a `p-` pack decide; the list of an `m-` pack (the members' bytes are
        // checked one by one by the caller) and its length do.
        assert!(!np.matches(&members, b"alphabf"));
        assert!(!nm.matches(&members[..1], b"alphabe"));
        assert!(!nm.matches(&members, b"alphab"));
        for other in ["c-00", "x", "m-zz", "d-0.json"] {
            assert_eq!(
                PackNaming::of(&BlobName::new(other).unwrap()),
                None,
                "{other}"
            );
        }
        let c = crate::manifest::chunk_blob_name(&Digest::of(b"x"));
        assert_eq!(PackNaming::of(&c), None, "a chunk blob is not a pack");
    }
}
