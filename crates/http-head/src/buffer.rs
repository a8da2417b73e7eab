//! A head that arrives in pieces: where it ends, found by scanning each byte once.
//!
//! Over TCP a head arrives in as many reads as the network likes, down to one byte each, and a
//! hostile peer can send it that way on purpose. Parsing the whole buffer again after every
//! read costs quadratic work for such a peer (CVE-2023-43669 is that flaw, in tungstenite). So
//! [`HeadBuffer`] carries, from one read to the next, how far it is into a possible end of
//! head, and looks at each new byte once; the parser runs once, when the head is whole.

use crate::Error;

/// How far the bytes scanned so far are into the empty line that ends a head (RFC 9112 §2.1,
/// with a bare LF accepted as a line end, §2.2: see the crate documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Before the start line. RFC 9112 §2.2: a server "SHOULD ignore at least one empty line
    /// (CRLF) received prior to the request-line", and `httparse` skips any number of them, so
    /// an empty line here does not end the head.
    Start,
    /// Inside a line.
    Line,
    /// Just after an LF: a line has ended, and another LF (or CR LF) would end the head.
    LineEnd,
    /// Just after LF CR: only an LF ends the head now.
    LineEndCr,
}

impl Scan {
    /// The state after `byte`; `None` when `byte` ends the head.
    fn next(self, byte: u8) -> Option<Scan> {
        match (self, byte) {
            (Scan::Start, b'\r' | b'\n') => Some(Scan::Start),
            (Scan::LineEnd | Scan::LineEndCr, b'\n') => None,
            (_, b'\n') => Some(Scan::LineEnd),
            (Scan::LineEnd, b'\r') => Some(Scan::LineEndCr),
            _ => Some(Scan::Line),
        }
    }
}

/// Collects a head that arrives in pieces, within a bound, and finds where it ends.
///
/// ```
/// let mut head = http_head::HeadBuffer::new(8 * 1024);
/// assert_eq!(head.push(b"GET / HTTP/1.1\r\nHost: a\r").unwrap(), None);
/// // The end of the head, then the first bytes of what follows it.
/// assert_eq!(head.push(b"\n\r\nnext").unwrap(), Some(27));
/// assert_eq!(&head.bytes()[27..], b"next");
/// ```
#[derive(Debug)]
pub struct HeadBuffer {
    buf: Vec<u8>,
    scan: Scan,
    /// The head's length, once its end has been found.
    end: Option<usize>,
    max: usize,
}

impl HeadBuffer {
    /// A buffer for a head of at most `max` bytes, its empty line included.
    pub fn new(max: usize) -> HeadBuffer {
        HeadBuffer {
            buf: Vec::new(),
            scan: Scan::Start,
            end: None,
            max,
        }
    }

    /// Adds received bytes. Returns the head's length once its end has arrived (the bytes
    /// after it, the start of a body or of frames, are kept: see [`HeadBuffer::bytes`]);
    /// `None` while more is needed; [`Error::TooLarge`] once `max` bytes hold no end.
    ///
    /// After the end has been found, further bytes are appended and the same length returned.
    // ANCHOR: push
    pub fn push(&mut self, data: &[u8]) -> Result<Option<usize>, Error> {
        if let Some(end) = self.end {
            self.buf.extend_from_slice(data);
            return Ok(Some(end));
        }
        // Look at no more than the bound allows: a caller that passes a huge slice is refused
        // without the slice being copied.
        let room = self.max.saturating_sub(self.buf.len());
        let window = data.get(..room).unwrap_or(data);
        for (at, &byte) in window.iter().enumerate() {
            match self.scan.next(byte) {
                Some(scan) => self.scan = scan,
                None => {
                    // What follows the head in the same read belongs to the caller: keep it.
                    let end = self.buf.len() + at + 1;
                    self.buf.extend_from_slice(data);
                    self.end = Some(end);
                    return Ok(Some(end));
                }
            }
        }
        self.buf.extend_from_slice(window);
        if self.buf.len() < self.max {
            Ok(None)
        } else {
            Err(Error::TooLarge { max: self.max })
        }
    }
    // ANCHOR_END: push

    /// The bytes received so far: the head, and once its end is found, what followed it.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nafter";

    /// Empty lines before the start line are skipped, as the parser skips them: they do not
    /// end an empty head.
    #[test]
    fn empty_lines_before_the_start_line_do_not_end_the_head() {
        for prefix in [&b"\r\n"[..], b"\n", b"\r\n\r\n", b"\n\r\n\n"] {
            let mut buffer = HeadBuffer::new(1024);
            let mut bytes = prefix.to_vec();
            bytes.extend_from_slice(HEAD);
            let end = buffer.push(&bytes).expect("in bound");
            assert_eq!(end, Some(prefix.len() + 27), "after {prefix:?}");
            let head = &buffer.bytes()[..prefix.len() + 27];
            let request = crate::parse_request(head, 8).expect("a request");
            assert_eq!(request.method, "GET");
        }
    }

    #[test]
    fn an_end_split_at_any_point_is_found() {
        for split in 0..=HEAD.len() {
            let mut buffer = HeadBuffer::new(1024);
            let (first, second) = HEAD.split_at(split);
            let first_end = buffer.push(first).expect("in bound");
            let end = buffer.push(second).expect("in bound");
            assert_eq!(end, Some(27), "split at {split}");
            assert_eq!(first_end.is_some(), split >= 27, "split at {split}");
            assert_eq!(buffer.bytes(), HEAD, "split at {split}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut buffer = HeadBuffer::new(1024);
        let ends: Vec<_> = HEAD
            .iter()
            .map(|b| buffer.push(&[*b]).expect("in bound"))
            .collect();
        assert!(ends[..26].iter().all(Option::is_none));
        assert!(ends[26..].iter().all(|end| *end == Some(27)));
    }

    #[test]
    fn a_bare_lf_ends_a_line_and_the_head() {
        let end = |head: &[u8]| HeadBuffer::new(1024).push(head).expect("in bound");
        assert_eq!(end(b"GET / HTTP/1.1\nHost: a\n\nrest"), Some(24));
        assert_eq!(end(b"GET / HTTP/1.1\nHost: a\n\r\n"), Some(25));
        assert_eq!(end(b"GET / HTTP/1.1\r\nHost: a\r\n\n"), Some(26));
        assert_eq!(end(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), None);
        assert_eq!(end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        // A CR alone ends nothing, and a CR inside a line is not the start of an end.
        assert_eq!(end(b"GET / HTTP/1.1\r\r\nHost: a\r\r\n"), None);
        assert_eq!(end(b""), None);
    }

    #[test]
    fn the_bound_is_exact() {
        // A head of exactly the bound is accepted; one byte more is refused at the bound.
        let head = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(HeadBuffer::new(18).push(head), Ok(Some(18)));
        let mut buffer = HeadBuffer::new(17);
        assert_eq!(buffer.push(head), Err(Error::TooLarge { max: 17 }));
        assert_eq!(buffer.bytes().len(), 17);
    }

    #[test]
    fn a_huge_slice_is_refused_without_copying_it() {
        let mut buffer = HeadBuffer::new(256);
        assert_eq!(
            buffer.push(&vec![b'a'; 1 << 20]),
            Err(Error::TooLarge { max: 256 })
        );
        assert_eq!(buffer.bytes().len(), 256);
        // Bytes after an end within the bound are kept, however many.
        let mut buffer = HeadBuffer::new(256);
        let mut bytes = b"GET / HTTP/1.1\r\n\r\n".to_vec();
        bytes.extend_from_slice(&[b'a'; 1 << 20]);
        assert_eq!(buffer.push(&bytes), Ok(Some(18)));
        assert_eq!(buffer.bytes().len(), bytes.len());
    }
}
