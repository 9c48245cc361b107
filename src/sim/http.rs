//! HTTP/1.1 wire plumbing shared by both simulators: a buffered, stop-aware
//! connection ([`Conn`]), request heads parsed with `httparse` ([`Head`]), and
//! response heads.
//!
//! Sockets carry a short timeout ([`POLL`]); every read and write retries through it
//! until it makes progress, the server stops, or the peer has been silent for
//! [`STALL_LIMIT`]. So no connection thread blocks forever.

use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Shared;

/// Size of every body buffer: large reads and writes keep syscalls rare.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// The headers of a plain-text answer.
pub(crate) const TEXT: &[(&str, &str)] = &[("Content-Type", "text/plain")];

/// Socket timeout: how often a blocked connection thread checks the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// How long a peer may make no progress (or idle between requests) before we hang up.
const STALL_LIMIT: Duration = Duration::from_secs(60);
/// How long [`Conn::finish`] keeps discarding an unread request body after answering.
const LINGER: Duration = Duration::from_secs(1);
/// Largest request head we accept.
const MAX_HEAD: usize = 64 * 1024;
/// Most headers in a request head.
const MAX_HEADERS: usize = 64;

/// What to do with a connection after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Wait for the next request.
    KeepAlive,
    /// Half-close: the response is complete and the request was fully read.
    Close,
    /// Half-close, then discard what the peer still sends for a moment, so that it
    /// reads our response rather than a reset (the request body was not read).
    Linger,
    /// Reset the connection (RST, no FIN): a fault, the peer sees "connection reset".
    Reset,
}

/// The parts of a request head the simulators act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Raw request-target, e.g. `/files/3?length=0`.
    pub target: String,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// `Content-Length`, if present.
    pub content_length: Option<u64>,
    /// Whether the body is chunked (`Transfer-Encoding` ending in `chunked`).
    pub chunked: bool,
    /// Whether the client sent `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Whether the client allows another request on this connection.
    pub keep_alive: bool,
    /// The `Host` header, if any.
    pub host: Option<String>,
}

impl Head {
    /// Extracts the head from a parsed request; malformed framing is `InvalidData`.
    fn from_parsed(req: &httparse::Request) -> io::Result<Head> {
        let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version)
        else {
            return Err(invalid("incomplete request line"));
        };
        let mut head = Head {
            method: method.to_owned(),
            target: target.to_owned(),
            version,
            content_length: None,
            chunked: false,
            expect_continue: false,
            keep_alive: version >= 1,
            host: None,
        };
        let mut transfer_encoding = None;
        for header in req.headers.iter() {
            let value = std::str::from_utf8(header.value)
                .map_err(|_| invalid("non-UTF-8 header value"))?
                .trim();
            let name = header.name;
            if name.eq_ignore_ascii_case("content-length") {
                let n = parse_length(value)?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err(invalid("conflicting Content-Length headers"));
                }
                head.content_length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                transfer_encoding = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("expect") {
                head.expect_continue = value.eq_ignore_ascii_case("100-continue");
            } else if name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        head.keep_alive = false;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        head.keep_alive = true;
                    }
                }
            } else if name.eq_ignore_ascii_case("host") {
                head.host = Some(value.to_owned());
            }
        }
        if let Some(te) = transfer_encoding {
            let last = te.rsplit(',').next().unwrap_or_default().trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(invalid("unsupported Transfer-Encoding"));
            }
            if head.content_length.is_some() {
                return Err(invalid("both Content-Length and Transfer-Encoding"));
            }
            head.chunked = true;
        }
        Ok(head)
    }

    /// The target's path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The target's query, without the `?` (empty if none).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// Whether a body follows the head.
    pub fn has_body(&self) -> bool {
        self.chunked || self.content_length.is_some_and(|n| n > 0)
    }

    /// What to do with the connection after answering without reading the body: a
    /// body that follows must be drained before closing (linger), else keep-alive as
    /// the client asked.
    pub fn after_unread(&self) -> After {
        match (self.has_body(), self.keep_alive) {
            (true, _) => After::Linger,
            (false, true) => After::KeepAlive,
            (false, false) => After::Close,
        }
    }
}

/// Parses a `Content-Length` value: ASCII digits only.
fn parse_length(value: &str) -> io::Result<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("malformed Content-Length"));
    }
    value
        .parse()
        .map_err(|_| invalid("Content-Length out of range"))
}

/// An `InvalidData` error: the peer broke the protocol (answered with 400).
pub(crate) fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg)
}

/// One accepted connection: a read buffer in front of the socket, plus the server's
/// stop flag. Implements `BufRead` for request bodies.
pub(crate) struct Conn {
    stream: TcpStream,
    shared: Arc<Shared>,
    buf: Box<[u8]>,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
    /// End of the bytes read into `buf`.
    filled: usize,
}

impl Conn {
    /// Wraps an accepted stream: no Nagle delay, short timeouts.
    pub(crate) fn new(stream: TcpStream, shared: Arc<Shared>) -> io::Result<Conn> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(POLL))?;
        Ok(Conn {
            stream,
            shared,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            filled: 0,
        })
    }

    /// Serves requests on this connection until it closes, fails or the server stops:
    /// `handle` answers each request head (with a `BUF_SIZE` scratch buffer) and says
    /// what comes next; a malformed head gets a 400 and the connection closes.
    pub(crate) fn serve(
        mut self,
        mut handle: impl FnMut(&mut Conn, &Head, &mut [u8]) -> io::Result<After>,
    ) {
        let mut buf = vec![0; BUF_SIZE];
        loop {
            let after = match self.read_head() {
                Ok(Some(head)) => handle(&mut self, &head, &mut buf),
                Ok(None) => Ok(After::Close),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => self.bad_request(&e),
                Err(e) => Err(e),
            };
            match after {
                Ok(After::KeepAlive) => {}
                Ok(after) => return self.finish(after),
                Err(_) => return,
            }
        }
    }

    /// Answers 400 with the error as text; the connection then closes.
    pub(crate) fn bad_request(&mut self, e: &io::Error) -> io::Result<After> {
        let text = format!("{e}\n");
        self.respond(400, TEXT, text.as_bytes(), After::Linger, false)?;
        Ok(After::Linger)
    }

    /// The server's counters and stop flag.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Reads the next request head. `Ok(None)` is a clean close between requests;
    /// a malformed or oversized head is `InvalidData`.
    pub(crate) fn read_head(&mut self) -> io::Result<Option<Head>> {
        loop {
            let data = &self.buf[self.pos..self.filled];
            if !data.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(data) {
                    Ok(httparse::Status::Complete(len)) => {
                        let head = Head::from_parsed(&req)?;
                        self.pos += len;
                        self.shared.count_request();
                        return Ok(Some(head));
                    }
                    Ok(httparse::Status::Partial) if data.len() >= MAX_HEAD => {
                        return Err(invalid("request head too large"));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return Err(invalid("malformed request head")),
                }
            }
            // Need more bytes: move the partial head to the front, read behind it.
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
            let n = patiently(&self.shared, || {
                (&self.stream).read(&mut self.buf[self.filled..])
            })?;
            if n == 0 {
                return match self.filled {
                    0 => Ok(None),
                    _ => Err(ErrorKind::UnexpectedEof.into()),
                };
            }
            self.filled += n;
        }
    }

    /// Writes all of `data`, waiting out a slow reader (see the module docs).
    pub(crate) fn send(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = patiently(&self.shared, || (&self.stream).write(data))?;
            if n == 0 {
                return Err(ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes a complete response with a small body (`head_only` drops the body but
    /// keeps its `Content-Length`, as for `HEAD`).
    pub(crate) fn respond(
        &mut self,
        code: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        after: After,
        head_only: bool,
    ) -> io::Result<()> {
        let mut out = response_head(code, headers, Some(body.len() as u64), after);
        if !head_only {
            out.extend_from_slice(body);
        }
        self.send(&out)
    }

    /// Answers a `status:<code>` fault: that status, a short text body naming it, and
    /// `Retry-After` if one is given.
    pub(crate) fn respond_status(
        &mut self,
        code: u16,
        retry_after: Option<&str>,
        after: After,
        head_only: bool,
    ) -> io::Result<()> {
        let body = format!("simulated {code} {}\n", reason(code));
        let mut headers = vec![("Content-Type", "text/plain")];
        headers.extend(retry_after.map(|r| ("Retry-After", r)));
        self.respond(code, &headers, body.as_bytes(), after, head_only)
    }

    /// The authority a request was sent to (its `Host`, else the address the client
    /// connected to), for absolute redirect URLs.
    pub(crate) fn authority(&self, head: &Head) -> io::Result<String> {
        match &head.host {
            Some(host) => Ok(host.clone()),
            None => Ok(self.stream.local_addr()?.to_string()),
        }
    }

    /// Ends the connection as `after` says (`KeepAlive` is the caller's loop).
    pub(crate) fn finish(self, after: After) {
        if after == After::Reset {
            // SO_LINGER 0: close() sends RST and drops what is unsent (std has no
            // stable set_linger, socket2 does).
            let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
            return;
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        if after != After::Linger {
            return;
        }
        let deadline = Instant::now() + LINGER;
        let mut sink = [0u8; 16 * 1024];
        while Instant::now() < deadline && !self.shared.stopping() {
            match (&self.stream).read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

impl Conn {
    /// A fault: keeps the connection open doing nothing until the server stops or
    /// [`STALL_LIMIT`] passes; the peer sees silence.
    pub(crate) fn hold(&self) {
        let deadline = Instant::now() + STALL_LIMIT;
        while Instant::now() < deadline && !self.shared.stopping() {
            std::thread::sleep(POLL);
        }
    }

    /// Sleeps `pause` unless the server stops first (then `ConnectionAborted`).
    pub(crate) fn pause(&self, pause: Duration) -> io::Result<()> {
        let deadline = Instant::now() + pause;
        while Instant::now() < deadline {
            if self.shared.stopping() {
                return Err(io::Error::new(
                    ErrorKind::ConnectionAborted,
                    "simulator stopping",
                ));
            }
            std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
        }
        Ok(())
    }
}

impl Read for Conn {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        // A large read with nothing buffered goes straight to the socket.
        if self.pos == self.filled && dst.len() >= self.buf.len() {
            return patiently(&self.shared, || (&self.stream).read(dst));
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(dst.len());
        dst[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Conn {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            let n = patiently(&self.shared, || (&self.stream).read(&mut self.buf))?;
            self.pos = 0;
            self.filled = n;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}

/// Runs a socket operation, retrying through socket timeouts until it makes
/// progress, the server stops (`ConnectionAborted`), or [`STALL_LIMIT`] passes
/// (`TimedOut`).
fn patiently<T>(shared: &Shared, mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let started = Instant::now();
    loop {
        if shared.stopping() {
            return Err(io::Error::new(
                ErrorKind::ConnectionAborted,
                "simulator stopping",
            ));
        }
        match op() {
            Err(e) if is_timeout(&e) => {
                if started.elapsed() >= STALL_LIMIT {
                    return Err(io::Error::new(ErrorKind::TimedOut, "peer stalled"));
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// Whether a socket error is an expired `SO_RCVTIMEO`/`SO_SNDTIMEO`.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Builds an HTTP/1.1 response head. `length: None` omits `Content-Length`;
/// `After::KeepAlive` omits `Connection: close`.
pub(crate) fn response_head(
    code: u16,
    headers: &[(&str, &str)],
    length: Option<u64>,
    after: After,
) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    push_headers(&mut head, headers);
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    if after != After::KeepAlive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Builds an HTTP/1.0 response head without `Content-Length`, like the document's
/// source: the body ends when the connection closes.
pub(crate) fn http10_head(code: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("HTTP/1.0 {code} {}\r\n", reason(code));
    push_headers(&mut head, headers);
    head.push_str("\r\n");
    head.into_bytes()
}

fn push_headers(head: &mut String, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
}

/// The reason phrase for a status code ("Unknown" for codes we never expect).
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        410 => "Gone",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> io::Result<Head> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        assert!(req.parse(raw.as_bytes()).expect("parses").is_complete());
        Head::from_parsed(&req)
    }

    #[test]
    fn http11_defaults_to_keep_alive_and_10_to_close() {
        let h = parse("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(h.keep_alive);
        assert_eq!(
            (h.path(), h.query(), h.host.as_deref()),
            ("/a", "b=1", Some("x"))
        );
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            !parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(
            parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
    }

    #[test]
    fn framing_headers_are_extracted() {
        let h = parse("PUT /x HTTP/1.1\r\nContent-Length: 42\r\nExpect: 100-continue\r\n\r\n");
        let h = h.unwrap();
        assert_eq!(h.content_length, Some(42));
        assert!(h.expect_continue && !h.chunked && h.has_body());
        let h = parse("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n").unwrap();
        assert!(h.chunked && h.content_length.is_none());
    }

    #[test]
    fn bad_framing_is_invalid_data() {
        for raw in [
            "PUT / HTTP/1.1\r\nContent-Length: +4\r\n\r\n",
            "PUT / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
            "PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
        ] {
            let err = parse(raw).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData, "{raw:?}");
        }
    }

    #[test]
    fn response_head_lists_headers_then_length() {
        let head = response_head(302, &[("Location", "/x")], Some(0), After::Close);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}
