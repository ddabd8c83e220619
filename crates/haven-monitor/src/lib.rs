//! Monitoring: turns the live event stream into few, well-explained alerts for the DSL.
//!
//! Pure, no I/O and no async: keyword libraries arrive as text, rules as text, time as each
//! event's own `Timestamp`. The binary's monitor stage feeds it events off the answer path and
//! stores and delivers what it raises.
//!
//! - [`normalise`]: one folding of case, accents, leetspeak and stretched letters for both the
//!   libraries and the text they are matched against.
//! - [`keywords`]: the open, versioned keyword libraries (English and Polish shipped) and the
//!   whole-word Aho-Corasick matcher over them.
//! - [`search`]: search terms out of the URLs the proxy saw.
//! - [`rules`]: alert rules as data (category, flag, keyword; repetition; group; time of day;
//!   dedupe window).
//! - [`engine`]: events in, new or deduplicated alerts out, with exclusions.
//! - [`routing`]: who is told, in what order, and when an unacknowledged alert escalates.
//! - [`quality`]: precision and response-time figures from recorded outcomes.
//! - [`digest`]: the weekly DSL digest over plain input structs, and its plain-text form.

pub mod digest;
pub mod engine;
#[doc(hidden)]
pub mod fuzz;
pub mod keywords;
pub mod normalise;
pub mod quality;
pub mod routing;
pub mod rules;
pub mod search;

pub use digest::{Digest, DigestAlert, Week, WeekError};
pub use engine::{AlertDraft, AlertRef, Engine, EngineStats, Exclusion, MatchedKeyword, Outcome, host_of, person_of};
pub use keywords::{KeywordEntry, KeywordHit, KeywordMatcher, Library, LibraryError};
pub use normalise::normalise;
pub use routing::{Contact, Routing};
pub use rules::{Rule, RuleError, RuleSet, Trigger};
pub use search::{SearchTerms, search_terms};
