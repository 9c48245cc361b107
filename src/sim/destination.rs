//! The destination simulator: it accepts uploads and records each one, complete or
//! not, in a [`DestinationLog`].
//!
//! Unlike the document's destination it answers only after reading the whole body,
//! so a success status proves the bytes arrived.
//!
//! | request                        | answer                                          |
//! |--------------------------------|-------------------------------------------------|
//! | `PUT`/`POST` with a framed body | 201 Created / 200 OK, `Content-Length: 0`      |
//! | ... without `Content-Length`, if `require_length` | 411, like the document's destination |
//! | ... with malformed chunking    | 400 (recorded as incomplete)                     |
//! | ... with `?fault=<kind>`       | a misbehaviour, below                            |
//! | `GET /_stats`                  | `{"uploads":N,"complete":N,"bytes":N,"connections":N}` |
//! | `GET /_uploads`                | a JSON array of [`Upload`]s                      |
//! | any other `GET`                | 404                                             |
//!
//! A fault is chosen by the upload URL, so a test puts it in ferry's `--to` template
//! (`http://dst/{name}?fault=reset&fail_times=1`); `fail_times`, `one_in` and
//! `retry_after` work as on the source (see `query`). Uploads refused before their body
//! is read are not recorded.
//!
//! | fault             | what the destination does                                      |
//! |-------------------|----------------------------------------------------------------|
//! | `require-length`  | 411 unless the upload has a `Content-Length`                   |
//! | `status:<code>`   | that status before reading the body, then discards the body for a moment (lingering close) |
//! | `reset`           | reads half the body (64 KiB of a chunked one), then resets     |
//! | `no-read`         | reads the head, then neither reads the body nor answers        |
//! | `slow-read`       | reads 16 KiB every 20 ms                                       |
//! | `expect-ignore`   | never sends `100 Continue`                                     |
//! | `expect-417`      | 417 to a request with `Expect: 100-continue`                   |
//! | `redirect:<code>` | 301/302/303/307/308 before reading the body, `Location` the same path without the fault |

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chunked::ChunkedReader;
use super::digest::hex;
use super::http::{After, Conn, Head, TEXT};
use super::query::{DestinationFault, FaultGate, Query};

/// How the destination behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationOptions {
    /// Compute the SHA-256 of every body (on by default; off for raw sink speed).
    pub hash: bool,
    /// Answer 411 Length Required to uploads without `Content-Length` (chunked
    /// ones included), like the document's destination.
    pub require_length: bool,
    /// Also append every [`Upload`] to this file as one JSON line, flushed.
    pub log_file: Option<PathBuf>,
}

impl Default for DestinationOptions {
    /// Hashing on, chunked bodies accepted, no log file.
    fn default() -> Self {
        DestinationOptions {
            hash: true,
            require_length: false,
            log_file: None,
        }
    }
}

/// The record of one upload, complete or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The request path minus its leading `/`, percent-decoded once.
    pub name: String,
    /// The raw request-target, query included.
    pub path: String,
    /// `PUT` or `POST`.
    pub method: String,
    /// Body bytes received.
    pub bytes: u64,
    /// The `Content-Length` the client announced, if any.
    pub declared_length: Option<u64>,
    /// Whether the body was chunked.
    pub chunked: bool,
    /// Lowercase hex SHA-256 of the bytes received; empty if hashing is off.
    pub sha256: String,
    /// Whether the body ended as its framing says (false: the client went away,
    /// stalled, or broke the chunked framing).
    pub complete: bool,
}

/// A handle on the uploads a destination has recorded; clones share the log.
///
/// A record is appended when its body ends or breaks, before the response is sent.
#[derive(Debug, Clone)]
pub struct DestinationLog {
    inner: Arc<LogInner>,
}

#[derive(Debug)]
struct LogInner {
    records: Mutex<Records>,
    appended: Condvar,
}

#[derive(Debug)]
struct Records {
    uploads: Vec<Upload>,
    file: Option<File>,
}

impl DestinationLog {
    fn new(file: Option<File>) -> Self {
        let records = Records {
            uploads: Vec::new(),
            file,
        };
        DestinationLog {
            inner: Arc::new(LogInner {
                records: Mutex::new(records),
                appended: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        // A panic elsewhere cannot leave the Vec half-pushed: keep going.
        self.inner
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a record (and its JSON line, if there is a log file).
    fn record(&self, upload: Upload) {
        let mut records = self.lock();
        if let Some(file) = &mut records.file {
            // The in-memory log is the authority; a failed line is not fatal.
            let line = serde_json::to_string(&upload).expect("an Upload always serializes");
            let _ = writeln!(file, "{line}").and_then(|()| file.flush());
        }
        records.uploads.push(upload);
        self.inner.appended.notify_all();
    }

    /// Every upload recorded so far, in the order they ended.
    pub fn uploads(&self) -> Vec<Upload> {
        self.lock().uploads.clone()
    }

    /// The uploads whose body arrived complete.
    pub fn complete(&self) -> Vec<Upload> {
        self.lock()
            .uploads
            .iter()
            .filter(|u| u.complete)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` uploads are recorded; false if `timeout` passes first.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut records = self.lock();
        while records.uploads.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            records = self
                .inner
                .appended
                .wait_timeout(records, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// The `/_stats` document.
    fn stats_json(&self, connections: u64) -> String {
        let records = self.lock();
        let uploads = &records.uploads;
        serde_json::json!({
            "uploads": uploads.len(),
            "complete": uploads.iter().filter(|u| u.complete).count(),
            "bytes": uploads.iter().map(|u| u.bytes).sum::<u64>(),
            "connections": connections,
        })
        .to_string()
    }
}

/// Per-server state: options and log.
#[derive(Debug)]
pub(crate) struct State {
    opts: DestinationOptions,
    /// The log this server appends to (handed out by `serve_destination`).
    pub(crate) log: DestinationLog,
    gate: FaultGate,
}

impl State {
    /// Opens the log file (for appending), if any.
    pub(crate) fn new(opts: DestinationOptions) -> io::Result<State> {
        let file = match &opts.log_file {
            Some(path) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|err| {
                        io::Error::new(
                            err.kind(),
                            format!("cannot open the upload log {}: {err}", path.display()),
                        )
                    })?,
            ),
            None => None,
        };
        Ok(State {
            opts,
            log: DestinationLog::new(file),
            gate: FaultGate::default(),
        })
    }
}

/// Serves requests on one connection until it closes, fails or the server stops.
pub(crate) fn serve_connection(conn: Conn, state: &State) {
    conn.serve(|conn, head, buf| handle(conn, state, head, buf));
}

/// Answers one request.
fn handle(conn: &mut Conn, state: &State, head: &Head, buf: &mut [u8]) -> io::Result<After> {
    let after_unread = head.after_unread();
    match head.method.as_str() {
        "PUT" | "POST" => receive(conn, state, head, buf),
        method @ ("GET" | "HEAD") => {
            let (code, body) = match head.path() {
                "/_stats" => (200, state.log.stats_json(conn.shared().connections())),
                "/_uploads" => {
                    let uploads = state.log.uploads();
                    let json = serde_json::to_string(&uploads).expect("Uploads always serialize");
                    (200, json)
                }
                _ => (404, "not found: uploads go to PUT or POST\n".to_owned()),
            };
            let content_type = match code {
                200 => "application/json",
                _ => "text/plain",
            };
            let headers = [("Content-Type", content_type)];
            conn.respond(
                code,
                &headers,
                body.as_bytes(),
                after_unread,
                method == "HEAD",
            )?;
            Ok(after_unread)
        }
        _ => {
            let headers = [
                ("Content-Type", "text/plain"),
                ("Allow", "GET, HEAD, PUT, POST"),
            ];
            conn.respond(405, &headers, b"method not allowed\n", after_unread, false)?;
            Ok(after_unread)
        }
    }
}

/// Reads one upload's body, records it, then answers; or misbehaves as the upload URL's
/// `?fault=` says (see the module docs).
fn receive(conn: &mut Conn, state: &State, head: &Head, buf: &mut [u8]) -> io::Result<After> {
    let query = match Query::<DestinationFault>::parse(head.query()) {
        Ok(query) => query,
        Err(msg) => {
            conn.respond(
                400,
                TEXT,
                format!("{msg}\n").as_bytes(),
                After::Linger,
                false,
            )?;
            return Ok(After::Linger);
        }
    };
    let fault = query.fault_for(head.path(), &head.target, &state.gate);
    let require_length =
        state.opts.require_length || fault == Some(DestinationFault::RequireLength);
    if require_length && head.content_length.is_none() {
        let body = b"Content-Length required\n";
        conn.respond(411, TEXT, body, After::Linger, false)?;
        return Ok(After::Linger);
    }
    match fault {
        Some(DestinationFault::Status(code)) => {
            // Answered before the body is read: the client may still be sending it.
            let retry_after = query.retry_after.map(|r| r.header_value());
            conn.respond_status(code, retry_after.as_deref(), After::Linger, false)?;
            return Ok(After::Linger);
        }
        Some(DestinationFault::Redirect(code)) => {
            let host = conn.authority(head)?;
            let next = query.with_fault(None);
            let mut location = format!("http://{host}{}", head.path());
            if !next.is_empty() {
                location = format!("{location}?{next}");
            }
            let headers = [("Location", location.as_str())];
            conn.respond(code, &headers, b"", After::Linger, false)?;
            return Ok(After::Linger);
        }
        Some(DestinationFault::Expect417) if head.expect_continue => {
            conn.respond(417, TEXT, b"no expectations\n", After::Linger, false)?;
            return Ok(After::Linger);
        }
        Some(DestinationFault::NoRead) => {
            conn.hold();
            return Ok(After::Close);
        }
        _ => {}
    }
    if head.expect_continue && head.version >= 1 && fault != Some(DestinationFault::ExpectIgnore) {
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut hasher = state.opts.hash.then(Sha256::new);
    let mut bytes = 0;
    // No Content-Length and no chunking: a request without a body (RFC 9112 6.3).
    let declared = head.content_length.unwrap_or(0);
    let (limit, pace) = match fault {
        // Half the body (64 KiB of a chunked one), then a reset.
        Some(DestinationFault::Reset) if head.chunked => (RESET_AFTER, Pace::FULL),
        Some(DestinationFault::Reset) => (declared / 2, Pace::FULL),
        Some(DestinationFault::SlowRead) => (u64::MAX, Pace::SLOW),
        _ => (u64::MAX, Pace::FULL),
    };
    let mut drained = Drained {
        hasher: &mut hasher,
        bytes: &mut bytes,
        pace,
    };
    let result = if head.chunked {
        drained.drain(&mut ChunkedReader::new(&mut *conn).take(limit), buf)
    } else {
        drained.drain(&mut (&mut *conn).take(declared.min(limit)), buf)
    };
    let reset = fault == Some(DestinationFault::Reset);
    let complete = !reset && result.is_ok() && (head.chunked || bytes == declared);
    let path = head.path().strip_prefix('/').unwrap_or(head.path());
    state.log.record(Upload {
        name: percent_decode_str(path).decode_utf8_lossy().into_owned(),
        path: head.target.clone(),
        method: head.method.clone(),
        bytes,
        declared_length: head.content_length,
        chunked: head.chunked,
        sha256: hasher.map(|h| hex(&h.finalize())).unwrap_or_default(),
        complete,
    });
    match result {
        Err(e) if e.kind() == ErrorKind::InvalidData => conn.bad_request(&e),
        Err(e) => Err(e),
        Ok(()) if reset => Ok(After::Reset),
        Ok(()) if !complete => Err(ErrorKind::UnexpectedEof.into()),
        Ok(()) => {
            let (code, after) = match (head.method.as_str(), head.keep_alive) {
                ("PUT", true) => (201, After::KeepAlive),
                ("PUT", false) => (201, After::Close),
                (_, true) => (200, After::KeepAlive),
                (_, false) => (200, After::Close),
            };
            conn.respond(code, &[], b"", after, false)?;
            Ok(after)
        }
    }
}

/// Bytes of a chunked body a `reset` fault reads before resetting.
const RESET_AFTER: u64 = 64 * 1024;

/// How fast a body is read: at most `step` bytes per read, then a `pause`.
#[derive(Clone, Copy)]
struct Pace {
    step: usize,
    pause: Duration,
}

impl Pace {
    /// As fast as the buffer allows.
    const FULL: Pace = Pace {
        step: usize::MAX,
        pause: Duration::ZERO,
    };
    /// `slow-read`: 16 KiB every 20 ms (about 800 KiB/s).
    const SLOW: Pace = Pace {
        step: 16 * 1024,
        pause: Duration::from_millis(20),
    };
}

/// Where a body being drained is counted and hashed.
struct Drained<'a> {
    hasher: &'a mut Option<Sha256>,
    bytes: &'a mut u64,
    pace: Pace,
}

impl Drained<'_> {
    /// Reads `body` to its end, counting and hashing; `bytes` counts even on error.
    fn drain(&mut self, body: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
        let step = self.pace.step.min(buf.len());
        loop {
            let n = body.read(&mut buf[..step])?;
            if n == 0 {
                return Ok(());
            }
            if let Some(hasher) = self.hasher {
                hasher.update(&buf[..n]);
            }
            *self.bytes += n as u64;
            if !self.pace.pause.is_zero() {
                std::thread::sleep(self.pace.pause);
            }
        }
    }
}
