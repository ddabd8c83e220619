//! RADIUS accounting packets (RFC 2866) read from untrusted bytes: the header, the attributes
//! Haven uses, the Request Authenticator check and the Accounting-Response.
//!
//! Nothing here panics on any input: every length is checked before it is used, and the fuzz
//! target (`fuzz_body`) holds the parser to that.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// Accounting-Request (RFC 2866 section 3).
pub const CODE_ACCOUNTING_REQUEST: u8 = 4;
/// Accounting-Response (RFC 2866 section 4).
pub const CODE_ACCOUNTING_RESPONSE: u8 = 5;
/// Smallest packet: code, identifier, length, authenticator.
pub const HEADER_LEN: usize = 20;
/// Largest packet RFC 2865 allows.
pub const MAX_PACKET_LEN: usize = 4096;

const ATTR_USER_NAME: u8 = 1;
const ATTR_NAS_IP_ADDRESS: u8 = 4;
const ATTR_FRAMED_IP_ADDRESS: u8 = 8;
const ATTR_SESSION_TIMEOUT: u8 = 27;
const ATTR_CALLING_STATION_ID: u8 = 31;
const ATTR_NAS_IDENTIFIER: u8 = 32;
const ATTR_ACCT_STATUS_TYPE: u8 = 40;
const ATTR_ACCT_SESSION_ID: u8 = 44;
const ATTR_ACCT_INTERIM_INTERVAL: u8 = 85;
const ATTR_NAS_IPV6_ADDRESS: u8 = 95;
const ATTR_FRAMED_IPV6_ADDRESS: u8 = 168;

/// Longest text attribute kept (RFC 2865 allows 253 octets; anything longer is impossible).
const MAX_TEXT: usize = 253;

/// What an accounting packet reports (Acct-Status-Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusType {
    /// A session began.
    Start,
    /// A session ended.
    Stop,
    /// A session is still going (sent every Acct-Interim-Interval).
    InterimUpdate,
    /// The NAS restarted: every session it had is gone.
    AccountingOn,
    /// The NAS is going down: every session it had ends.
    AccountingOff,
    /// Any other value (tunnel and failure types), acknowledged and otherwise ignored.
    Other(u32),
}

impl StatusType {
    fn from_u32(v: u32) -> StatusType {
        match v {
            1 => StatusType::Start,
            2 => StatusType::Stop,
            3 => StatusType::InterimUpdate,
            7 => StatusType::AccountingOn,
            8 => StatusType::AccountingOff,
            other => StatusType::Other(other),
        }
    }

    /// The name used in logs and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            StatusType::Start => "start",
            StatusType::Stop => "stop",
            StatusType::InterimUpdate => "interim_update",
            StatusType::AccountingOn => "accounting_on",
            StatusType::AccountingOff => "accounting_off",
            StatusType::Other(_) => "other",
        }
    }
}

/// Why bytes were not a usable accounting packet; counted, then the packet is dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer than 20 bytes.
    #[error("packet of {0} bytes is shorter than the 20-byte RADIUS header")]
    TooShort(usize),
    /// The Length field is below 20, above 4096 or beyond the bytes received.
    #[error("length field {length} does not fit the {received} bytes received (20 to 4096 allowed)")]
    BadLength {
        /// The Length field.
        length: usize,
        /// Bytes received.
        received: usize,
    },
    /// Not an Accounting-Request.
    #[error("code {0} is not an Accounting-Request (4)")]
    NotAccountingRequest(u8),
    /// An attribute's length runs past the packet or is below 2.
    #[error("attribute {attr} at offset {offset} has a bad length")]
    BadAttribute {
        /// Attribute type.
        attr: u8,
        /// Where it starts.
        offset: usize,
    },
    /// A fixed-size attribute (address, integer) has the wrong size.
    #[error("attribute {attr} has {len} value bytes, {expected} expected")]
    BadValue {
        /// Attribute type.
        attr: u8,
        /// Value length found.
        len: usize,
        /// Value length required.
        expected: usize,
    },
    /// No Acct-Status-Type: RFC 2866 requires one in every Accounting-Request.
    #[error("no Acct-Status-Type attribute")]
    NoStatusType,
}

/// The parts of an Accounting-Request Haven acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRequest {
    /// Identifier, echoed in the response.
    pub identifier: u8,
    /// The Request Authenticator as sent.
    pub authenticator: [u8; 16],
    /// Acct-Status-Type.
    pub status: StatusType,
    /// User-Name as sent (realm not yet stripped).
    pub user_name: Option<String>,
    /// Framed-IP-Address: the client's IPv4 address.
    pub framed_ipv4: Option<Ipv4Addr>,
    /// Framed-IPv6-Address (RFC 6911): the client's IPv6 address.
    pub framed_ipv6: Option<Ipv6Addr>,
    /// Acct-Session-Id.
    pub session_id: Option<String>,
    /// Calling-Station-Id: normally the client's MAC address, normalised when it is one.
    pub calling_station: Option<String>,
    /// NAS-IP-Address or NAS-IPv6-Address.
    pub nas_ip: Option<IpAddr>,
    /// NAS-Identifier.
    pub nas_identifier: Option<String>,
    /// Session-Timeout, seconds.
    pub session_timeout: Option<u32>,
    /// Acct-Interim-Interval, seconds.
    pub interim_interval: Option<u32>,
}

impl AccountingRequest {
    /// The client addresses this session uses.
    pub fn framed_addrs(&self) -> Vec<IpAddr> {
        self.framed_ipv4.map(IpAddr::V4).into_iter().chain(self.framed_ipv6.map(IpAddr::V6)).collect()
    }
}

/// The packet's bytes up to its Length field, after checking the header.
fn framed(bytes: &[u8]) -> Result<&[u8], PacketError> {
    if bytes.len() < HEADER_LEN {
        return Err(PacketError::TooShort(bytes.len()));
    }
    let length = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&length) || length > bytes.len() {
        return Err(PacketError::BadLength { length, received: bytes.len() });
    }
    // Octets past Length are padding and are ignored (RFC 2865 section 3).
    Ok(&bytes[..length])
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(&v[..v.len().min(MAX_TEXT)]).trim().to_owned()
}

fn fixed<const N: usize>(attr: u8, v: &[u8]) -> Result<[u8; N], PacketError> {
    <[u8; N]>::try_from(v).map_err(|_| PacketError::BadValue { attr, len: v.len(), expected: N })
}

/// Parse an Accounting-Request. The authenticator is not checked here; see [`verify_request`].
pub fn parse_request(bytes: &[u8]) -> Result<AccountingRequest, PacketError> {
    let p = framed(bytes)?;
    if p[0] != CODE_ACCOUNTING_REQUEST {
        return Err(PacketError::NotAccountingRequest(p[0]));
    }
    let mut authenticator = [0u8; 16];
    authenticator.copy_from_slice(&p[4..20]);
    let mut req = AccountingRequest {
        identifier: p[1],
        authenticator,
        status: StatusType::Other(0),
        user_name: None,
        framed_ipv4: None,
        framed_ipv6: None,
        session_id: None,
        calling_station: None,
        nas_ip: None,
        nas_identifier: None,
        session_timeout: None,
        interim_interval: None,
    };
    let mut status = None;
    let mut at = HEADER_LEN;
    while at < p.len() {
        let attr = p[at];
        let len = p.get(at + 1).map_or(0, |l| usize::from(*l));
        if len < 2 || at + len > p.len() {
            return Err(PacketError::BadAttribute { attr, offset: at });
        }
        let v = &p[at + 2..at + len];
        match attr {
            ATTR_USER_NAME => req.user_name = Some(text(v)),
            ATTR_FRAMED_IP_ADDRESS => {
                let a = Ipv4Addr::from(fixed::<4>(attr, v)?);
                // 255.255.255.255 and 255.255.255.254 mean "the NAS chooses" (RFC 2865 5.8): no address.
                if !a.is_broadcast() && a != Ipv4Addr::new(255, 255, 255, 254) && !a.is_unspecified() {
                    req.framed_ipv4 = Some(a);
                }
            }
            ATTR_FRAMED_IPV6_ADDRESS => {
                let a = Ipv6Addr::from(fixed::<16>(attr, v)?);
                if !a.is_unspecified() {
                    req.framed_ipv6 = Some(a);
                }
            }
            ATTR_NAS_IP_ADDRESS => req.nas_ip = Some(IpAddr::V4(Ipv4Addr::from(fixed::<4>(attr, v)?))),
            ATTR_NAS_IPV6_ADDRESS => req.nas_ip = Some(IpAddr::V6(Ipv6Addr::from(fixed::<16>(attr, v)?))),
            ATTR_NAS_IDENTIFIER => req.nas_identifier = Some(text(v)),
            ATTR_ACCT_SESSION_ID => req.session_id = Some(text(v)),
            ATTR_CALLING_STATION_ID => req.calling_station = Some(normalise_station(&text(v))),
            ATTR_ACCT_STATUS_TYPE => status = Some(StatusType::from_u32(u32::from_be_bytes(fixed::<4>(attr, v)?))),
            ATTR_SESSION_TIMEOUT => req.session_timeout = Some(u32::from_be_bytes(fixed::<4>(attr, v)?)),
            ATTR_ACCT_INTERIM_INTERVAL => req.interim_interval = Some(u32::from_be_bytes(fixed::<4>(attr, v)?)),
            _ => {}
        }
        at += len;
    }
    req.status = status.ok_or(PacketError::NoStatusType)?;
    Ok(req)
}

/// A MAC address in any of the usual spellings (`AA-BB-CC-DD-EE-FF`, `aabb.ccdd.eeff`,
/// `aa:bb:cc:dd:ee:ff`, `AABBCCDDEEFF`) as lower-case `aa:bb:cc:dd:ee:ff`; anything else as sent.
pub fn normalise_station(s: &str) -> String {
    let hex: String = s.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
    let separators_ok = s.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    if hex.len() == 12 && separators_ok && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let lower = hex.to_ascii_lowercase();
        let pairs: Vec<&str> = (0..6).filter_map(|i| lower.get(i * 2..i * 2 + 2)).collect();
        pairs.join(":")
    } else {
        s.to_owned()
    }
}

/// Check an Accounting-Request's authenticator against the client's shared secret:
/// MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret) (RFC 2866 section 3),
/// compared in constant time.
pub fn verify_request(bytes: &[u8], secret: &[u8]) -> bool {
    let Ok(p) = framed(bytes) else { return false };
    let mut h = Md5::new();
    h.update(&p[..4]);
    h.update([0u8; 16]);
    h.update(&p[HEADER_LEN..]);
    h.update(secret);
    let expected: [u8; 16] = h.finalize().into();
    bool::from(expected.ct_eq(&p[4..20]))
}

/// Sign a request in place (what a NAS does); for tests and tools.
pub fn sign_request(packet: &mut [u8], secret: &[u8]) {
    if packet.len() < HEADER_LEN {
        return;
    }
    packet[4..20].fill(0);
    let mut h = Md5::new();
    h.update(&*packet);
    h.update(secret);
    let sum: [u8; 16] = h.finalize().into();
    packet[4..20].copy_from_slice(&sum);
}

/// The Accounting-Response to a verified request: code 5, the same identifier, no attributes,
/// Response Authenticator = MD5(Code + Identifier + Length + Request Authenticator + Secret).
pub fn response(req: &AccountingRequest, secret: &[u8]) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[0] = CODE_ACCOUNTING_RESPONSE;
    out[1] = req.identifier;
    out[2..4].copy_from_slice(&(HEADER_LEN as u16).to_be_bytes());
    let mut h = Md5::new();
    h.update(&out[..4]);
    h.update(req.authenticator);
    h.update(secret);
    let sum: [u8; 16] = h.finalize().into();
    out[4..20].copy_from_slice(&sum);
    out
}

/// Builds request packets attribute by attribute; for tests, benches and the fuzz seeds.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    bytes: Vec<u8>,
}

impl RequestBuilder {
    /// An Accounting-Request with this identifier and status.
    pub fn new(identifier: u8, status: u32) -> RequestBuilder {
        let mut bytes = vec![CODE_ACCOUNTING_REQUEST, identifier, 0, 0];
        bytes.extend_from_slice(&[0u8; 16]);
        RequestBuilder { bytes }.attr(ATTR_ACCT_STATUS_TYPE, &status.to_be_bytes())
    }

    /// Append one attribute (values over 253 bytes are cut).
    pub fn attr(mut self, kind: u8, value: &[u8]) -> RequestBuilder {
        let v = &value[..value.len().min(MAX_TEXT)];
        self.bytes.push(kind);
        self.bytes.push((v.len() + 2) as u8);
        self.bytes.extend_from_slice(v);
        self
    }

    /// User-Name.
    pub fn user(self, name: &str) -> RequestBuilder {
        self.attr(ATTR_USER_NAME, name.as_bytes())
    }

    /// Framed-IP-Address.
    pub fn framed_ip(self, a: Ipv4Addr) -> RequestBuilder {
        self.attr(ATTR_FRAMED_IP_ADDRESS, &a.octets())
    }

    /// Acct-Session-Id.
    pub fn session(self, id: &str) -> RequestBuilder {
        self.attr(ATTR_ACCT_SESSION_ID, id.as_bytes())
    }

    /// The signed packet.
    pub fn build(mut self, secret: &[u8]) -> Vec<u8> {
        let len = self.bytes.len().min(MAX_PACKET_LEN) as u16;
        self.bytes.truncate(usize::from(len));
        self.bytes[2..4].copy_from_slice(&len.to_be_bytes());
        sign_request(&mut self.bytes, secret);
        self.bytes
    }
}

/// The fuzz target's body: parse and verify arbitrary bytes; never panics, and a parsed request
/// always yields a response of the right shape. Also run by the normal tests.
pub fn fuzz_body(bytes: &[u8]) {
    let verified = verify_request(bytes, b"fuzz-secret");
    if let Ok(req) = parse_request(bytes) {
        let r = response(&req, b"fuzz-secret");
        assert_eq!(r[0], CODE_ACCOUNTING_RESPONSE);
        assert_eq!(r[1], req.identifier);
        assert!(req.user_name.as_ref().is_none_or(|u| u.len() <= 4 * MAX_TEXT));
        let _ = req.framed_addrs();
    } else if verified {
        // A packet can be correctly signed yet unusable (no status type): fine, it is dropped.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2866_request_and_response_authenticators() {
        let secret = b"testing123";
        let bytes = RequestBuilder::new(7, 1).user("j.smith@school").framed_ip(Ipv4Addr::new(10, 1, 2, 3)).session("abc").build(secret);
        assert!(verify_request(&bytes, secret));
        assert!(!verify_request(&bytes, b"wrong"));
        let req = parse_request(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.status, StatusType::Start);
        assert_eq!(req.user_name.as_deref(), Some("j.smith@school"));
        assert_eq!(req.framed_ipv4, Some(Ipv4Addr::new(10, 1, 2, 3)));
        let r = response(&req, secret);
        // Recompute independently: MD5(5, id, 0x0014, request authenticator, secret).
        let mut h = Md5::new();
        h.update([5, 7, 0, 20]);
        h.update(&bytes[4..20]);
        h.update(secret);
        let sum: [u8; 16] = h.finalize().into();
        assert_eq!(&r[4..], &sum);
        assert_eq!(&r[..4], &[5, 7, 0, 20]);
    }

    #[test]
    fn a_changed_byte_fails_the_authenticator() {
        let secret = b"s3cret-s3cret";
        let mut bytes = RequestBuilder::new(1, 3).user("a").build(secret);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(!verify_request(&bytes, secret));
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        assert_eq!(parse_request(&[4, 1, 0]), Err(PacketError::TooShort(3)));
        let mut b = RequestBuilder::new(1, 1).build(b"x");
        b[3] = 200;
        assert!(matches!(parse_request(&b), Err(PacketError::BadLength { .. })));
        let mut b = RequestBuilder::new(1, 1).build(b"x");
        b[0] = 1;
        assert_eq!(parse_request(&b), Err(PacketError::NotAccountingRequest(1)));
        let b = RequestBuilder::new(1, 1).attr(ATTR_FRAMED_IP_ADDRESS, &[1, 2, 3]).build(b"x");
        assert!(matches!(parse_request(&b), Err(PacketError::BadValue { attr: 8, len: 3, .. })));
        let mut b = RequestBuilder::new(1, 1).user("abc").build(b"x");
        let n = b.len();
        b[n - 4] = 9; // the User-Name length now runs past the end
        assert!(matches!(parse_request(&b), Err(PacketError::BadAttribute { attr: 1, .. })));
        let mut b = vec![4, 1, 0, 20];
        b.extend_from_slice(&[0; 16]);
        assert_eq!(parse_request(&b), Err(PacketError::NoStatusType));
    }

    #[test]
    fn trailing_padding_is_ignored_and_the_nas_chooses_address_is_none() {
        let mut b = RequestBuilder::new(1, 1).framed_ip(Ipv4Addr::BROADCAST).build(b"x");
        b.extend_from_slice(&[0xff; 10]);
        assert!(verify_request(&b, b"x"));
        assert_eq!(parse_request(&b).map(|r| r.framed_ipv4), Ok(None));
    }

    #[test]
    fn mac_addresses_are_normalised() {
        assert_eq!(normalise_station("AA-BB-CC-DD-EE-0F"), "aa:bb:cc:dd:ee:0f");
        assert_eq!(normalise_station("aabb.ccdd.ee0f"), "aa:bb:cc:dd:ee:0f");
        assert_eq!(normalise_station("AABBCCDDEE0F"), "aa:bb:cc:dd:ee:0f");
        assert_eq!(normalise_station("10.0.0.1"), "10.0.0.1");
        assert_eq!(normalise_station("zz-bb-cc-dd-ee-0f"), "zz-bb-cc-dd-ee-0f");
    }
}
