//! Safeguarding records, as data and rules with no I/O: what a record of concern holds, the
//! KCSIE categories, the hash chain that makes the record tamper-evident, body-map marks, the
//! one access table (record type x sensitivity x who x action), and retention.
//!
//! **Invariants:**
//! - A saved entry is final. Corrections are new entries of kind [`EntryKind::Amendment`] that
//!   name the entry they supersede and a reason; the chain ([`chain`]) covers every entry.
//! - [`access::allows`] is the only place that says who may view, search, export, amend or
//!   print a record. The subject of a staff allegation is refused before anything else.
//!
//! - [`model`]: record types, sensitivity, entry kinds, linked-pupil roles, sources, statuses.
//! - [`category`]: the default KCSIE categories with guidance text and statutory-duty banners.
//! - [`chain`]: the canonical entry bytes, SHA-256 links, and verification of a whole chain.
//! - [`bodymap`]: marks on front, back and side outlines.
//! - [`access`]: the access table.
//! - [`retention`]: review dates (date of birth + 25 years), legal hold.
//! - [`package`]: the signed "moving school" package and its receipt (docs/records-package.md).
//! - [`pdf`]: the printed front sheet and chronology, every page headed and every entry hashed.

pub mod access;
pub mod bodymap;
pub mod category;
pub mod chain;
pub mod model;
pub mod package;
pub mod pdf;
pub mod retention;

pub use access::{Action, Viewer, allows};
pub use category::{Categories, Category, DEFAULT_CATEGORIES};
pub use chain::{ChainBreak, ChainVerifier, EntryHashInput, GENESIS_HASH, content_hash, entry_hash};
pub use model::{Agency, EntryKind, LinkRole, RecordStatus, Outcome, RecordType, RiskLevel, Sensitivity, Source, new_record_id};
