//! Haven's categories: the school-facing taxonomy that lists, policies, alerts and reports share.
//!
//! A category is not a list source: many sources (UT1 `gambling`, a hosts file) feed one category,
//! and policies only ever speak of categories.

use std::collections::HashMap;
use std::fmt;

/// Most categories a taxonomy may hold, so a set of them is one `u128` on the hot path.
pub const MAX_CATEGORIES: usize = 128;

/// Index of a category in its taxonomy; stable for the life of one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryId(pub(crate) u8);

impl CategoryId {
    /// Position in the taxonomy, for tables indexed by category.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// What kind of thing a category is; it decides how the category behaves when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CategoryKind {
    /// Illegal content (IWF, CTIRU): only the illegal floor may use it, and nothing overrides it.
    Illegal,
    /// Harmful content mapped to a UKSIC category; blocks here beat allow-list categories.
    Harm,
    /// Filter bypass: VPNs, proxies, DNS over HTTPS, remote access.
    Bypass,
    /// Protects devices: malware, phishing.
    Security,
    /// A school choice such as games or shopping.
    Policy,
    /// Trusted content that adds exceptions inside policy categories (education, child-safe).
    Allow,
}

impl CategoryKind {
    /// Parse the taxonomy file's word for a kind.
    pub fn parse(s: &str) -> Option<CategoryKind> {
        Some(match s {
            "illegal" => CategoryKind::Illegal,
            "harm" => CategoryKind::Harm,
            "bypass" => CategoryKind::Bypass,
            "security" => CategoryKind::Security,
            "policy" => CategoryKind::Policy,
            "allow" => CategoryKind::Allow,
            _ => return None,
        })
    }

    /// The taxonomy file's word for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryKind::Illegal => "illegal",
            CategoryKind::Harm => "harm",
            CategoryKind::Bypass => "bypass",
            CategoryKind::Security => "security",
            CategoryKind::Policy => "policy",
            CategoryKind::Allow => "allow",
        }
    }

    /// When several blocking categories match, the highest rank names the decision.
    pub(crate) fn rank(self) -> u8 {
        match self {
            CategoryKind::Illegal => 5,
            CategoryKind::Harm => 4,
            CategoryKind::Bypass => 3,
            CategoryKind::Security => 2,
            CategoryKind::Policy => 1,
            CategoryKind::Allow => 0,
        }
    }
}

/// The KCSIE "4 Cs" risk areas, so governor reports can use the statutory framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FourCs {
    /// Being exposed to harmful material.
    pub content: bool,
    /// Harmful interaction with other users.
    pub contact: bool,
    /// Behaviour that makes harm more likely.
    pub conduct: bool,
    /// Gambling, scams, phishing, advertising.
    pub commerce: bool,
}

impl FourCs {
    /// Parse one C by name; returns false for an unknown word so the caller can report it.
    pub fn set(&mut self, word: &str) -> bool {
        match word {
            "content" => self.content = true,
            "contact" => self.contact = true,
            "conduct" => self.conduct = true,
            "commerce" => self.commerce = true,
            _ => return false,
        }
        true
    }

    /// The Cs in KCSIE order, for display.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.content {
            v.push("content");
        }
        if self.contact {
            v.push("contact");
        }
        if self.conduct {
            v.push("conduct");
        }
        if self.commerce {
            v.push("commerce");
        }
        v
    }
}

/// Default alert severity for a pupil's blocked attempt (rubric in safeguarding-records.md §10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// No alert at all.
    None,
    /// Weekly report only.
    Digest,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical: straight to the DSL.
    Critical,
}

impl Severity {
    /// Parse the taxonomy file's word for a severity.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "none" => Severity::None,
            "digest" => Severity::Digest,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// The taxonomy file's word for this severity.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Digest => "digest",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One category as the school sees it.
#[derive(Debug, Clone)]
pub struct Category {
    /// Stable snake_case identifier used in configuration and logs.
    pub id: Box<str>,
    /// Plain-English title for block pages and reports.
    pub title: Box<str>,
    /// How the category behaves when matched.
    pub kind: CategoryKind,
    /// Which KCSIE risk areas it belongs to.
    pub four_cs: FourCs,
    /// Default alert severity for a pupil's blocked attempt.
    pub severity: Severity,
    /// Short description for the console and documentation.
    pub description: Box<str>,
}

/// Why a taxonomy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaxonomyError {
    /// Two categories share an identifier.
    #[error("category `{0}` is defined twice")]
    Duplicate(String),
    /// More than 128 categories.
    #[error("{0} categories defined; at most 128 are supported")]
    TooMany(usize),
    /// An identifier that is not snake_case ASCII.
    #[error("category id `{0}` must be lower-case letters, digits and underscores")]
    BadId(String),
}

/// The full set of categories in force; every other structure refers to it by `CategoryId`.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    categories: Vec<Category>,
    by_id: HashMap<Box<str>, CategoryId>,
}

impl Taxonomy {
    /// Build from a list of categories, refusing duplicates and malformed identifiers.
    pub fn new(categories: Vec<Category>) -> Result<Taxonomy, TaxonomyError> {
        if categories.len() > MAX_CATEGORIES {
            return Err(TaxonomyError::TooMany(categories.len()));
        }
        let mut by_id = HashMap::with_capacity(categories.len());
        for (i, c) in categories.iter().enumerate() {
            if c.id.is_empty() || !c.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return Err(TaxonomyError::BadId(c.id.to_string()));
            }
            // i < 128 checked above.
            if by_id.insert(c.id.clone(), CategoryId(i as u8)).is_some() {
                return Err(TaxonomyError::Duplicate(c.id.to_string()));
            }
        }
        Ok(Taxonomy { categories, by_id })
    }

    /// Look a category up by its configuration identifier.
    pub fn id(&self, id: &str) -> Option<CategoryId> {
        self.by_id.get(id).copied()
    }

    /// The category behind an identifier.
    pub fn get(&self, id: CategoryId) -> &Category {
        &self.categories[id.index()]
    }

    /// Every category in taxonomy order.
    pub fn iter(&self) -> impl Iterator<Item = (CategoryId, &Category)> {
        self.categories.iter().enumerate().map(|(i, c)| (CategoryId(i as u8), c))
    }

    /// Number of categories.
    pub fn len(&self) -> usize {
        self.categories.len()
    }

    /// True when no category is defined.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    /// All categories of one kind, as a set for bit tests on the hot path.
    pub fn of_kind(&self, kind: CategoryKind) -> CategorySet {
        let mut s = CategorySet::EMPTY;
        for (id, c) in self.iter() {
            if c.kind == kind {
                s.insert(id);
            }
        }
        s
    }
}

/// A set of categories as one machine word pair, so combining matches costs a few instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CategorySet(u128);

impl CategorySet {
    /// No categories.
    pub const EMPTY: CategorySet = CategorySet(0);

    /// Add one category.
    pub fn insert(&mut self, id: CategoryId) {
        self.0 |= 1u128 << id.0;
    }

    /// True when the category is in the set.
    pub fn contains(self, id: CategoryId) -> bool {
        self.0 & (1u128 << id.0) != 0
    }

    /// Both sets together.
    pub fn union(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 | other.0)
    }

    /// Only what both sets hold.
    pub fn intersect(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 & other.0)
    }

    /// What this set holds that the other does not.
    pub fn minus(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 & !other.0)
    }

    /// True when nothing is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of categories in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The categories in taxonomy order.
    pub fn iter(self) -> impl Iterator<Item = CategoryId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros();
            bits &= bits - 1;
            Some(CategoryId(i as u8))
        })
    }
}

impl fmt::Debug for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|c| c.0)).finish()
    }
}
