//! The compiled domain table: one open-addressed hash table over an arena of names.
//!
//! Why not an FST: an FST needs its keys sorted, and sorting a million names plus building the
//! automaton does not fit the one-second build budget on this hardware; a presized hash table
//! builds in one pass and streams. Why not `HashMap<String, _>`: a heap string per entry costs
//! ~50 bytes. Here each entry costs its bytes plus one length byte in the arena and one 8-byte
//! slot at a load of at most 0.8, about 29 bytes for an average 18-byte name.
//!
//! A bit map of about one byte per key sits in front: most misses are settled there, in cache.
//!
//! Slot layout (`u64`, zero means empty): bits 0..32 arena offset (never 0, the arena starts with
//! a pad byte), bits 32..52 the value (20 bits), bits 52..64 a 12-bit hash tag (low hash bits; the
//! slot comes from the high bits) so most probes that miss never touch the arena.

use xxhash_rust::xxh3::xxh3_64;

/// Largest value a slot can hold.
pub const MAX_VALUE: u32 = (1 << 20) - 1;
const TAG_SHIFT: u32 = 52;
const VALUE_SHIFT: u32 = 32;
const VALUE_MASK: u64 = MAX_VALUE as u64;
/// Most entries one table may hold: its arena offsets are 32-bit.
const MAX_ARENA: usize = u32::MAX as usize;

/// Why an insert failed; the list loader turns it into a clear error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The arena passed 4 GiB.
    #[error("list too large: the domain arena passed 4 GiB")]
    TooLarge,
    /// More distinct value combinations than a slot can encode.
    #[error("more than {MAX_VALUE} distinct list combinations")]
    TooManyValues,
}

fn hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

fn home(h: u64, slots: usize) -> usize {
    // Fast range reduction: maps the hash onto 0..slots without a division.
    ((u128::from(h) * slots as u128) >> 64) as usize
}

/// Words of filter for a table of `slots` slots: about 8 bits per key at full load.
fn filter_words(slots: usize) -> usize {
    (slots * 8 * 4 / 5).div_ceil(64).max(1)
}

fn filter_bit(h: u64, words: usize) -> (usize, u64) {
    // Middle bits: independent of the slot (high bits) and the tag (low 12 bits).
    let bits = (words * 64) as u64;
    let b = (((h >> 12) & 0xFFFF_FFFF) * bits) >> 32;
    ((b / 64) as usize, 1u64 << (b % 64))
}

fn tag(h: u64) -> u64 {
    // The low bits: `home` is driven by the high bits, so neighbouring slots would otherwise share
    // a tag and the tag would filter nothing.
    h & 0xFFF
}

/// Most ancestors hashed up front; deeper names hash the rest on demand.
const ANCESTRY: usize = 8;

/// A name's ancestors with their hashes, computed once per decision and shared by every table
/// (illegal floor, site entries, lists) so each ancestor is hashed only once.
pub struct Ancestry<'n> {
    items: [(&'n [u8], u64); ANCESTRY],
    n: usize,
    rest: Option<&'n [u8]>,
    total: usize,
    full: usize,
}

impl<'n> Ancestry<'n> {
    /// Hash the name and its ancestors, most specific first.
    #[inline]
    pub fn of(name: &'n crate::name::Name) -> Ancestry<'n> {
        Ancestry::down_to(name, 1)
    }

    /// Like `of`, but stop before ancestors with fewer than `min_labels` labels: no table that
    /// will be asked holds anything that short (typically the bare top-level domain).
    #[inline]
    pub fn down_to(name: &'n crate::name::Name, min_labels: usize) -> Ancestry<'n> {
        let total = name.label_count();
        let mut a = Ancestry { items: [(&[], 0); ANCESTRY], n: 0, rest: None, total, full: name.as_bytes().len() };
        for (i, (_, anc)) in name.ancestors().enumerate() {
            if total - i < min_labels {
                break;
            }
            if a.n == ANCESTRY {
                a.rest = Some(anc);
                break;
            }
            a.items[a.n] = (anc, hash(anc));
            a.n += 1;
        }
        a
    }

    /// Length of the whole name, so a table can tell an exact match from an ancestor.
    pub fn full_len(&self) -> usize {
        self.full
    }

    /// Each ancestor with its label count and hash, most specific first.
    pub fn iter(&self) -> impl Iterator<Item = (&'n [u8], usize, u64)> + '_ {
        let total = self.total;
        let first = self.items[..self.n].iter().enumerate().map(move |(i, &(a, h))| (a, total - i, h));
        let n = self.n;
        let rest = self.rest.into_iter().flat_map(move |r| {
            let mut next = Some(r);
            std::iter::from_fn(move || {
                let cur = next?;
                next = cur.iter().position(|&b| b == b'.').map(|p| &cur[p + 1..]);
                Some(cur)
            })
        });
        first.chain(rest.enumerate().map(move |(j, a)| (a, total - n - j, hash(a))))
    }
}

/// A finished, immutable domain table.
#[derive(Clone)]
pub struct DomainIndex {
    slots: Box<[u64]>,
    /// About 8 bits per key: a key whose bit is clear is certainly absent, so most misses are
    /// answered from this small, cache-resident map without touching `slots`.
    filter: Box<[u64]>,
    arena: Box<[u8]>,
    len: usize,
    min_labels: u8,
    max_labels: u8,
}

impl DomainIndex {
    /// The value stored for exactly this key.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// The stored copy of the key and its value, so explanations can borrow from the table.
    #[inline]
    pub fn get_entry(&self, key: &[u8]) -> Option<(&[u8], u32)> {
        self.get_entry_hashed(key, hash(key))
    }

    /// The hash `get_entry_hashed` expects, so callers can hash once and probe later.
    #[inline]
    pub fn hash_key(key: &[u8]) -> u64 {
        hash(key)
    }

    /// Read the first slot a key would probe. Reading the slots of several keys before probing
    /// any of them lets the CPU overlap their cache misses instead of waiting for each in turn.
    #[inline]
    pub fn touch(&self, h: u64) -> u64 {
        if self.slots.is_empty() || !self.may_contain(h) { 0 } else { self.slots[home(h, self.slots.len())] }
    }

    /// False when the key is certainly absent; one read of a small bit map.
    #[inline]
    pub fn may_contain(&self, h: u64) -> bool {
        let (w, bit) = filter_bit(h, self.filter.len());
        self.filter[w] & bit != 0
    }

    /// `get_entry` with the key's hash already computed.
    #[inline]
    pub fn get_entry_hashed(&self, key: &[u8], h: u64) -> Option<(&[u8], u32)> {
        if self.len == 0 || !self.may_contain(h) {
            return None;
        }
        let t = tag(h);
        let n = self.slots.len();
        let mut i = home(h, n);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s >> TAG_SHIFT == t {
                let k = self.key_at(s);
                if k == key {
                    return Some((k, ((s >> VALUE_SHIFT) & VALUE_MASK) as u32));
                }
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    fn key_at(&self, slot: u64) -> &[u8] {
        let off = (slot & 0xFFFF_FFFF) as usize;
        let len = usize::from(self.arena[off]);
        &self.arena[off + 1..off + 1 + len]
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fewest labels of any key, so lookups skip ancestors that cannot match.
    pub fn min_labels(&self) -> usize {
        usize::from(self.min_labels)
    }

    /// Most labels of any key.
    pub fn max_labels(&self) -> usize {
        usize::from(self.max_labels)
    }

    /// Heap bytes held, for `haven lists stats` and the memory budget.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * 8 + self.filter.len() * 8 + self.arena.len()
    }

    /// Every key with its value, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u32)> {
        self.slots.iter().filter(|&&s| s != 0).map(|&s| (self.key_at(s), ((s >> VALUE_SHIFT) & VALUE_MASK) as u32))
    }
}

impl std::fmt::Debug for DomainIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainIndex").field("len", &self.len).field("slots", &self.slots.len()).finish()
    }
}

impl Default for DomainIndex {
    fn default() -> Self {
        DomainIndexBuilder::with_capacity(0).finish()
    }
}

/// Builds a `DomainIndex` in one streaming pass; presize it so it never rehashes.
pub struct DomainIndexBuilder {
    slots: Vec<u64>,
    filter: Vec<u64>,
    arena: Vec<u8>,
    len: usize,
    min_labels: u8,
    max_labels: u8,
}

impl DomainIndexBuilder {
    /// A builder for about `expected` keys (an upper bound, such as the line count of the lists).
    pub fn with_capacity(expected: usize) -> DomainIndexBuilder {
        let slots = Self::slots_for(expected);
        let mut arena = Vec::with_capacity(expected.saturating_mul(19).saturating_add(1));
        arena.push(0); // offset 0 is never a key, so an all-zero slot means empty
        DomainIndexBuilder {
            slots: vec![0; slots],
            filter: vec![0; filter_words(slots)],
            arena,
            len: 0,
            min_labels: u8::MAX,
            max_labels: 0,
        }
    }

    fn slots_for(n: usize) -> usize {
        // Load factor at most 0.8, never fewer than 8 slots.
        (n.saturating_mul(5) / 4).saturating_add(1).max(8)
    }

    /// Insert `key`, or update its value: `merge` gets the old value (if any) and returns the new.
    pub fn upsert(&mut self, key: &[u8], merge: impl FnOnce(Option<u32>) -> Result<u32, IndexError>) -> Result<(), IndexError> {
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        let h = hash(key);
        let t = tag(h);
        let n = self.slots.len();
        let mut i = home(h, n);
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            if s >> TAG_SHIFT == t {
                let off = (s & 0xFFFF_FFFF) as usize;
                let len = usize::from(self.arena[off]);
                if &self.arena[off + 1..off + 1 + len] == key {
                    let v = merge(Some(((s >> VALUE_SHIFT) & VALUE_MASK) as u32))?;
                    self.slots[i] = (s & !(VALUE_MASK << VALUE_SHIFT)) | (u64::from(v) << VALUE_SHIFT);
                    return Ok(());
                }
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
        let v = merge(None)?;
        if v > MAX_VALUE {
            return Err(IndexError::TooManyValues);
        }
        let off = self.arena.len();
        if off + 1 + key.len() > MAX_ARENA {
            return Err(IndexError::TooLarge);
        }
        // Keys are normalised names: at most 253 bytes.
        self.arena.push(key.len() as u8);
        self.arena.extend_from_slice(key);
        self.slots[i] = (t << TAG_SHIFT) | (u64::from(v) << VALUE_SHIFT) | off as u64;
        let (w, bit) = filter_bit(h, self.filter.len());
        self.filter[w] |= bit;
        self.len += 1;
        let labels = (key.iter().filter(|&&b| b == b'.').count() + 1).min(255) as u8;
        self.min_labels = self.min_labels.min(labels);
        self.max_labels = self.max_labels.max(labels);
        Ok(())
    }

    /// Fallback when the presize was too small: correctness first, one rehash.
    fn grow(&mut self) {
        let new_n = Self::slots_for(self.len.saturating_mul(2).max(8));
        let mut slots = vec![0u64; new_n];
        let mut filter = vec![0u64; filter_words(new_n)];
        for &s in self.slots.iter().filter(|&&s| s != 0) {
            let off = (s & 0xFFFF_FFFF) as usize;
            let len = usize::from(self.arena[off]);
            let h = hash(&self.arena[off + 1..off + 1 + len]);
            let (w, bit) = filter_bit(h, filter.len());
            filter[w] |= bit;
            let mut i = home(h, new_n);
            while slots[i] != 0 {
                i += 1;
                if i == new_n {
                    i = 0;
                }
            }
            slots[i] = s;
        }
        self.slots = slots;
        self.filter = filter;
    }

    /// Number of keys so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Freeze the table; the arena gives back its unused reserve.
    pub fn finish(self) -> DomainIndex {
        let (min_labels, max_labels) = if self.len == 0 { (0, 0) } else { (self.min_labels, self.max_labels) };
        DomainIndex {
            slots: self.slots.into_boxed_slice(),
            filter: self.filter.into_boxed_slice(),
            arena: self.arena.into_boxed_slice(),
            len: self.len,
            min_labels,
            max_labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_lookup_merge_and_grow() {
        let mut b = DomainIndexBuilder::with_capacity(2);
        for i in 0..1000u32 {
            let k = format!("host{i}.example.com");
            b.upsert(k.as_bytes(), |_| Ok(i)).unwrap();
        }
        b.upsert(b"host7.example.com", |old| Ok(old.unwrap() + 5000)).unwrap();
        let idx = b.finish();
        assert_eq!(idx.len(), 1000);
        assert_eq!(idx.get(b"host7.example.com"), Some(5007));
        assert_eq!(idx.get(b"host999.example.com"), Some(999));
        assert_eq!(idx.get(b"host1000.example.com"), None);
        assert_eq!(idx.get(b"example.com"), None);
        assert_eq!((idx.min_labels(), idx.max_labels()), (3, 3));
        assert_eq!(idx.iter().count(), 1000);
    }

    #[test]
    fn refuses_values_that_do_not_fit() {
        let mut b = DomainIndexBuilder::with_capacity(1);
        assert_eq!(b.upsert(b"a.com", |_| Ok(MAX_VALUE + 1)), Err(IndexError::TooManyValues));
    }
}
