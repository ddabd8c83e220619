//! Byte-level reading: opening files (gzip or plain), streaming lines with a hard cap on how much
//! of one line is held, and the cheap line count that presizes the domain table.
//!
//! Nothing here reads a whole file into memory: a hostile file with no newlines costs at most
//! `KEEP` bytes of buffer, however long it is.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

/// Longest line the policy core's parsers accept; anything longer is refused without parsing.
pub(crate) const MAX_LINE: usize = 2048;

/// Bytes of one line kept in memory: one more than `MAX_LINE` (plus a CR) so "too long" is exact.
const KEEP: usize = MAX_LINE + 2;

/// Read buffer for files and tar members.
pub(crate) const BUF_SIZE: usize = 64 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An opened input, decompressed if it was gzip.
pub(crate) struct Opened<'a> {
    /// The bytes, buffered.
    pub reader: Box<dyn BufRead + 'a>,
    /// True when a gzip decoder sits in front, so read errors mean a corrupt stream.
    pub compressed: bool,
}

/// Open a file; it is gzip when it has the gzip magic bytes or a `.gz`/`.tgz` name
/// (a `.gz` name without the magic then fails as a corrupt stream rather than loading garbage).
pub(crate) fn open(path: &Path) -> io::Result<Opened<'static>> {
    let file = File::open(path)?;
    decompress(BufReader::with_capacity(BUF_SIZE, file), named_gzip(path))
}

/// True for a `.gz` or `.tgz` file name.
pub(crate) fn named_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("tgz"))
}

/// Put a gzip decoder in front of `reader` when it starts with the gzip magic (or `force` says so).
pub(crate) fn decompress<'a, R: BufRead + 'a>(mut reader: R, force: bool) -> io::Result<Opened<'a>> {
    let head = fill(&mut reader)?;
    if force || head.starts_with(&GZIP_MAGIC) {
        let decoder = MultiGzDecoder::new(reader);
        Ok(Opened { reader: Box::new(BufReader::with_capacity(BUF_SIZE, decoder)), compressed: true })
    } else {
        Ok(Opened { reader: Box::new(reader), compressed: false })
    }
}

/// `fill_buf`, retrying when interrupted.
fn fill<R: BufRead>(reader: &mut R) -> io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    reader.fill_buf()
}

/// Count lines as `LineReader` sees them: newline-terminated lines plus a final unterminated one.
pub(crate) fn count_lines<R: Read + ?Sized>(reader: &mut R) -> io::Result<u64> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut lines = 0u64;
    let mut last = b'\n';
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Some(&b) = chunk.last() {
            last = b;
        }
    }
    if last != b'\n' {
        lines += 1;
    }
    Ok(lines)
}

/// One line as read: at most `KEEP` of its bytes, and its true length without the line ending.
pub(crate) struct RawLine<'a> {
    /// The line's bytes (without `\n` or `\r\n`), cut short when the line is over-long.
    pub bytes: &'a [u8],
    /// The full length of the line, so an over-long line's error is exact.
    pub len: usize,
}

/// Streams lines from a buffered reader, holding at most `KEEP` bytes of any one line.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    /// Wrap a buffered reader.
    pub fn new(inner: R) -> LineReader<R> {
        LineReader { inner, buf: Vec::with_capacity(256) }
    }

    /// The next line, or `None` at the end of input. `\n` and `\r\n` endings are both removed.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine<'_>>> {
        self.buf.clear();
        let mut len = 0usize;
        let mut any = false;
        let mut last = 0u8;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (content, used, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            let room = KEEP.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&content[..content.len().min(room)]);
            if let Some(&b) = content.last() {
                last = b;
            }
            len += content.len();
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if last == b'\r' {
            len -= 1;
            self.buf.truncate(len);
        }
        Ok(Some(RawLine { bytes: &self.buf, len }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(Vec<u8>, usize)> {
        let mut r = LineReader::new(BufReader::with_capacity(7, input));
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push((l.bytes.to_vec(), l.len));
        }
        out
    }

    #[test]
    fn splits_lines_and_endings() {
        let got = lines(b"a.com\r\nbb.org\n\nlast");
        assert_eq!(got, vec![(b"a.com".to_vec(), 5), (b"bb.org".to_vec(), 6), (vec![], 0), (b"last".to_vec(), 4)]);
        assert_eq!(count_lines(&mut &b"a.com\r\nbb.org\n\nlast"[..]).unwrap(), 4);
        assert_eq!(count_lines(&mut &b"a\nb\n"[..]).unwrap(), 2);
        assert_eq!(count_lines(&mut &b""[..]).unwrap(), 0);
        assert!(lines(b"").is_empty());
    }

    #[test]
    fn over_long_lines_are_capped_but_measured() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\r\nok\n");
        let got = lines(&input);
        assert_eq!(got[0].0.len(), KEEP);
        assert_eq!(got[0].1, 10_000);
        assert_eq!(got[1], (b"ok".to_vec(), 2));
    }
}
