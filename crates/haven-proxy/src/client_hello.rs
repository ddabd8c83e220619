//! Reading the server name (SNI) from a TLS ClientHello without terminating TLS.
//!
//! The bytes come from an untrusted client, so every length is checked against what is actually
//! there; the parser never panics and never reads past the buffer (the `client_hello` fuzz target
//! drives it). It works on a prefix: [`Peek::NeedMore`] asks the caller to read more before
//! deciding, so a ClientHello split over several TCP segments or TLS records is still read.

/// The most ClientHello bytes Haven buffers before giving up: real ones are under 2 KiB, large
/// post-quantum key shares take them to about 8 KiB.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

/// What a prefix of a TLS connection tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peek {
    /// A complete ClientHello; the server name, if it carried one.
    Hello(Option<String>),
    /// Not enough bytes yet to finish the ClientHello.
    NeedMore,
}

/// Why the bytes are not a ClientHello Haven will pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The first byte is not a TLS handshake record (plain HTTP, SSH, a VPN protocol...).
    #[error("not a TLS handshake (first byte {0:#04x})")]
    NotTls(u8),
    /// A TLS record or handshake message is malformed.
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
    /// The ClientHello is larger than [`MAX_CLIENT_HELLO`].
    #[error("ClientHello larger than {MAX_CLIENT_HELLO} bytes")]
    TooLarge,
}

/// Read the server name from the start of a TLS connection.
///
/// Handshake records are reassembled (a ClientHello may span records); the SNI extension's first
/// `host_name` entry is returned in lower case. A name that is not valid ASCII is malformed.
pub fn peek_server_name(buf: &[u8]) -> Result<Peek, HelloError> {
    let Some(&first) = buf.first() else { return Ok(Peek::NeedMore) };
    if first != 0x16 {
        return Err(HelloError::NotTls(first));
    }
    // Reassemble the handshake layer from consecutive records.
    let mut hs: Vec<u8> = Vec::new();
    let mut rest = buf;
    loop {
        if rest.len() < 5 {
            return if rest.is_empty() || rest[0] == 0x16 { Ok(Peek::NeedMore) } else { Err(HelloError::Malformed("record type")) };
        }
        if rest[0] != 0x16 {
            return Err(HelloError::Malformed("handshake interrupted by another record type"));
        }
        if rest[1] != 0x03 {
            return Err(HelloError::Malformed("record version"));
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len == 0 {
            return Err(HelloError::Malformed("empty handshake record"));
        }
        if hs.len() + len > MAX_CLIENT_HELLO {
            return Err(HelloError::TooLarge);
        }
        let Some(body) = rest.get(5..5 + len) else {
            return Ok(Peek::NeedMore);
        };
        hs.extend_from_slice(body);
        rest = &rest[5 + len..];
        if hs.len() >= 4 {
            if hs[0] != 0x01 {
                return Err(HelloError::Malformed("first handshake message is not a ClientHello"));
            }
            let msg_len = (usize::from(hs[1]) << 16) | (usize::from(hs[2]) << 8) | usize::from(hs[3]);
            if msg_len > MAX_CLIENT_HELLO {
                return Err(HelloError::TooLarge);
            }
            if hs.len() >= 4 + msg_len {
                return parse_hello(&hs[4..4 + msg_len]).map(Peek::Hello);
            }
        }
    }
}

/// A cursor that fails instead of panicking.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], HelloError> {
        if self.0.len() < n {
            return Err(HelloError::Malformed(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<usize, HelloError> {
        Ok(usize::from(self.take(1, what)?[0]))
    }

    fn u16(&mut self, what: &'static str) -> Result<usize, HelloError> {
        let b = self.take(2, what)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = self.u8(what)?;
        self.take(n, what)
    }

    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = self.u16(what)?;
        self.take(n, what)
    }
}

fn parse_hello(body: &[u8]) -> Result<Option<String>, HelloError> {
    let mut r = Reader(body);
    r.take(2, "client version")?;
    r.take(32, "random")?;
    r.vec8("session id")?;
    r.vec16("cipher suites")?;
    r.vec8("compression methods")?;
    if r.0.is_empty() {
        return Ok(None); // no extensions at all: an old client, no SNI
    }
    let mut exts = Reader(r.vec16("extensions")?);
    while !exts.0.is_empty() {
        let kind = exts.u16("extension type")?;
        let data = exts.vec16("extension body")?;
        if kind != 0 {
            continue;
        }
        let mut list = Reader(Reader(data).vec16("server name list")?);
        while !list.0.is_empty() {
            let name_type = list.u8("server name type")?;
            let name = list.vec16("server name")?;
            if name_type == 0 {
                if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
                    return Err(HelloError::Malformed("server name is not a printable ASCII host name"));
                }
                let text = String::from_utf8_lossy(name).to_ascii_lowercase();
                return Ok(Some(text.trim_end_matches('.').to_string()));
            }
        }
        return Ok(None);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal but well-formed ClientHello record carrying `name` (or no SNI).
    pub(crate) fn hello(name: Option<&str>) -> Vec<u8> {
        let mut exts = Vec::new();
        if let Some(n) = name {
            let n = n.as_bytes();
            let mut sni = Vec::new();
            sni.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
            sni.push(0);
            sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
            sni.extend_from_slice(n);
            exts.extend_from_slice(&[0, 0]);
            exts.extend_from_slice(&(sni.len() as u16).to_be_bytes());
            exts.extend_from_slice(&sni);
        }
        // another extension after, so the walk must skip correctly
        exts.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]);
        body.extend_from_slice(&[0x01, 0x00]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![0x01, 0, 0, 0];
        hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn reads_the_server_name() {
        assert_eq!(peek_server_name(&hello(Some("WWW.Example.COM"))), Ok(Peek::Hello(Some("www.example.com".into()))));
        assert_eq!(peek_server_name(&hello(None)), Ok(Peek::Hello(None)));
    }

    #[test]
    fn every_prefix_asks_for_more_and_never_errs() {
        let full = hello(Some("blocked.example"));
        for n in 0..full.len() {
            assert_eq!(peek_server_name(&full[..n]), Ok(Peek::NeedMore), "prefix {n}");
        }
    }

    #[test]
    fn a_hello_split_over_two_records_is_reassembled() {
        let one = hello(Some("split.example"));
        let hs = &one[5..];
        let (a, b) = hs.split_at(20);
        let mut two = Vec::new();
        for part in [a, b] {
            two.extend_from_slice(&[0x16, 0x03, 0x01]);
            two.extend_from_slice(&(part.len() as u16).to_be_bytes());
            two.extend_from_slice(part);
        }
        assert_eq!(peek_server_name(&two), Ok(Peek::Hello(Some("split.example".into()))));
    }

    #[test]
    fn not_tls_and_garbage_are_refused() {
        assert_eq!(peek_server_name(b"GET / HTTP/1.1\r\n"), Err(HelloError::NotTls(b'G')));
        let mut bad = hello(Some("x.example"));
        bad[5] = 0x02; // handshake type ServerHello
        assert!(matches!(peek_server_name(&bad), Err(HelloError::Malformed(_))));
        let mut lying = hello(Some("x.example"));
        lying[50] = 0xff; // the extensions length now runs past the end of the message
        assert_eq!(peek_server_name(&lying), Err(HelloError::Malformed("extensions")));
        assert_eq!(peek_server_name(&[0x16, 0x03, 0x01, 0xff, 0xff]), Err(HelloError::TooLarge));
    }
}

/// The body of the `client_hello` fuzz target, also run by the normal tests: any bytes, no panic,
/// and a prefix never contradicts the whole (it is `NeedMore`, or the same answer).
pub fn fuzz_body(data: &[u8]) {
    let whole = peek_server_name(data);
    if let Ok(Peek::Hello(Some(name))) = &whole {
        assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()), "server names are printable ASCII");
    }
    for cut in [data.len() / 3, data.len() / 2, data.len().saturating_sub(1)] {
        match peek_server_name(&data[..cut]) {
            Ok(Peek::NeedMore) | Err(_) => {}
            prefix => assert_eq!(prefix, whole, "a prefix decided differently from the whole"),
        }
    }
}
