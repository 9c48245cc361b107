//! A decoder for `Transfer-Encoding: chunked` request bodies (RFC 9112 section 7.1).
//!
//! Malformed framing is an `InvalidData` error (the destination answers 400); a body
//! that ends before its last chunk is `UnexpectedEof`.

use std::io::{self, BufRead, ErrorKind, Read};

use super::http::invalid;

/// Longest chunk-size or trailer line we accept.
const MAX_LINE: u64 = 4096;

/// Reads the decoded body of a chunked message from `inner`, stopping after the last
/// chunk and its trailers (so `inner` is left at the next request).
#[derive(Debug)]
pub(crate) struct ChunkedReader<R> {
    inner: R,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk, with this many data bytes left.
    Data(u64),
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// The last chunk and the trailers have been read.
    Done,
}

impl<R: BufRead> ChunkedReader<R> {
    /// Decodes the body that starts at `inner`'s current position.
    pub(crate) fn new(inner: R) -> Self {
        ChunkedReader {
            inner,
            state: State::Size,
        }
    }

    /// Reads one line, without its CRLF (a bare LF is tolerated).
    fn line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        (&mut self.inner)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            return Err(match line.len() as u64 {
                MAX_LINE => invalid("chunked body: line too long"),
                _ => ErrorKind::UnexpectedEof.into(),
            });
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    }
}

/// Parses a chunk-size line: hex digits, then optional `;extensions`.
fn parse_size(line: &[u8]) -> io::Result<u64> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line[..end].trim_ascii();
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid("chunked body: malformed chunk size"));
    }
    let digits = std::str::from_utf8(digits).map_err(|_| invalid("chunked body: size"))?;
    u64::from_str_radix(digits, 16).map_err(|_| invalid("chunked body: malformed chunk size"))
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state {
                State::Size => {
                    let size = parse_size(&self.line()?)?;
                    if size > 0 {
                        self.state = State::Data(size);
                        continue;
                    }
                    // Last chunk: skip trailer fields up to the empty line.
                    while !self.line()?.is_empty() {}
                    self.state = State::Done;
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(0);
                    }
                    let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(ErrorKind::UnexpectedEof.into());
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Ok(n);
                }
                State::DataEnd => {
                    if !self.line()?.is_empty() {
                        return Err(invalid("chunked body: missing CRLF after chunk data"));
                    }
                    self.state = State::Size;
                }
                State::Done => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn decode(raw: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        ChunkedReader::new(BufReader::with_capacity(capacity, raw)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let raw = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n";
        for capacity in [1, 2, 7, 4096] {
            assert_eq!(decode(raw, capacity).unwrap(), b"hello 0123456789");
        }
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        let mut inner: &[u8] = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let mut out = Vec::new();
        ChunkedReader::new(&mut inner)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(
            (out.as_slice(), inner),
            (&b"abc"[..], &b"GET / HTTP/1.1\r\n"[..])
        );
    }

    #[test]
    fn malformed_framing_is_invalid_data() {
        for raw in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"11111111111111111\r\n",
        ] {
            let err = decode(raw, 64).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData, "{raw:?}");
        }
        let long = [b'1'; 5000];
        assert_eq!(
            decode(&long, 64).unwrap_err().kind(),
            ErrorKind::InvalidData
        );
    }

    #[test]
    fn truncated_body_is_unexpected_eof() {
        for raw in [
            &b"5\r\nhel"[..],
            b"5\r\nhello\r\n",
            b"5\r\nhello\r\n0\r\n",
            b"5",
        ] {
            let err = decode(raw, 64).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{raw:?}");
        }
    }
}
