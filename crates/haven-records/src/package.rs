//! The "moving school" package: one signed, verifiable file holding a pupil's whole
//! safeguarding file, and the signed receipt the receiving school sends back. Pure: bytes in,
//! bytes out; the signing key is given by the caller. docs/records-package.md is the format.
//!
//! A package is a POSIX tar archive of regular files: `manifest.json`, `signature`,
//! `records.json` (or `receipt.json` in a receipt) and `attachments/<sha256>`. The manifest
//! lists the SHA-256 and size of every other file; `signature` is the hex ed25519 signature
//! of the exact bytes of `manifest.json` by the key whose public half the manifest names.
//!
//! **Invariant:** [`read_package`] and [`read_receipt`] return only what passed every check
//! (archive shape, signature, trusted key, file hashes, attachment hashes, every entry's chain
//! hash); a caller stores nothing from a package that did not come back `Ok`.

use std::collections::BTreeMap;
use std::io::Read;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::{EntryHashInput, content_hash, entry_hash};

/// `format` of a pupil's file.
pub const PACKAGE_FORMAT: &str = "haven-records-package";
/// `format` of a receipt.
pub const RECEIPT_FORMAT: &str = "haven-records-receipt";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The largest package read (attachments included), so a hostile file cannot exhaust memory.
pub const MAX_PACKAGE_BYTES: u64 = 1 << 30;
/// The most files a package may hold.
pub const MAX_FILES: usize = 100_000;

/// The manifest: who sent it, about whom, and the hash of every other file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`PACKAGE_FORMAT`] or [`RECEIPT_FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The school that made and signed it.
    pub school: String,
    /// When it was made (RFC 3339, UTC).
    pub created: String,
    /// Who made it (name and job title).
    pub created_by: String,
    /// The signer's ed25519 public key, hex.
    pub public_key: String,
    /// The pupil the file is about.
    pub pupil: PupilRef,
    /// Every other file with its hash.
    pub files: Vec<FileHash>,
}

/// The pupil a package is about, as the sending school knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PupilRef {
    /// Full name.
    pub name: String,
    /// Unique pupil number, the key that survives a move between schools.
    pub upn: Option<String>,
    /// ISO date of birth (retention is counted from it).
    pub date_of_birth: Option<String>,
    /// The sending school's id for the pupil.
    pub sender_id: Option<i64>,
}

/// One file of the package and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    /// Path inside the archive.
    pub path: String,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its length in bytes.
    pub size: u64,
}

/// `records.json`: every record of the pupil's file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsFile {
    /// The records, oldest first.
    pub records: Vec<PackagedRecord>,
}

/// One record with its whole chain of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedRecord {
    /// Its id (URN-prefixed where the school has one, so unique across schools).
    pub record_id: String,
    /// Record type's stored name.
    pub record_type: String,
    /// Sensitivity's stored name.
    pub sensitivity: String,
    /// Category key.
    pub category: String,
    /// Where it came from.
    pub source: String,
    /// Status when sent.
    pub status: String,
    /// Risk level when sent.
    pub risk: Option<String>,
    /// Who logged it.
    pub reporter: String,
    /// When it happened (ms since the epoch).
    pub occurred_ms: i64,
    /// When it was logged.
    pub created_ms: i64,
    /// The pupil's role in it.
    pub role: String,
    /// Every entry, in the sender's chain order.
    pub entries: Vec<PackagedEntry>,
    /// The attachments its entries name.
    pub attachments: Vec<PackagedAttachment>,
}

/// One entry exactly as the sender stored it, with its chain hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedEntry {
    /// Position in the sender's chain.
    pub seq: i64,
    /// The record.
    pub record_id: String,
    /// Entry kind.
    pub kind: String,
    /// Record type.
    pub record_type: String,
    /// Sensitivity.
    pub sensitivity: String,
    /// The author's account at the sender.
    pub author_id: Option<i64>,
    /// The author's name and job title.
    pub author: String,
    /// When it happened.
    pub occurred_ms: i64,
    /// When it was saved.
    pub created_ms: i64,
    /// The JSON body exactly as stored.
    pub body: String,
    /// The previous entry's hash in the sender's chain.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl PackagedEntry {
    /// The fields its hash covers.
    pub fn hash_input(&self) -> EntryHashInput<'_> {
        EntryHashInput {
            seq: self.seq,
            record_id: &self.record_id,
            kind: &self.kind,
            record_type: &self.record_type,
            sensitivity: &self.sensitivity,
            author_id: self.author_id,
            author: &self.author,
            occurred_ms: self.occurred_ms,
            created_ms: self.created_ms,
            body: &self.body,
            prev_hash: &self.prev_hash,
        }
    }
}

/// An attachment's metadata; its bytes are `attachments/<sha256>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedAttachment {
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The uploaded file name.
    pub file_name: String,
    /// Media type.
    pub media_type: String,
}

/// `receipt.json`: the receiving school's signed word that it stored the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Hex SHA-256 of the whole package file received.
    pub package_sha256: String,
    /// The sending school, as its manifest said.
    pub sender_school: String,
    /// The sender's public key, as its manifest said.
    pub sender_key: String,
    /// The pupil, as the manifest said.
    pub pupil: PupilRef,
    /// Records stored.
    pub records: u64,
    /// Entries stored.
    pub entries: u64,
    /// Attachments stored.
    pub attachments: u64,
}

/// A package that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its records.
    pub records: RecordsFile,
    /// Attachment bytes by hash.
    pub attachments: BTreeMap<String, Vec<u8>>,
    /// Hex SHA-256 of the whole file (the receipt names it).
    pub sha256: String,
}

/// A receipt that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// Its manifest (the receiving school and key).
    pub manifest: Manifest,
    /// What it says was received.
    pub receipt: Receipt,
}

/// Which check a package failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// Not a readable tar archive, or a member that is not a plain file with an allowed name.
    #[error("archive check failed: {0}")]
    Archive(String),
    /// A file the format requires is absent.
    #[error("missing file: {0}")]
    Missing(String),
    /// `manifest.json`, `records.json` or `receipt.json` does not read.
    #[error("{file} check failed: {reason}")]
    Json {
        /// The file.
        file: &'static str,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// Not a package of the kind asked for, or of a version this code cannot read.
    #[error("format check failed: expected {expected} version {FORMAT_VERSION}, found {found}")]
    Format {
        /// The format wanted.
        expected: &'static str,
        /// What the manifest says.
        found: String,
    },
    /// The signature does not verify against the manifest's key.
    #[error("signature check failed: {0}")]
    Signature(String),
    /// Signed by a key other than the one the school was told to expect.
    #[error("trusted key check failed: signed by {found} (fingerprint {found_fingerprint}), expected {expected}")]
    UntrustedKey {
        /// The key or fingerprint expected.
        expected: String,
        /// The key that signed.
        found: String,
        /// Its fingerprint.
        found_fingerprint: String,
    },
    /// A file's bytes do not give the hash the manifest lists, or its size differs.
    #[error("file hash check failed: {path} gives {computed}, the manifest says {listed}")]
    FileHash {
        /// The file.
        path: String,
        /// The manifest's hash.
        listed: String,
        /// The hash of its bytes.
        computed: String,
    },
    /// A file in the archive is not in the manifest.
    #[error("manifest check failed: {0} is in the archive but not in the signed manifest")]
    Unlisted(String),
    /// An attachment's bytes do not give the hash it is named by.
    #[error("attachment hash check failed: attachments/{name} gives {computed}")]
    AttachmentHash {
        /// Its name.
        name: String,
        /// The hash of its bytes.
        computed: String,
    },
    /// A record names an attachment the package does not hold.
    #[error("attachment check failed: record {record_id} names attachment {sha256}, which is not in the package")]
    MissingAttachment {
        /// The record.
        record_id: String,
        /// The attachment.
        sha256: String,
    },
    /// An entry's content does not give its chain hash.
    #[error("entry hash check failed: entry {seq} of record {record_id} gives {computed}, it says {stored}")]
    EntryHash {
        /// The entry.
        seq: i64,
        /// Its record.
        record_id: String,
        /// The hash it carries.
        stored: String,
        /// The hash of its content.
        computed: String,
    },
    /// An entry that does not belong where it is (wrong record, out of order, a record without entries).
    #[error("records check failed: {0}")]
    Records(String),
    /// The key given cannot sign.
    #[error("signing key check failed: {0}")]
    Key(String),
}

/// The fingerprint a school reads out over the phone: SHA-256 of the 32-byte public key, hex
/// in groups of four.
pub fn key_fingerprint(public_key: &[u8; 32]) -> String {
    let hex = haven_accounts::random::hex(&Sha256::digest(public_key));
    hex.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":")
}

/// The public key (hex) of a signing key's 32 secret bytes.
pub fn public_key_hex(secret: &[u8; 32]) -> String {
    haven_accounts::random::hex(SigningKey::from_bytes(secret).verifying_key().as_bytes())
}

/// Whether `expected` (a public key in hex, or its fingerprint with or without colons) names `public_key`.
pub fn key_matches(expected: &str, public_key: &[u8; 32]) -> bool {
    let norm = |s: &str| s.chars().filter(|c| c.is_ascii_hexdigit()).collect::<String>().to_ascii_lowercase();
    let want = norm(expected);
    !want.is_empty() && (want == haven_accounts::random::hex(public_key) || want == norm(&key_fingerprint(public_key)))
}

/// Every 64-hex-digit string anywhere in an entry body: the attachments it names.
pub fn referenced_hashes(body: &str) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if is_sha256(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        walk(&v, &mut out);
    }
    out
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Build and sign a pupil's file. `manifest.files` and `manifest.public_key` are filled here.
pub fn write_package(mut manifest: Manifest, records: &RecordsFile, attachments: &BTreeMap<String, Vec<u8>>, secret: &[u8; 32]) -> Result<Vec<u8>, PackageError> {
    manifest.format = PACKAGE_FORMAT.into();
    let records_json = serde_json::to_vec_pretty(records).map_err(|e| PackageError::Json { file: "records.json", reason: e.to_string() })?;
    let mut files = vec![("records.json".to_owned(), records_json)];
    files.extend(attachments.iter().map(|(sha, bytes)| (format!("attachments/{sha}"), bytes.clone())));
    seal(manifest, files, secret)
}

/// Build and sign a receipt for a package that was stored.
pub fn write_receipt(mut manifest: Manifest, receipt: &Receipt, secret: &[u8; 32]) -> Result<Vec<u8>, PackageError> {
    manifest.format = RECEIPT_FORMAT.into();
    let json = serde_json::to_vec_pretty(receipt).map_err(|e| PackageError::Json { file: "receipt.json", reason: e.to_string() })?;
    seal(manifest, vec![("receipt.json".to_owned(), json)], secret)
}

/// Hash every file into the manifest, sign the manifest, and write the archive.
fn seal(mut manifest: Manifest, files: Vec<(String, Vec<u8>)>, secret: &[u8; 32]) -> Result<Vec<u8>, PackageError> {
    let key = SigningKey::from_bytes(secret);
    manifest.version = FORMAT_VERSION;
    manifest.public_key = haven_accounts::random::hex(key.verifying_key().as_bytes());
    manifest.files = files.iter().map(|(path, bytes)| FileHash { path: path.clone(), sha256: content_hash(bytes), size: bytes.len() as u64 }).collect();
    let manifest_json = serde_json::to_vec_pretty(&manifest).map_err(|e| PackageError::Json { file: "manifest.json", reason: e.to_string() })?;
    let signature = haven_accounts::random::hex(&key.sign(&manifest_json).to_bytes());
    let mtime = manifest.created.parse::<jiff::Timestamp>().map_or(0, |t| u64::try_from(t.as_second()).unwrap_or(0));
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, bytes).map_err(|e| PackageError::Archive(format!("writing {path}: {e}")))
    };
    add("manifest.json", &manifest_json)?;
    add("signature", signature.as_bytes())?;
    for (path, bytes) in &files {
        add(path, bytes)?;
    }
    tar.into_inner().map_err(|e| PackageError::Archive(e.to_string()))
}

/// A signed archive whose manifest, signature and file hashes all checked out.
struct Opened {
    manifest: Manifest,
    files: BTreeMap<String, Vec<u8>>,
}

fn allowed_path(path: &str) -> bool {
    matches!(path, "manifest.json" | "signature" | "records.json" | "receipt.json") || path.strip_prefix("attachments/").is_some_and(is_sha256)
}

/// Read the archive, check its shape, the signature, the trusted key and every file hash.
fn open(bytes: &[u8], format: &'static str, expect_key: Option<&str>) -> Result<Opened, PackageError> {
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        return Err(PackageError::Archive(format!("the file is {} bytes, more than the {MAX_PACKAGE_BYTES} a package may be", bytes.len())));
    }
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    let entries = archive.entries().map_err(|e| PackageError::Archive(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| PackageError::Archive(e.to_string()))?;
        let path = entry.path_bytes();
        let path = std::str::from_utf8(&path).map_err(|_| PackageError::Archive("a member's name is not UTF-8".into()))?.to_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(PackageError::Archive(format!("{path} is not a plain file")));
        }
        if !allowed_path(&path) {
            return Err(PackageError::Archive(format!("{path} is not a file a package may hold")));
        }
        if files.len() >= MAX_FILES {
            return Err(PackageError::Archive(format!("more than {MAX_FILES} files")));
        }
        let mut content = Vec::new();
        entry.take(MAX_PACKAGE_BYTES).read_to_end(&mut content).map_err(|e| PackageError::Archive(format!("reading {path}: {e}")))?;
        if files.insert(path.clone(), content).is_some() {
            return Err(PackageError::Archive(format!("{path} appears twice")));
        }
    }
    let manifest_json = files.remove("manifest.json").ok_or_else(|| PackageError::Missing("manifest.json".into()))?;
    let signature = files.remove("signature").ok_or_else(|| PackageError::Missing("signature".into()))?;
    let manifest: Manifest = serde_json::from_slice(&manifest_json).map_err(|e| PackageError::Json { file: "manifest.json", reason: e.to_string() })?;
    if manifest.format != format || manifest.version != FORMAT_VERSION {
        return Err(PackageError::Format { expected: format, found: format!("{} version {}", manifest.format, manifest.version) });
    }
    let public: [u8; 32] = decode_hex(&manifest.public_key)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| PackageError::Json { file: "manifest.json", reason: "public_key is not 64 hex digits".into() })?;
    if let Some(expected) = expect_key.filter(|k| !key_matches(k, &public)) {
        return Err(PackageError::UntrustedKey { expected: expected.to_owned(), found: manifest.public_key.clone(), found_fingerprint: key_fingerprint(&public) });
    }
    let key = VerifyingKey::from_bytes(&public).map_err(|e| PackageError::Signature(format!("the manifest's public key is not a valid ed25519 key: {e}")))?;
    let sig: [u8; 64] = std::str::from_utf8(&signature)
        .ok()
        .and_then(|s| decode_hex(s.trim()))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| PackageError::Signature("the signature file is not 128 hex digits".into()))?;
    key.verify(&manifest_json, &Signature::from_bytes(&sig)).map_err(|_| PackageError::Signature("the signature does not match manifest.json and its key".into()))?;
    let mut listed = BTreeMap::new();
    for f in &manifest.files {
        if listed.insert(f.path.as_str(), f).is_some() {
            return Err(PackageError::Json { file: "manifest.json", reason: format!("files lists {} twice", f.path) });
        }
    }
    for path in files.keys() {
        if !listed.contains_key(path.as_str()) {
            return Err(PackageError::Unlisted(path.clone()));
        }
    }
    for (path, f) in &listed {
        let bytes = files.get(*path).ok_or_else(|| PackageError::Missing((*path).to_owned()))?;
        let computed = content_hash(bytes);
        if computed != f.sha256 || bytes.len() as u64 != f.size {
            return Err(PackageError::FileHash { path: (*path).to_owned(), listed: f.sha256.clone(), computed });
        }
    }
    Ok(Opened { manifest, files })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// Read and verify a pupil's file: every check of the module documentation, in order.
pub fn read_package(bytes: &[u8], expect_key: Option<&str>) -> Result<Package, PackageError> {
    let mut opened = open(bytes, PACKAGE_FORMAT, expect_key)?;
    let records_json = opened.files.remove("records.json").ok_or_else(|| PackageError::Missing("records.json".into()))?;
    let records: RecordsFile = serde_json::from_slice(&records_json).map_err(|e| PackageError::Json { file: "records.json", reason: e.to_string() })?;
    let mut attachments = BTreeMap::new();
    for (path, bytes) in opened.files {
        if let Some(name) = path.strip_prefix("attachments/") {
            let computed = content_hash(&bytes);
            if computed != name {
                return Err(PackageError::AttachmentHash { name: name.to_owned(), computed });
            }
            attachments.insert(name.to_owned(), bytes);
        }
    }
    for r in &records.records {
        if r.entries.is_empty() {
            return Err(PackageError::Records(format!("record {} has no entries", r.record_id)));
        }
        let mut last_seq = 0;
        for e in &r.entries {
            if e.record_id != r.record_id {
                return Err(PackageError::Records(format!("entry {} belongs to record {}, not {}", e.seq, e.record_id, r.record_id)));
            }
            if e.seq <= last_seq {
                return Err(PackageError::Records(format!("entry {} of record {} is out of chain order", e.seq, r.record_id)));
            }
            last_seq = e.seq;
            let computed = entry_hash(&e.hash_input());
            if computed != e.hash {
                return Err(PackageError::EntryHash { seq: e.seq, record_id: r.record_id.clone(), stored: e.hash.clone(), computed });
            }
        }
        for a in &r.attachments {
            if !attachments.contains_key(&a.sha256) {
                return Err(PackageError::MissingAttachment { record_id: r.record_id.clone(), sha256: a.sha256.clone() });
            }
        }
    }
    Ok(Package { manifest: opened.manifest, records, attachments, sha256: content_hash(bytes) })
}

/// Read and verify a receipt.
pub fn read_receipt(bytes: &[u8], expect_key: Option<&str>) -> Result<VerifiedReceipt, PackageError> {
    let mut opened = open(bytes, RECEIPT_FORMAT, expect_key)?;
    let json = opened.files.remove("receipt.json").ok_or_else(|| PackageError::Missing("receipt.json".into()))?;
    let receipt = serde_json::from_slice(&json).map_err(|e| PackageError::Json { file: "receipt.json", reason: e.to_string() })?;
    Ok(VerifiedReceipt { manifest: opened.manifest, receipt })
}

/// The fuzz target's body: read `data` as a package and as a receipt. Never panics; anything
/// that verifies has every entry recomputing to its hash and every attachment to its name.
pub fn fuzz_body(data: &[u8]) {
    if let Ok(p) = read_package(data, None) {
        for e in p.records.records.iter().flat_map(|r| &r.entries) {
            assert_eq!(entry_hash(&e.hash_input()), e.hash, "a verified package holds an entry that does not hash");
        }
        for (name, bytes) in &p.attachments {
            assert_eq!(&content_hash(bytes), name, "a verified package holds a misnamed attachment");
        }
    }
    let _ = read_receipt(data, None);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::chain::GENESIS_HASH;

    const KEY: [u8; 32] = [7; 32];
    const OTHER: [u8; 32] = [9; 32];

    fn sample() -> (Manifest, RecordsFile, BTreeMap<String, Vec<u8>>) {
        let scan = b"scan of the signed note".to_vec();
        let sha = content_hash(&scan);
        let mut e = PackagedEntry {
            seq: 4,
            record_id: "100:r1".into(),
            kind: "concern".into(),
            record_type: "safeguarding_concern".into(),
            sensitivity: "normal".into(),
            author_id: Some(3),
            author: "Jo Teacher, Class teacher".into(),
            occurred_ms: 1_741_597_200_000,
            created_ms: 1_741_597_300_000,
            body: format!(r#"{{"account":"Sam said they were hungry","attachments":["{sha}"]}}"#),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        e.hash = entry_hash(&e.hash_input());
        let record = PackagedRecord {
            record_id: "100:r1".into(),
            record_type: "safeguarding_concern".into(),
            entries: vec![e],
            attachments: vec![PackagedAttachment { sha256: sha.clone(), file_name: "note.txt".into(), media_type: "text/plain".into() }],
            ..Default::default()
        };
        let manifest = Manifest {
            format: String::new(),
            version: 0,
            school: "St John's".into(),
            created: "2026-12-02T04:40:00Z".into(),
            created_by: "Pat Dsl, DSL".into(),
            public_key: String::new(),
            pupil: PupilRef { name: "Sam Pupil".into(), upn: Some("A123456789012".into()), date_of_birth: Some("2015-04-01".into()), sender_id: Some(1) },
            files: vec![],
        };
        (manifest, RecordsFile { records: vec![record] }, BTreeMap::from([(sha, scan)]))
    }

    fn package() -> Vec<u8> {
        let (m, r, a) = sample();
        write_package(m, &r, &a, &KEY).unwrap()
    }

    /// Rewrite one member of an archive (re-tarring, so only that member changes).
    fn rewrite(bytes: &[u8], f: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
        let mut out = tar::Builder::new(Vec::new());
        for e in tar::Archive::new(bytes).entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut content = Vec::new();
            e.read_to_end(&mut content).unwrap();
            if let Some(c) = f(&path, content) {
                let mut h = tar::Header::new_ustar();
                h.set_size(c.len() as u64);
                h.set_mode(0o644);
                out.append_data(&mut h, &path, c.as_slice()).unwrap();
            }
        }
        out.into_inner().unwrap()
    }

    #[test]
    fn round_trip_verifies_and_keeps_everything() {
        let bytes = package();
        let (_, records, attachments) = sample();
        let p = read_package(&bytes, Some(&public_key_hex(&KEY))).unwrap();
        assert_eq!(p.records, records);
        assert_eq!(p.attachments, attachments);
        assert_eq!(p.manifest.pupil.upn.as_deref(), Some("A123456789012"));
        assert_eq!(p.sha256, content_hash(&bytes));
        let fp = key_fingerprint(&SigningKey::from_bytes(&KEY).verifying_key().to_bytes());
        assert!(read_package(&bytes, Some(&fp)).is_ok(), "the fingerprint is accepted as the trusted key");
    }

    #[test]
    fn one_changed_byte_anywhere_is_refused() {
        let bytes = package();
        let mut refused = 0;
        // Every byte of every member's content region flips to something else; none may pass.
        for i in (0..bytes.len()).step_by(97) {
            let mut b = bytes.clone();
            b[i] ^= 0x20;
            fuzz_body(&b);
            if read_package(&b, None).is_err() {
                refused += 1;
            } else {
                // A flip in tar padding or an unused header field changes no content.
                let p = read_package(&b, None).unwrap();
                assert_eq!(p.records, sample().1, "byte {i} changed content yet passed");
            }
        }
        assert!(refused > 0);
    }

    #[test]
    fn each_forgery_names_its_check() {
        let bytes = package();
        let (_, records, _) = sample();
        // records.json changed after signing (one letter of an entry body).
        let altered = rewrite(&bytes, |p, c| Some(if p == "records.json" { String::from_utf8(c).unwrap().replace("hungry", "hungrY").into_bytes() } else { c }));
        assert!(matches!(read_package(&altered, None), Err(PackageError::FileHash { path, .. }) if path == "records.json"));
        // A missing attachment.
        let missing = rewrite(&bytes, |p, c| (!p.starts_with("attachments/")).then_some(c));
        assert!(matches!(read_package(&missing, None), Err(PackageError::Missing(p)) if p.starts_with("attachments/")));
        // A changed signature.
        let resigned = rewrite(&bytes, |p, c| Some(if p == "signature" { let mut c = c; c[0] = if c[0] == b'0' { b'1' } else { b'0' }; c } else { c }));
        assert!(matches!(read_package(&resigned, None), Err(PackageError::Signature(_))));
        // Content changed and the whole package re-signed with another key: passes alone, fails against the trusted key.
        let mut forged_records = records.clone();
        forged_records.records[0].entries[0].body = forged_records.records[0].entries[0].body.replace("hungry", "fine");
        let (m, _, a) = sample();
        let forged = write_package(m, &forged_records, &a, &OTHER).unwrap();
        assert!(matches!(read_package(&forged, None), Err(PackageError::EntryHash { seq: 4, .. })), "a changed body breaks the entry hash");
        let (m, r, a) = sample();
        let other_key = write_package(m, &r, &a, &OTHER).unwrap();
        assert!(read_package(&other_key, None).is_ok());
        assert!(matches!(read_package(&other_key, Some(&public_key_hex(&KEY))), Err(PackageError::UntrustedKey { .. })));
        // An extra file not in the manifest.
        let mut extra = tar::Builder::new(Vec::new());
        for e in tar::Archive::new(bytes.as_slice()).entries().unwrap() {
            let mut e = e.unwrap();
            let mut h = e.header().clone();
            let mut c = Vec::new();
            e.read_to_end(&mut c).unwrap();
            extra.append_data(&mut h, e.path().unwrap(), c.as_slice()).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        extra.append_data(&mut h, format!("attachments/{}", content_hash(b"x")), &b"x"[..]).unwrap();
        assert!(matches!(read_package(&extra.into_inner().unwrap(), None), Err(PackageError::Unlisted(_))));
        // Not an archive at all, and a receipt offered as a package.
        assert!(matches!(read_package(b"not a tar file", None), Err(PackageError::Archive(_) | PackageError::Missing(_))));
        let receipt = write_receipt(sample().0, &Receipt::default(), &KEY).unwrap();
        assert!(matches!(read_package(&receipt, None), Err(PackageError::Format { .. })));
        assert!(read_receipt(&receipt, Some(&public_key_hex(&KEY))).is_ok());
        assert!(matches!(read_receipt(&receipt, Some(&public_key_hex(&OTHER))), Err(PackageError::UntrustedKey { .. })));
    }

    #[test]
    fn referenced_hashes_finds_attachment_names_only() {
        let sha = content_hash(b"a");
        assert_eq!(referenced_hashes(&format!(r#"{{"a":[{{"sha256":"{sha}"}}],"b":"deadbeef","c":"{}"}}"#, sha.to_uppercase())), vec![sha]);
        assert!(referenced_hashes("not json").is_empty());
    }
}
