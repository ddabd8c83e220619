//! The wire-level fast path: the common query (one question written without compression, at
//! most one OPT record with no options) read without hickory, and answers assembled from
//! pre-encoded sections with only the ID, flags and TTLs patched in.
//!
//! Anything this module does not accept goes to hickory in `handler.rs`, which stays the
//! reference: the property tests compare the two paths' answers.

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::Record;

/// Length of the DNS header.
pub(crate) const HEADER_LEN: usize = 12;
/// RR type of the EDNS pseudo-record.
const TYPE_OPT: u16 = 41;
/// The OPT record Haven answers with: root owner, OPT, payload 1232, version 0, no flags, no options.
const RESPONSE_OPT: [u8; 11] = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];
/// Longest wire name (RFC 1035 §2.3.4).
const MAX_WIRE_NAME: usize = 255;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

/// A query simple enough for the fast path, borrowed from the packet it came in.
pub(crate) struct SimpleQuery<'a> {
    /// The client's message ID.
    pub(crate) id: u16,
    /// Recursion desired, echoed in the answer.
    pub(crate) rd: bool,
    /// Checking disabled, echoed in the answer.
    pub(crate) cd: bool,
    /// The question as sent (name, type, class), echoed in the answer with the client's case.
    pub(crate) question: &'a [u8],
    /// Query type.
    pub(crate) qtype: u16,
    /// Query class.
    pub(crate) qclass: u16,
    /// The payload size the client advertised in its OPT record, if it sent one.
    pub(crate) edns: Option<u16>,
    text: [u8; MAX_WIRE_NAME],
    text_len: usize,
}

impl SimpleQuery<'_> {
    /// The name lower-cased in presentation form without the final dot (`www.example.com`).
    pub(crate) fn name_text(&self) -> &[u8] {
        self.text.get(..self.text_len).unwrap_or_default()
    }

    /// An owned copy of what an answer needs, for queries finished on another task.
    pub(crate) fn to_owned_head(&self) -> OwnedQuery {
        OwnedQuery { id: self.id, rd: self.rd, cd: self.cd, question: self.question.to_vec(), edns: self.edns.is_some() }
    }
}

/// What an answer needs of a query that is finished later (after an upstream answers).
pub(crate) struct OwnedQuery {
    id: u16,
    rd: bool,
    cd: bool,
    question: Vec<u8>,
    edns: bool,
}

/// Read `packet` if it is the common shape: a query (QR 0, opcode QUERY) with one question, no
/// answer or authority records, a name of plain labels (no compression pointer, no dot inside a
/// label, not the root), and either nothing after the question or exactly one version-0 OPT
/// record without options. `None` sends the packet to the hickory path.
pub(crate) fn parse(packet: &[u8]) -> Option<SimpleQuery<'_>> {
    let &[i0, i1, b2, b3] = packet.first_chunk::<4>()?;
    if b2 & 0x80 != 0 || (b2 >> 3) & 0x0f != 0 {
        return None;
    }
    if u16_at(packet, 4)? != 1 || u16_at(packet, 6)? != 0 || u16_at(packet, 8)? != 0 {
        return None;
    }
    let additional = u16_at(packet, 10)?;
    if additional > 1 {
        return None;
    }
    let mut text = [0u8; MAX_WIRE_NAME];
    let mut text_len = 0usize;
    let mut pos = HEADER_LEN;
    loop {
        let len = usize::from(*packet.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        // 64 and above are compression pointers and reserved label types.
        if len > 63 || pos - HEADER_LEN + len >= MAX_WIRE_NAME {
            return None;
        }
        let label = packet.get(pos..pos + len)?;
        if text_len > 0 {
            *text.get_mut(text_len)? = b'.';
            text_len += 1;
        }
        for &b in label {
            if b == b'.' {
                return None;
            }
            *text.get_mut(text_len)? = b.to_ascii_lowercase();
            text_len += 1;
        }
        pos += len;
    }
    if text_len == 0 {
        return None;
    }
    let qtype = u16_at(packet, pos)?;
    let qclass = u16_at(packet, pos + 2)?;
    let question = packet.get(HEADER_LEN..pos + 4)?;
    pos += 4;
    let edns = if additional == 1 {
        // Root owner, type OPT, class = payload size, TTL = extended rcode, version, flags; no options.
        let rr = packet.get(pos..pos + 11)?;
        if rr.first() != Some(&0) || u16_at(rr, 1)? != TYPE_OPT || u16_at(rr, 5)? != 0 || u16_at(rr, 9)? != 0 {
            return None;
        }
        pos += 11;
        Some(u16_at(rr, 3)?)
    } else {
        None
    };
    if pos != packet.len() {
        return None;
    }
    Some(SimpleQuery {
        id: u16::from_be_bytes([i0, i1]),
        rd: b2 & 0x01 != 0,
        cd: b3 & 0x10 != 0,
        question,
        qtype,
        qclass,
        edns,
        text,
        text_len,
    })
}

/// Answer and authority sections encoded once, valid after any question of `question_len`
/// bytes at offset 12 (compression pointers into the question, and between the records, then
/// land where they should).
#[derive(Debug, Clone)]
pub(crate) struct Sections {
    rcode: u8,
    answers: u16,
    authorities: u16,
    question_len: usize,
    bytes: Box<[u8]>,
    /// Offset in `bytes` and original value of each record's TTL, counted down when served.
    ttls: Box<[(usize, u32)]>,
}

impl Sections {
    /// Sections with no records, for an error answer such as SERVFAIL.
    pub(crate) fn empty(rcode: ResponseCode) -> Sections {
        Sections { rcode: rcode_bits(rcode), answers: 0, authorities: 0, question_len: 0, bytes: Box::default(), ttls: Box::default() }
    }

    /// Sections of hand-written records whose owner is the question (pointer to offset 12):
    /// `records` are (type, TTL, RDATA) with names in RDATA written out in full. Their TTLs are
    /// fixed, not counted down.
    pub(crate) fn synthetic(rcode: ResponseCode, answers: &[(u16, u32, &[u8])], authorities: &[(u16, u32, &[u8])]) -> Sections {
        let mut bytes = Vec::new();
        for (rtype, ttl, rdata) in answers.iter().chain(authorities) {
            bytes.extend_from_slice(&[0xc0, 0x0c]);
            bytes.extend_from_slice(&rtype.to_be_bytes());
            bytes.extend_from_slice(&1u16.to_be_bytes());
            bytes.extend_from_slice(&ttl.to_be_bytes());
            bytes.extend_from_slice(&u16::try_from(rdata.len()).unwrap_or(0).to_be_bytes());
            bytes.extend_from_slice(rdata);
        }
        Sections {
            rcode: rcode_bits(rcode),
            answers: u16::try_from(answers.len()).unwrap_or(0),
            authorities: u16::try_from(authorities.len()).unwrap_or(0),
            question_len: 0,
            bytes: bytes.into_boxed_slice(),
            ttls: Box::default(),
        }
    }

    /// Encode `answers` and `authorities` after `question` with hickory, keep what follows the
    /// question, and note where each TTL is. `None` if it cannot be encoded or re-read.
    pub(crate) fn encode(question: Query, rcode: ResponseCode, answers: &[Record], authorities: &[Record]) -> Option<Sections> {
        let bits = rcode_bits(rcode);
        if u16::from(rcode) > 0x0f {
            return None;
        }
        let mut m = Message::response(0, OpCode::Query);
        m.queries.push(question);
        m.answers.extend_from_slice(answers);
        m.authorities.extend_from_slice(authorities);
        let bytes = m.to_vec().ok()?;
        let question_len = skip_name(&bytes, HEADER_LEN)? + 4 - HEADER_LEN;
        let body = bytes.get(HEADER_LEN + question_len..)?;
        let mut ttls = Vec::with_capacity(answers.len() + authorities.len());
        let mut pos = HEADER_LEN + question_len;
        for _ in 0..answers.len() + authorities.len() {
            let at = skip_name(&bytes, pos)? + 4;
            let ttl = bytes.get(at..at + 4).map(|t| u32::from_be_bytes([t[0], t[1], t[2], t[3]]))?;
            ttls.push((at - HEADER_LEN - question_len, ttl));
            pos = at + 6 + usize::from(u16_at(&bytes, at + 4)?);
        }
        if pos != bytes.len() {
            return None;
        }
        Some(Sections {
            rcode: bits,
            answers: u16::try_from(answers.len()).ok()?,
            authorities: u16::try_from(authorities.len()).ok()?,
            question_len,
            bytes: body.into(),
            ttls: ttls.into_boxed_slice(),
        })
    }

    /// True when these sections may follow a question of `len` bytes.
    pub(crate) fn fits_question(&self, len: usize) -> bool {
        self.question_len == 0 || self.question_len == len
    }
}

fn rcode_bits(rcode: ResponseCode) -> u8 {
    (u16::from(rcode) & 0x0f) as u8
}

/// The offset just after the name starting at `pos` (labels ending in the root or a pointer).
fn skip_name(b: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *b.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            1..=63 => pos += 1 + usize::from(len),
            0xc0..=0xff => return Some(pos + 2),
            _ => return None,
        }
    }
}

/// Anything that can head an answer: a query read in place or one kept for later.
pub(crate) trait Head {
    /// ID, RD, CD, the question bytes, and whether the query had EDNS.
    fn parts(&self) -> (u16, bool, bool, &[u8], bool);
}

impl Head for SimpleQuery<'_> {
    fn parts(&self) -> (u16, bool, bool, &[u8], bool) {
        (self.id, self.rd, self.cd, self.question, self.edns.is_some())
    }
}

impl Head for OwnedQuery {
    fn parts(&self) -> (u16, bool, bool, &[u8], bool) {
        (self.id, self.rd, self.cd, &self.question, self.edns)
    }
}

/// The answer to `q`: header, the client's question, `s` with TTLs reduced by `age` seconds,
/// and an OPT record if the query had one. An answer longer than `limit` is cut to header,
/// question and OPT with TC set; the flag in the result says so.
pub(crate) fn respond(q: &impl Head, s: &Sections, age: u32, limit: usize) -> (Vec<u8>, bool) {
    let (id, rd, cd, question, edns) = q.parts();
    let opt: &[u8] = if edns { &RESPONSE_OPT } else { &[] };
    let full = HEADER_LEN + question.len() + s.bytes.len() + opt.len();
    let truncated = full > limit;
    let (answers, authorities) = if truncated { (0, 0) } else { (s.answers, s.authorities) };
    let mut out = Vec::with_capacity(if truncated { HEADER_LEN + question.len() + opt.len() } else { full });
    out.extend_from_slice(&id.to_be_bytes());
    out.push(0x80 | if truncated { 0x02 } else { 0 } | u8::from(rd));
    out.push(0x80 | if cd { 0x10 } else { 0 } | s.rcode);
    for count in [1, answers, authorities, u16::from(edns)] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(question);
    if !truncated {
        let base = out.len();
        out.extend_from_slice(&s.bytes);
        for &(off, ttl) in s.ttls.iter() {
            if let Some(t) = out.get_mut(base + off..base + off + 4) {
                t.copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
            }
        }
    }
    out.extend_from_slice(opt);
    (out, truncated)
}

/// A name in uncompressed wire form (`haven.invalid` -> `5haven7invalid0`); `None` if a label is
/// empty or longer than 63 bytes.
pub(crate) fn name_bytes(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() + 2);
    for label in text.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len()).ok().filter(|l| (1..=63).contains(l))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::{DNSClass, Name, RecordType};

    use super::*;

    fn query(name: &str, edns: Option<Edns>) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::AAAA));
        if let Some(e) = edns {
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn reads_the_common_query() {
        let bytes = query("WWW.Example.com.", None);
        let q = parse(&bytes).expect("the common shape");
        assert_eq!(q.name_text(), b"www.example.com");
        assert_eq!((q.qtype, q.qclass, q.edns, q.rd, q.cd), (u16::from(RecordType::AAAA), u16::from(DNSClass::IN), None, true, false));
        assert_eq!(q.question.len(), 17 + 4);
        let mut e = Edns::new();
        e.set_max_payload(4096);
        assert_eq!(parse(&query("a.test.", Some(e))).unwrap().edns, Some(4096));
    }

    #[test]
    fn leaves_everything_else_to_hickory() {
        // EDNS version 1 (BADVERS), an OPT with an option, two questions, a pointer, a response,
        // the root name, trailing bytes, a cut packet.
        let mut v1 = Edns::new();
        v1.set_version(1);
        let mut with_option = query("a.test.", Some(Edns::new()));
        let n = with_option.len();
        with_option[n - 2..].copy_from_slice(&[0, 4]);
        with_option.extend_from_slice(&[0, 10, 0, 0]);
        let mut two = query("a.test.", None);
        two[5] = 2;
        let mut pointer = query("a.test.", None);
        pointer.truncate(12);
        pointer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        let mut response = query("a.test.", None);
        response[2] |= 0x80;
        let mut trailing = query("a.test.", None);
        trailing.push(0);
        let cut = &query("a.test.", None)[..15];
        for bytes in [&query("a.test.", Some(v1))[..], &with_option, &two, &pointer, &response, &query(".", None), &trailing, cut, &[]] {
            assert!(parse(bytes).is_none(), "{bytes:?}");
        }
    }

    #[test]
    fn patches_id_flags_and_ttls_and_truncates() {
        let name = Name::from_ascii("a.test.").unwrap();
        let rec = hickory_proto::rr::Record::from_rdata(
            name.clone(),
            300,
            hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A(std::net::Ipv4Addr::new(192, 0, 2, 1))),
        );
        let s = Sections::encode(Query::query(name, RecordType::A), ResponseCode::NoError, &[rec], &[]).unwrap();
        let mut bytes = query("A.Test.", Some(Edns::new()));
        bytes[0..2].copy_from_slice(&[0xab, 0xcd]);
        let q = parse(&bytes).unwrap();
        let (out, truncated) = respond(&q, &s, 100, 512);
        assert!(!truncated);
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.metadata.id, 0xabcd);
        assert!(m.metadata.recursion_available && m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name().to_ascii(), "A.Test.");
        assert_eq!(m.answers[0].ttl, 200, "TTL counted down");
        assert_eq!(m.edns.map(|e| e.max_payload()), Some(1232));
        let (out, truncated) = respond(&q, &s, 0, 30);
        assert!(truncated);
        let m = Message::from_vec(&out).unwrap();
        assert!(m.metadata.truncation && m.answers.is_empty());
    }
}
