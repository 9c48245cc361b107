//! The source simulator: what it serves ([`FileSpec`], [`content`]) and how it
//! answers requests.
//!
//! Everything about file `i` derives from `(seed, i)`: its name, its size and its
//! bytes, so tests compute a file's SHA-256 ([`expected_sha256`]) without a request.
//! The bytes are a counter-based wyrand stream of little-endian `u64` words: byte `o`
//! of a file is byte `o % 8` of word `o / 8`, so any range is generated directly and
//! generation runs at several GB/s.
//!
//! | request                   | answer                                                 |
//! |---------------------------|--------------------------------------------------------|
//! | `GET /files/<i>`          | file `i`                                               |
//! | `GET <any other path>`    | the next file of a per-server counter (0, 1, 2, ...)   |
//! | `HEAD` on either          | the same headers, no body (a counter path is not used up) |
//! | `?length=0` / `?length=1` | no `Content-Length`, HTTP/1.0, close / force a length  |
//! | `?digest=<kind>`          | also an integrity header: `content-md5`, `md5`/`sha-256` (`Digest`), `repr` (`Repr-Digest`), `content` (`Content-Digest`) |
//! | `?fault=<kind>`           | a misbehaviour, below (with `fail_times`, `one_in`, `retry_after`: see `query`) |
//! | `POST`, `PUT`             | 403, like the document's source                        |
//!
//! | fault            | what the source does                                               |
//! |------------------|--------------------------------------------------------------------|
//! | `truncate`       | full `Content-Length`, half the body, then closes                  |
//! | `reset`          | full `Content-Length`, half the body, then resets (RST)            |
//! | `extra`          | the body, then 1000 bytes more than `Content-Length`, then closes  |
//! | `dup-length`     | two `Content-Length` headers: the size and size + 1                |
//! | `bad-length`     | `Content-Length: 12abc`                                            |
//! | `chunked-length` | a chunked body plus a (wrong: half) `Content-Length`               |
//! | `chunked-cut`    | a chunked body cut, connection closed, before its last chunk       |
//! | `bad-chunk`      | a chunked body whose second chunk-size line is `zz`                |
//! | `gzip`           | the stored bytes labelled `Content-Encoding: gzip`                 |
//! | `silence`        | the response head, then nothing                                    |
//! | `no-head`        | reads the request, sends nothing                                   |
//! | `trickle`        | the response head, then 16 bytes every 100 ms                      |
//! | `status:<code>`  | that status, a short text body, `Retry-After` if `retry_after=` is given |
//! | `redirect:<n>`   | a chain of n 302s down to the file                                 |
//! | `redirect-loop`  | 302 to the same URL, forever                                       |
//! | `no-location`    | 302 without `Location`                                             |
//! | `bad-scheme`     | 302 to `ftp://...`                                                 |
//! | `bad-digest`     | the `digest=` header with the digest of other bytes                |

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use super::digest;
use super::digest::{hex, sha256_of};
use super::http::{self, After, Conn, Head, TEXT};
use super::query::{FaultGate, Query, SourceFault};

/// What the source serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// Smallest file size in bytes.
    pub min_size: u64,
    /// Largest file size in bytes (inclusive; raised to `min_size` if smaller).
    pub max_size: u64,
    /// Seed of every name, size and byte.
    pub seed: u64,
    /// Answer like the document's source: HTTP/1.0, no `Content-Length`, the body
    /// ends when the connection closes. `?length=0|1` overrides it per request.
    pub no_length: bool,
}

impl Default for SourceOptions {
    /// 1 MiB to 64 MiB, seed 0, with `Content-Length`.
    fn default() -> Self {
        SourceOptions {
            min_size: 1 << 20,
            max_size: 64 << 20,
            seed: 0,
            no_length: false,
        }
    }
}

/// One file of the source: everything but its bytes ([`FileSpec::content`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Its index: served at `/files/<index>`, and as the `index`-th counter request.
    pub index: u64,
    /// Its name: 10 ASCII letters, sent in `Content-Disposition`.
    pub name: String,
    /// Its size in bytes, uniform in `[min_size, max_size]`.
    pub size: u64,
}

impl FileSpec {
    /// The file with this index under these options.
    pub fn new(opts: &SourceOptions, index: u64) -> FileSpec {
        const LETTERS: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let name_key = file_key(opts.seed, index, Stream::Name);
        let name = (0..10)
            .map(|k| char::from(LETTERS[below(wyrand_at(name_key, k), 52) as usize]))
            .collect();
        let max = opts.max_size.max(opts.min_size);
        let span = u128::from(max - opts.min_size) + 1;
        let draw = wyrand_at(file_key(opts.seed, index, Stream::Size), 0);
        let size = opts.min_size + below(draw, span) as u64;
        FileSpec { index, name, size }
    }

    /// A reader of its bytes (the body of `GET /files/<index>`).
    pub fn content(&self, seed: u64) -> Content {
        content(seed, self.index, self.size)
    }

    /// The lowercase hex SHA-256 of its bytes, as the destination records it.
    pub fn sha256(&self, seed: u64) -> String {
        expected_sha256(seed, self.index, self.size)
    }
}

/// A reader of the generated bytes of one file; see the module docs.
#[derive(Debug, Clone)]
pub struct Content {
    key: u64,
    pos: u64,
    size: u64,
}

impl Content {
    /// The total number of bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes not yet read.
    pub fn remaining(&self) -> u64 {
        self.size - self.pos
    }
}

impl Read for Content {
    /// Always fills `buf` completely unless fewer bytes remain; never fails.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.remaining()).unwrap_or(usize::MAX));
        fill(self.key, self.pos, &mut buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// The bytes of file `index` with `seed`, `size` bytes long (usually
/// `FileSpec::new(..).size`, but any size gives a prefix of the same stream).
pub fn content(seed: u64, index: u64, size: u64) -> Content {
    Content {
        key: file_key(seed, index, Stream::Content),
        pos: 0,
        size,
    }
}

/// The lowercase hex SHA-256 of [`content`]`(seed, index, size)`.
pub fn expected_sha256(seed: u64, index: u64, size: u64) -> String {
    let digest = sha256_of(content(seed, index, size));
    hex(&digest.expect("reading generated content cannot fail"))
}

/// The independent random streams of one file.
#[derive(Clone, Copy)]
enum Stream {
    Name = 1,
    Size = 2,
    Content = 3,
}

/// The key of one stream of one file: splitmix64 over (seed, index, stream).
fn file_key(seed: u64, index: u64, stream: Stream) -> u64 {
    splitmix64(splitmix64(splitmix64(seed) ^ index) ^ stream as u64)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `k`-th output of wyrand started from state `key` (wyrand's state is a
/// counter, so any output is computed directly).
#[inline(always)]
fn wyrand_at(key: u64, k: u64) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    let s = key.wrapping_add(k.wrapping_add(1).wrapping_mul(P0));
    let t = u128::from(s) * u128::from(s ^ P1);
    (t as u64) ^ ((t >> 64) as u64)
}

/// Maps a uniform `u64` to a uniform value in `0..span` (Lemire's multiply-shift).
fn below(draw: u64, span: u128) -> u128 {
    (u128::from(draw) * span) >> 64
}

/// Writes the stream's bytes `offset..offset + out.len()` into `out`.
fn fill(key: u64, offset: u64, out: &mut [u8]) {
    let mut word = offset / 8;
    let skip = (offset % 8) as usize;
    let mut out = out;
    if skip != 0 {
        let bytes = wyrand_at(key, word).to_le_bytes();
        let n = (8 - skip).min(out.len());
        let (head, rest) = out.split_at_mut(n);
        head.copy_from_slice(&bytes[skip..skip + n]);
        out = rest;
        word += 1;
    }
    let mut chunks = out.chunks_exact_mut(8);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&wyrand_at(key, word).to_le_bytes());
        word += 1;
    }
    let tail = chunks.into_remainder();
    let bytes = wyrand_at(key, word).to_le_bytes();
    tail.copy_from_slice(&bytes[..tail.len()]);
}

/// Per-server state: the options and the counter behind "a new file per GET".
#[derive(Debug)]
pub(crate) struct State {
    opts: SourceOptions,
    next: AtomicU64,
    gate: FaultGate,
}

impl State {
    /// A fresh server state; the counter starts at file 0.
    pub(crate) fn new(opts: SourceOptions) -> State {
        State {
            opts,
            next: AtomicU64::new(0),
            gate: FaultGate::default(),
        }
    }
}

/// Serves requests on one connection until it closes, fails or the server stops.
pub(crate) fn serve_connection(conn: Conn, state: &State) {
    conn.serve(|conn, head, buf| handle(conn, state, head, buf));
}

/// Which file a path names.
enum Target {
    /// `/files/<i>`.
    Index(u64),
    /// Any other path: the counter's next file.
    Next,
}

/// Answers one request; dispatches faults.
fn handle(conn: &mut Conn, state: &State, head: &Head, buf: &mut [u8]) -> io::Result<After> {
    // We never read a request body here: if one follows, close after answering.
    let after = head.after_unread();
    let head_only = match head.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        "POST" | "PUT" => {
            conn.respond(403, TEXT, b"Unsupported.", after, false)?;
            return Ok(after);
        }
        _ => {
            let headers = [("Content-Type", "text/plain"), ("Allow", "GET, HEAD")];
            conn.respond(405, &headers, b"method not allowed\n", after, false)?;
            return Ok(after);
        }
    };
    let target = match head.path().strip_prefix("/files/") {
        None => Target::Next,
        Some(i) => match i.parse() {
            Ok(i) => Target::Index(i),
            Err(_) => {
                conn.respond(
                    404,
                    TEXT,
                    b"no such file: use /files/<n>\n",
                    after,
                    head_only,
                )?;
                return Ok(after);
            }
        },
    };
    let query = match Query::<SourceFault>::parse(head.query()) {
        Ok(query) => query,
        Err(msg) => {
            conn.respond(400, TEXT, format!("{msg}\n").as_bytes(), after, head_only)?;
            return Ok(after);
        }
    };
    let fault = query.fault_for(head.path(), &head.target, &state.gate);
    let redirect = |location: Option<String>, conn: &mut Conn| {
        let headers: Vec<(&str, &str)> = location
            .as_deref()
            .map(|l| ("Location", l))
            .into_iter()
            .collect();
        conn.respond(302, &headers, b"", after, head_only)
            .map(|()| after)
    };
    let host = conn.authority(head)?;
    match fault {
        Some(SourceFault::Status(code)) => {
            let retry_after = query.retry_after.map(|r| r.header_value());
            conn.respond_status(code, retry_after.as_deref(), after, head_only)?;
            Ok(after)
        }
        Some(SourceFault::Redirect(hops)) if hops > 0 => {
            let next = query.with_fault((hops > 1).then_some(SourceFault::Redirect(hops - 1)));
            let mut location = format!("http://{host}{}", head.path());
            if !next.is_empty() {
                location = format!("{location}?{next}");
            }
            redirect(Some(location), conn)
        }
        Some(SourceFault::RedirectLoop) => {
            redirect(Some(format!("http://{host}{}", head.target)), conn)
        }
        Some(SourceFault::NoLocation) => redirect(None, conn),
        Some(SourceFault::BadScheme) => {
            redirect(Some(format!("ftp://{host}{}", head.path())), conn)
        }
        Some(SourceFault::NoHead) => {
            conn.hold();
            Ok(After::Close)
        }
        _ => {
            let index = match target {
                Target::Index(i) => i,
                Target::Next if head_only => state.next.load(Ordering::Relaxed),
                Target::Next => state.next.fetch_add(1, Ordering::Relaxed),
            };
            let file = FileSpec::new(&state.opts, index);
            let reply = Reply {
                file: &file,
                query: &query,
                fault,
                head_only,
            };
            serve_file(conn, state, &reply, after, buf)
        }
    }
}

/// One file answer: the file, the request's knobs, and the fault (if it strikes).
struct Reply<'a> {
    file: &'a FileSpec,
    query: &'a Query<SourceFault>,
    fault: Option<SourceFault>,
    head_only: bool,
}

/// Bytes of one chunk in a chunked answer (a quarter of the file, at most 64 KiB, so
/// that even small files have several chunks).
fn chunk_size(size: u64) -> u64 {
    size.div_ceil(4).clamp(1, 64 * 1024)
}

/// Sends one file (or its headers), framed by `Content-Length`, by chunks (for the
/// chunked faults) or by closing, and misbehaving as the fault says.
fn serve_file(
    conn: &mut Conn,
    state: &State,
    reply: &Reply,
    mut after: After,
    buf: &mut [u8],
) -> io::Result<After> {
    let Reply {
        file,
        query,
        fault,
        head_only,
    } = *reply;
    let seed = state.opts.seed;
    let disposition = format!("attachment; filename=\"{}\"", file.name);
    let mut headers: Vec<(String, String)> = vec![
        ("Content-Type".into(), "application/octet-stream".into()),
        ("Content-Disposition".into(), disposition),
    ];
    if fault == Some(SourceFault::Gzip) {
        headers.push(("Content-Encoding".into(), "gzip".into()));
    }
    if let Some(kind) = query.digest {
        let wrong = fault == Some(SourceFault::BadDigest);
        headers.push(digest::header(kind, file.content(seed), wrong)?);
    }
    let chunked = matches!(
        fault,
        Some(SourceFault::ChunkedLength | SourceFault::ChunkedCut | SourceFault::BadChunk)
    );
    let mut length = Some(file.size);
    match fault {
        Some(SourceFault::DupLength) => {
            headers.push(("Content-Length".into(), file.size.to_string()));
            headers.push(("Content-Length".into(), (file.size + 1).to_string()));
            length = None;
        }
        Some(SourceFault::BadLength) => {
            headers.push(("Content-Length".into(), "12abc".into()));
            length = None;
        }
        Some(SourceFault::ChunkedLength) => {
            headers.push(("Transfer-Encoding".into(), "chunked".into()));
            headers.push(("Content-Length".into(), (file.size / 2).to_string()));
            length = None;
        }
        _ if chunked => {
            headers.push(("Transfer-Encoding".into(), "chunked".into()));
            length = None;
        }
        _ => {}
    }
    if matches!(
        fault,
        Some(
            SourceFault::Truncate
                | SourceFault::Reset
                | SourceFault::Extra
                | SourceFault::ChunkedCut
                | SourceFault::BadChunk
        )
    ) {
        after = After::Close;
    }
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let framed =
        chunked || fault.is_some_and(|f| f != SourceFault::Gzip && f != SourceFault::BadDigest);
    let with_length = framed || query.length.unwrap_or(!state.opts.no_length);
    let response_head = if with_length {
        http::response_head(200, &headers, length, after)
    } else {
        // Close-delimited, like the document's source (HTTP/1.0 implies close).
        if after == After::KeepAlive {
            after = After::Close;
        }
        http::http10_head(200, &headers)
    };
    if head_only {
        conn.send(&response_head)?;
        return Ok(after);
    }
    let mut content = file.content(seed);
    match fault {
        Some(SourceFault::Silence) => {
            conn.send(&response_head)?;
            conn.hold();
            Ok(After::Close)
        }
        Some(SourceFault::Trickle) => {
            conn.send(&response_head)?;
            let mut piece = [0u8; 16];
            while content.remaining() > 0 {
                let n = content.read(&mut piece)?;
                conn.send(&piece[..n])?;
                conn.pause(TRICKLE_PAUSE)?;
            }
            Ok(after)
        }
        _ if chunked => {
            conn.send(&response_head)?;
            let step = chunk_size(file.size);
            let chunks = file.size.div_ceil(step);
            for k in 0..chunks {
                if fault == Some(SourceFault::ChunkedCut) && k >= chunks.div_ceil(2) {
                    return Ok(After::Close);
                }
                if fault == Some(SourceFault::BadChunk) && k == 1 {
                    conn.send(b"zz\r\n")?;
                    return Ok(After::Close);
                }
                let n = step.min(content.remaining());
                let mut chunk = format!("{n:x}\r\n").into_bytes();
                let start = chunk.len();
                chunk.resize(start + n as usize, 0);
                content.read_exact(&mut chunk[start..])?;
                chunk.extend_from_slice(b"\r\n");
                conn.send(&chunk)?;
            }
            if fault == Some(SourceFault::ChunkedCut) {
                // A one-chunk file: cut before the terminating chunk.
                return Ok(After::Close);
            }
            conn.send(b"0\r\n\r\n")?;
            Ok(after)
        }
        _ => {
            let send = match fault {
                Some(SourceFault::Truncate | SourceFault::Reset) => file.size / 2,
                _ => file.size,
            };
            send_body(conn, &response_head, &mut content, send, buf)?;
            match fault {
                Some(SourceFault::Reset) => Ok(After::Reset),
                Some(SourceFault::Extra) => {
                    conn.send(&[b'X'; EXTRA_BYTES])?;
                    Ok(after)
                }
                _ => Ok(after),
            }
        }
    }
}

/// The pause between two 16-byte pieces of a `trickle` body.
const TRICKLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Bytes an `extra` fault sends beyond the `Content-Length`.
const EXTRA_BYTES: usize = 1000;

/// Sends `prefix` then `len` bytes of `content`, `buf`-sized writes at a time (the
/// first write carries the prefix too).
fn send_body(
    conn: &mut Conn,
    prefix: &[u8],
    content: &mut Content,
    mut len: u64,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut start = prefix.len();
    buf[..start].copy_from_slice(prefix);
    loop {
        let room = buf.len() - start;
        let n = usize::try_from(len).map_or(room, |len| len.min(room));
        content.read_exact(&mut buf[start..start + n])?;
        conn.send(&buf[..start + n])?;
        len -= n as u64;
        if len == 0 {
            return Ok(());
        }
        start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(min_size: u64, max_size: u64, seed: u64) -> SourceOptions {
        SourceOptions {
            min_size,
            max_size,
            seed,
            ..SourceOptions::default()
        }
    }

    #[test]
    fn file_spec_is_deterministic_and_in_range() {
        let o = opts(100, 200, 7);
        for i in 0..200 {
            let a = FileSpec::new(&o, i);
            assert_eq!(a, FileSpec::new(&o, i));
            assert_eq!(a.index, i);
            assert!((100..=200).contains(&a.size), "{a:?}");
            assert_eq!(a.name.len(), 10);
            assert!(a.name.bytes().all(|b| b.is_ascii_alphabetic()), "{a:?}");
        }
        assert_ne!(FileSpec::new(&o, 0).name, FileSpec::new(&o, 1).name);
        assert_ne!(
            FileSpec::new(&o, 0).name,
            FileSpec::new(&opts(100, 200, 8), 0).name
        );
    }

    #[test]
    fn sizes_cover_the_range_including_edges() {
        assert_eq!(FileSpec::new(&opts(5, 5, 1), 3).size, 5);
        assert_eq!(
            FileSpec::new(&opts(9, 2, 1), 3).size,
            9,
            "max below min is raised"
        );
        let sizes: Vec<u64> = (0..2000)
            .map(|i| FileSpec::new(&opts(0, 3, 1), i).size)
            .collect();
        for s in 0..=3 {
            assert!(sizes.contains(&s), "size {s} never drawn");
        }
        let full = opts(0, u64::MAX, 1);
        assert!(FileSpec::new(&full, 0).size > 0);
    }

    #[test]
    fn content_reads_the_same_bytes_in_any_chunking() {
        let mut whole = Vec::new();
        content(3, 4, 1001).read_to_end(&mut whole).unwrap();
        assert_eq!(whole.len(), 1001);
        let mut pieces = Vec::new();
        let mut reader = content(3, 4, 1001);
        for step in [1, 3, 8, 13, 64, 7].iter().cycle() {
            let mut buf = [0u8; 64];
            let n = reader.read(&mut buf[..*step]).unwrap();
            if n == 0 {
                break;
            }
            pieces.extend_from_slice(&buf[..n]);
        }
        assert_eq!(whole, pieces);
        let mut other = Vec::new();
        content(3, 5, 1001).read_to_end(&mut other).unwrap();
        assert_ne!(whole, other);
    }

    #[test]
    fn expected_sha256_matches_the_file_spec_digest() {
        let o = opts(10, 5000, 11);
        let file = FileSpec::new(&o, 2);
        assert_eq!(expected_sha256(11, 2, file.size), file.sha256(11));
        assert_eq!(
            expected_sha256(0, 0, 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
