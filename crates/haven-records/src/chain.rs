//! The hash chain: every entry of every record, in one sequence per school, each entry's
//! SHA-256 covering its own content and the previous entry's hash. Changing, removing or
//! re-ordering any stored entry breaks the chain at that entry, and [`ChainVerifier`] names it.
//!
//! # Canonical entry bytes (format version 1)
//!
//! The bytes hashed for an entry are the ASCII tag `haven-record-entry-v1`, then each field
//! below in this order, each as an 8-byte big-endian length followed by its UTF-8 bytes
//! (integers as decimal text, an absent author id as the empty string):
//!
//! `seq`, `record_id`, `kind`, `record_type`, `sensitivity`, `author_id`, `author`,
//! `occurred_ms`, `created_ms`, `body`, `prev_hash`.
//!
//! `hash` = lower-case hex SHA-256 of those bytes. The first entry's `prev_hash` is
//! [`GENESIS_HASH`]. `body` is the entry's JSON exactly as stored (never re-serialised), so
//! another system can recompute every hash from the stored text alone.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one entry that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct EntryHashInput<'a> {
    /// Position in the school's chain, from 1, without gaps.
    pub seq: i64,
    /// The record the entry belongs to.
    pub record_id: &'a str,
    /// The entry kind's stored name.
    pub kind: &'a str,
    /// The record type's stored name.
    pub record_type: &'a str,
    /// The sensitivity's stored name.
    pub sensitivity: &'a str,
    /// The author's account id (none for a pupil's worry or an import).
    pub author_id: Option<i64>,
    /// The author's full name and job title at the time.
    pub author: &'a str,
    /// When it happened (milliseconds since the epoch).
    pub occurred_ms: i64,
    /// When it was saved.
    pub created_ms: i64,
    /// The entry's JSON as stored.
    pub body: &'a str,
    /// The previous entry's hash.
    pub prev_hash: &'a str,
}

/// The canonical bytes of an entry (see the module documentation).
pub fn canonical_bytes(e: &EntryHashInput<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + e.body.len());
    out.extend_from_slice(b"haven-record-entry-v1");
    let mut field = |f: &[u8]| {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f);
    };
    field(e.seq.to_string().as_bytes());
    field(e.record_id.as_bytes());
    field(e.kind.as_bytes());
    field(e.record_type.as_bytes());
    field(e.sensitivity.as_bytes());
    field(e.author_id.map(|a| a.to_string()).unwrap_or_default().as_bytes());
    field(e.author.as_bytes());
    field(e.occurred_ms.to_string().as_bytes());
    field(e.created_ms.to_string().as_bytes());
    field(e.body.as_bytes());
    field(e.prev_hash.as_bytes());
    out
}

/// An entry's hash: hex SHA-256 of its canonical bytes.
pub fn entry_hash(e: &EntryHashInput<'_>) -> String {
    haven_accounts::random::hex(&Sha256::digest(canonical_bytes(e)))
}

/// An attachment's name in the store: hex SHA-256 of its bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    haven_accounts::random::hex(&Sha256::digest(bytes))
}

/// Where and how a chain stops matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The entry's content no longer gives its stored hash: it was changed after saving.
    #[error("entry {seq} (record {record_id}) does not match its hash: stored {stored}, content gives {computed}")]
    Content {
        /// The entry.
        seq: i64,
        /// Its record.
        record_id: String,
        /// The stored hash.
        stored: String,
        /// The hash of what is stored now.
        computed: String,
    },
    /// The entry does not point at the entry before it: one was removed, inserted or rewritten.
    #[error("entry {seq} (record {record_id}) does not follow entry {previous}: its previous hash is {stored}, entry {previous}'s hash is {expected}")]
    Link {
        /// The entry.
        seq: i64,
        /// Its record.
        record_id: String,
        /// The entry before it.
        previous: i64,
        /// The previous hash it stores.
        stored: String,
        /// The hash of the entry before it.
        expected: String,
    },
    /// Sequence numbers jump: entries are missing.
    #[error("entry {expected} is missing: the chain goes from entry {} to entry {found}", expected - 1)]
    Gap {
        /// The number that should come next.
        expected: i64,
        /// The number found instead.
        found: i64,
    },
    /// An entry received from another school no longer gives the hash it arrived with.
    #[error("received entry {seq} (record {record_id}, from another school) does not match its hash: stored {stored}, content gives {computed}")]
    Received {
        /// The entry's number in the sending school's chain.
        seq: i64,
        /// Its record.
        record_id: String,
        /// The hash it arrived with.
        stored: String,
        /// The hash of what is stored now.
        computed: String,
    },
    /// An attachment's bytes no longer give the hash it is stored under.
    #[error("attachment {stored} ({file_name}) does not match its content: its bytes give {computed}")]
    Attachment {
        /// The hash it is stored under.
        stored: String,
        /// Its file name.
        file_name: String,
        /// The hash of its bytes now.
        computed: String,
    },
}

/// Checks entries one at a time, in `seq` order, keeping only the previous hash.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { next_seq: 1, prev_hash: GENESIS_HASH.to_owned(), checked: 0 }
    }
}

impl ChainVerifier {
    /// A verifier at the start of a chain.
    pub fn new() -> ChainVerifier {
        ChainVerifier::default()
    }

    /// Check the next entry against its stored hash; the first break is returned.
    pub fn check(&mut self, e: &EntryHashInput<'_>, stored_hash: &str) -> Result<(), ChainBreak> {
        if e.seq != self.next_seq {
            return Err(ChainBreak::Gap { expected: self.next_seq, found: e.seq });
        }
        if e.prev_hash != self.prev_hash {
            return Err(ChainBreak::Link {
                seq: e.seq,
                record_id: e.record_id.to_owned(),
                previous: e.seq - 1,
                stored: e.prev_hash.to_owned(),
                expected: self.prev_hash.clone(),
            });
        }
        let computed = entry_hash(e);
        if computed != stored_hash {
            return Err(ChainBreak::Content { seq: e.seq, record_id: e.record_id.to_owned(), stored: stored_hash.to_owned(), computed });
        }
        self.prev_hash = computed;
        self.next_seq += 1;
        self.checked += 1;
        Ok(())
    }

    /// How many entries matched.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last entry checked (the chain head), to record with exports.
    pub fn head(&self) -> &str {
        &self.prev_hash
    }
}
