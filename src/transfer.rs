//! One attempt at one job: GET the source, pipe its body into a POST/PUT to the
//! destination, and prove that every byte went through.
//!
//! The pipe is the upload pulling from the download: ureq's send loop reads the
//! `SourceReader` straight into its output buffer (one user-space copy), so a worker's
//! memory is its two connection buffers (`--buffer` each), whatever the file size.
//!
//! A job is done only if the source body was read to its declared end (or to EOF when it
//! declared none), the size and SHA-256 the manifest gives and the digests the source's
//! headers promise ([`crate::integrity`]) match, and the destination answered 2xx. The
//! destination URL is claimed for the job first ([`crate::claims`]), so two jobs of a run
//! never share one. When the source fails mid-body the reader returns an error, ureq drops
//! the upload connection, and the destination never sees a complete request: with a
//! known length the final bytes are held back until the checks pass.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};
use ureq::http::Response;
use ureq::{Agent, Body, ResponseExt, SendBody};

use crate::claims::Claims;
use crate::config::{CopyConfig, Method, UnknownLength};
use crate::error::{Side, TransferError};
pub use crate::http::MAX_REDIRECTS;
use crate::http::{self, ERROR_BODY_LIMIT, GetError};
use crate::integrity::Promises;
use crate::job::Job;
use crate::meter::Meter;
use crate::retry;
use crate::signal::Cancel;
use crate::spool::{self, SpoolError};
use crate::upload::Form;

/// What the upload says about the file: its name (for a form) and content type.
struct Payload<'a> {
    name: &'a str,
    content_type: &'a str,
}

/// A job that arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Bytes moved.
    pub bytes: u64,
    /// SHA-256 of those bytes, lowercase hex, if checksums are on.
    pub sha256: Option<String>,
}

/// What one attempt learned and how it ended. `name` and `dst` are known once the
/// source has answered, so a failure can still say where the file was going.
#[derive(Debug)]
pub struct Attempt {
    /// The file name chosen for the destination.
    pub name: Option<String>,
    /// The destination URL.
    pub dst: Option<String>,
    /// The name the source gave, if another job of the run had it and this one was
    /// renamed (see [`crate::claims`]).
    pub renamed_from: Option<String>,
    /// Bytes read from the source in this attempt.
    pub bytes: u64,
    /// The outcome.
    pub result: Result<Delivered, TransferError>,
}

/// The two HTTP agents all workers share: one for downloads, one for uploads.
///
/// Two, because ureq gives every connection an input and an output buffer of the
/// agent's sizes, allocated and zeroed in full: a source connection only needs a large
/// input buffer, a destination connection only a large output buffer. With one agent
/// each worker held four `--buffer`s; with two it holds two, plus two small ones.
pub struct Agents {
    /// GETs: `--buffer` to read the body into, a small buffer for the request head.
    pub download: Agent,
    /// POSTs/PUTs: `--buffer` to send the body from, a small one for the response.
    pub upload: Agent,
}

/// Builds the [`Agents`]: connection reuse sized to the pool, no status-as-error (ferry
/// reads statuses itself), timeouts on every socket operation so no read can block past
/// the stall timeout, and no transparent decompression (ferry copies the stored bytes;
/// the `gzip` feature is off, and `Accept-Encoding` is not sent). Redirects are off:
/// [`http::get`] follows the source's itself, the destination's are refused. TLS trust
/// is `--ca-cert`/`--insecure`'s ([`http::tls_config`]).
pub fn agents(cfg: &CopyConfig) -> Agents {
    // The head-only side holds a request head, or a response head (at most
    // MAX_RESPONSE_HEADER) and a bounded error page; never more than --buffer.
    let small = http::MAX_RESPONSE_HEADER.min(cfg.buffer);
    Agents {
        download: agent(cfg, cfg.buffer, small),
        upload: agent(cfg, small, cfg.buffer),
    }
}

fn agent(cfg: &CopyConfig, input: usize, output: usize) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(http::tls_config(&cfg.http.trust))
        .max_response_header_size(http::MAX_RESPONSE_HEADER)
        .max_idle_connections_per_host(cfg.workers * 2)
        .max_idle_connections(cfg.workers * 4)
        .timeout_connect(Some(cfg.connect_timeout))
        .timeout_per_read(Some(cfg.stall_timeout))
        .timeout_per_write(Some(cfg.stall_timeout))
        .timeout_global(cfg.max_time)
        .input_buffer_size(input)
        .output_buffer_size(output)
        .accept_encoding("")
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Everything an attempt needs besides the job.
pub struct Transfer<'a> {
    /// The shared HTTP agents.
    pub agents: &'a Agents,
    /// The run's configuration.
    pub cfg: &'a CopyConfig,
    /// Ctrl-c flags.
    pub cancel: &'a Cancel,
    /// The destination URLs the run's jobs have claimed.
    pub claims: &'a Claims,
    /// This worker's progress slot and the `--bwlimit` bucket.
    pub meter: Meter<'a>,
}

impl Transfer<'_> {
    /// Makes one attempt at `job`. `scratch` is the spool's copy buffer, sized on first use.
    pub fn attempt(&self, job: &Job, scratch: &mut Vec<u8>) -> Attempt {
        let mut attempt = Attempt {
            name: None,
            dst: None,
            renamed_from: None,
            bytes: 0,
            result: Err(TransferError::Aborted),
        };
        attempt.result = self.run(job, scratch, &mut attempt);
        attempt
    }

    fn run(
        &self,
        job: &Job,
        scratch: &mut Vec<u8>,
        out: &mut Attempt,
    ) -> Result<Delivered, TransferError> {
        let deadline = retry::deadline(self.cfg.max_time);
        let response = http::get(&self.agents.download, &self.cfg.http, &job.src).map_err(
            |err| match err {
                GetError::Http(err) => classify(err, Side::Source, &job.src),
                GetError::Redirect(message) => TransferError::Redirect {
                    side: Side::Source,
                    url: job.src.clone(),
                    message,
                },
            },
        )?;
        let status = response.status().as_u16();
        if !matches!(status, 200 | 203) {
            // The error page is dropped unread: it is never uploaded.
            return Err(status_error(Side::Source, &job.src, &response));
        }

        let name = match &job.name {
            Some(name) => name.clone(),
            None => {
                // Lossy, not to_str: a raw UTF-8 `filename="résumé.pdf"` keeps its name.
                let disposition = response
                    .headers()
                    .get("content-disposition")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let url = response.get_uri().to_string();
                crate::names::resolve(disposition.as_deref(), &url, job.index)
            }
        };
        // {src_path} first: a source URL that cannot give one fails before any claim.
        let src_path = self
            .cfg
            .template
            .src_path_of(&job.src)
            .map_err(TransferError::SrcPath)?;
        let claimed = self
            .claims
            .claim(job.index, &name, |name| {
                self.cfg.template.expand_with(name, job.index, &src_path)
            })
            .map_err(|conflict| TransferError::Conflict {
                url: job.src.clone(),
                dst: conflict.dst,
                owner: conflict.owner,
            })?;
        let dst = claimed.dst;
        let name = claimed.name;
        out.name = Some(name.clone());
        out.dst = Some(dst.clone());
        out.renamed_from = claimed.renamed_from;
        let promises = Promises::from_headers(response.headers());
        let source_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let payload = Payload {
            name: &name,
            content_type: self.cfg.upload.content_type(source_type.as_deref()),
        };

        let declared = response.body().content_length();
        if let (Some(declared), Some(expected)) = (declared, job.size)
            && declared != expected
        {
            return Err(TransferError::Mismatch {
                url: job.src.clone(),
                message: format!(
                    "source announces {declared} bytes but the manifest says {expected}"
                ),
            });
        }
        let mut reader = SourceReader {
            inner: self.meter.wrap(
                response.into_body().into_reader(),
                out.name.as_deref().unwrap_or_default(),
                declared,
            ),
            url: &job.src,
            declared,
            job,
            count: 0,
            hasher: (self.cfg.checksum || promises.sha256.is_some()).then(Sha256::new),
            md5: promises.md5.is_some().then(Md5::new),
            promises,
            digest: None,
            cancel: self.cancel,
            deadline,
            failure: None,
        };

        let sent = match (declared, self.cfg.unknown_length) {
            (Some(len), _) => self.upload(&dst, &payload, &mut reader, Some(len)),
            (None, UnknownLength::Chunked) => self.upload(&dst, &payload, &mut reader, None),
            (None, UnknownLength::Fail) => {
                return Err(TransferError::UnknownLength {
                    url: job.src.clone(),
                });
            }
            (None, UnknownLength::Spool) => {
                if scratch.is_empty() {
                    scratch.resize(self.cfg.buffer.max(1), 0);
                }
                let filled = spool::fill(&mut reader, self.cfg.spool_memory, scratch);
                out.bytes = reader.count;
                let (mut spooled, len) = match filled {
                    Ok(filled) => filled,
                    Err(SpoolError::Read(err)) => {
                        return Err(reader.failure.take().unwrap_or_else(|| {
                            source_io_error(&job.src, &err, reader.count, None)
                        }));
                    }
                    Err(SpoolError::Disk(err)) => {
                        return Err(TransferError::Spool {
                            url: job.src.clone(),
                            message: err.to_string(),
                        });
                    }
                };
                let mut checked = Deadline {
                    inner: &mut spooled,
                    cancel: self.cancel,
                    deadline,
                    url: &dst,
                };
                self.upload(&dst, &payload, &mut checked, Some(len))
            }
        };
        out.bytes = reader.count;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                return Err(reader
                    .failure
                    .take()
                    .unwrap_or_else(|| classify(err, Side::Destination, &dst)));
            }
        };
        if let Some(failure) = reader.failure.take() {
            return Err(failure);
        }
        reader.finish()?;
        check_upload_status(response, &dst)?;
        Ok(Delivered {
            bytes: reader.count,
            sha256: reader.digest,
        })
    }

    /// Sends `body` to `dst` with the configured method, headers and style (raw, or as
    /// a form field); with `length`, as exactly that many bytes of file
    /// (`Content-Length` covers the form's frame too), without it, chunked. Redirects
    /// are not followed: a redirected upload must not turn into a GET or an empty POST.
    fn upload(
        &self,
        dst: &str,
        payload: &Payload,
        body: &mut dyn Read,
        length: Option<u64>,
    ) -> Result<Response<Body>, ureq::Error> {
        let request = match self.cfg.method {
            Method::Post => self.agents.upload.post(dst),
            Method::Put => self.agents.upload.put(dst),
        };
        // After the last byte is handed to the OS, the destination may still be
        // draining the socket buffers (a slow reader) or storing the file: its answer
        // gets ANSWER_WAIT stall timeouts rather than one.
        let request = request
            .config()
            .max_redirects(0)
            .timeout_per_read(None)
            .timeout_recv_response(Some(self.cfg.stall_timeout * ANSWER_WAIT))
            .timeout_recv_body(Some(self.cfg.stall_timeout))
            .build();
        let mut request = http::with_headers(request, &self.cfg.http.dst_headers);
        let Some(field) = &self.cfg.upload.form_field else {
            request = request.header("content-type", payload.content_type);
            if let Some(length) = length {
                request = request.header("content-length", length);
            }
            return request.send(SendBody::from_reader(body));
        };
        let form = Form::new(field, payload.name, payload.content_type);
        request = request.header("content-type", &form.content_type);
        if let Some(length) = length {
            request = request.header("content-length", form.length(length));
        }
        request.send(SendBody::from_reader(&mut form.wrap(body)))
    }
}

/// How many stall timeouts an upload's answer may take once its body is sent.
pub const ANSWER_WAIT: u32 = 4;

/// Turns the destination's answer into success or a typed error, reading (and
/// discarding) a bounded part of its body so the connection can be reused.
fn check_upload_status(mut response: Response<Body>, dst: &str) -> Result<(), TransferError> {
    let status = response.status().as_u16();
    let _ = io::copy(
        &mut response.body_mut().as_reader().take(ERROR_BODY_LIMIT),
        &mut io::sink(),
    );
    if (200..300).contains(&status) {
        return Ok(());
    }
    if (300..400).contains(&status) {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(no Location)");
        return Err(TransferError::Redirect {
            side: Side::Destination,
            url: dst.to_string(),
            message: format!(
                "answered the upload with HTTP {status} to {location}; ferry does not \
                 re-send a body to a redirected location, put the final URL in --to"
            ),
        });
    }
    Err(status_error(Side::Destination, dst, &response))
}

fn status_error(side: Side, url: &str, response: &Response<Body>) -> TransferError {
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(retry::parse_retry_after);
    TransferError::Status {
        side,
        url: url.to_string(),
        status: response.status().as_u16(),
        retry_after,
    }
}

/// Maps an HTTP client error to what ferry does about it.
fn classify(err: ureq::Error, side: Side, url: &str) -> TransferError {
    let url = url.to_string();
    match err {
        ureq::Error::Timeout(what) => TransferError::Timeout {
            side,
            url,
            message: what.to_string(),
        },
        ureq::Error::Io(io) if is_timeout(&io) => TransferError::Timeout {
            side,
            url,
            message: io.to_string(),
        },
        ureq::Error::TooManyRedirects => TransferError::Redirect {
            side,
            url,
            message: format!("too many redirects (more than {MAX_REDIRECTS})"),
        },
        ureq::Error::Protocol(ureq_proto_err) => {
            let message = ureq_proto_err.to_string();
            if message.contains("location") {
                TransferError::Redirect {
                    side,
                    url,
                    message: format!("answered a redirect without a Location header ({message})"),
                }
            } else {
                TransferError::Network { side, url, message }
            }
        }
        ureq::Error::RedirectFailed | ureq::Error::BadUri(_) | ureq::Error::RequireHttpsOnly(_) => {
            TransferError::Redirect {
                side,
                url,
                message: format!("cannot follow: {err}"),
            }
        }
        other if http::is_certificate_error(&other.to_string()) => TransferError::Tls {
            side,
            url,
            message: format!("{other} ({})", http::CERTIFICATE_HINT),
        },
        other => TransferError::Network {
            side,
            url,
            message: other.to_string(),
        },
    }
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// An I/O error while reading the source body, as a transfer error.
fn source_io_error(url: &str, err: &io::Error, got: u64, declared: Option<u64>) -> TransferError {
    if is_timeout(err) || err.to_string().contains("timeout") {
        return TransferError::Timeout {
            side: Side::Source,
            url: url.to_string(),
            message: format!("no data for the stall timeout after {got} bytes ({err})"),
        };
    }
    match declared {
        Some(expected) if err.kind() == io::ErrorKind::UnexpectedEof || got < expected => {
            TransferError::Truncated {
                url: url.to_string(),
                expected,
                got,
            }
        }
        _ => TransferError::Network {
            side: Side::Source,
            url: url.to_string(),
            message: format!("after {got} bytes: {err}"),
        },
    }
}

/// The source body as the upload reads it: counts, hashes, and checks it, and turns any
/// problem into an I/O error (so ureq abandons the upload) while keeping the typed
/// error in `failure` for the journal.
struct SourceReader<'a, R> {
    inner: R,
    url: &'a str,
    declared: Option<u64>,
    job: &'a Job,
    count: u64,
    hasher: Option<Sha256>,
    md5: Option<Md5>,
    promises: Promises,
    digest: Option<String>,
    cancel: &'a Cancel,
    deadline: Option<Instant>,
    failure: Option<TransferError>,
}

impl<R: Read> SourceReader<'_, R> {
    fn fail(&mut self, err: TransferError) -> io::Error {
        let io = io::Error::other(err.to_string());
        self.failure = Some(err);
        io
    }

    /// The whole body has been read: check its size and digest against the promises.
    fn finish(&mut self) -> Result<(), TransferError> {
        if let Some(declared) = self.declared
            && self.count != declared
        {
            return Err(TransferError::Truncated {
                url: self.url.to_string(),
                expected: declared,
                got: self.count,
            });
        }
        if let Some(expected) = self.job.size
            && self.count != expected
        {
            return Err(self.mismatch(format!(
                "received {} bytes but the manifest says {expected}",
                self.count
            )));
        }
        if self.digest.is_none()
            && let Some(hasher) = self.hasher.take()
        {
            let sha256 = hasher.finalize();
            let md5 = self.md5.take().map(|md5| md5.finalize());
            if let Err(message) = self.promises.check(md5.as_deref(), Some(&sha256)) {
                return Err(self.mismatch(message));
            }
            self.digest = Some(hex(&sha256));
        }
        if let (Some(expected), Some(got)) = (&self.job.sha256, &self.digest)
            && expected != got
        {
            return Err(self.mismatch(format!("SHA-256 is {got} but the manifest says {expected}")));
        }
        Ok(())
    }

    /// Lets the HTTP client see the end of a body it has handed over completely, so the
    /// source connection goes back to the pool: a `Content-Length` upload stops reading
    /// at the last byte, and ureq keeps a connection only once a read returned 0.
    fn release(&mut self) {
        let mut probe = [0u8; 1];
        // The body is complete: this read returns 0 without touching the socket. An
        // error (or a byte past the end) only means the connection is not reused.
        let _ = self.inner.read(&mut probe);
    }

    fn mismatch(&self, message: String) -> TransferError {
        TransferError::Mismatch {
            url: self.url.to_string(),
            message,
        }
    }
}

impl<R: Read> Read for SourceReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = interrupted(self.cancel, self.deadline, Side::Source, self.url) {
            return Err(self.fail(err));
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return Err(err),
            Err(err) => {
                let typed = source_io_error(self.url, &err, self.count, self.declared);
                return Err(self.fail(typed));
            }
        };
        if n == 0 {
            // End of the body: everything must check out before ureq may finish the
            // upload (chunked uploads end with the terminating chunk after this).
            return match self.finish() {
                Ok(()) => Ok(0),
                Err(err) => Err(self.fail(err)),
            };
        }
        self.count += n as u64;
        if let Some(expected) = self.job.size
            && self.count > expected
        {
            let err = self.mismatch(format!(
                "source sent more than the {expected} bytes the manifest says"
            ));
            return Err(self.fail(err));
        }
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        if let Some(md5) = &mut self.md5 {
            md5.update(&buf[..n]);
        }
        if Some(self.count) == self.declared {
            // The last bytes of a known-length body: with a Content-Length upload ureq
            // will not read again, so the checks happen now, before these bytes go out.
            if let Err(err) = self.finish() {
                return Err(self.fail(err));
            }
            self.release();
        }
        Ok(n)
    }
}

/// A spooled body being uploaded: honours ctrl-c's abort and `--max-time`.
struct Deadline<'a> {
    inner: &'a mut dyn Read,
    cancel: &'a Cancel,
    deadline: Option<Instant>,
    url: &'a str,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = interrupted(self.cancel, self.deadline, Side::Destination, self.url) {
            return Err(io::Error::other(err.to_string()));
        }
        self.inner.read(buf)
    }
}

fn interrupted(
    cancel: &Cancel,
    deadline: Option<Instant>,
    side: Side,
    url: &str,
) -> Option<TransferError> {
    if cancel.aborting() {
        return Some(TransferError::Aborted);
    }
    match deadline {
        Some(deadline) if Instant::now() >= deadline => Some(TransferError::Timeout {
            side,
            url: url.to_string(),
            message: "the file took longer than --max-time".into(),
        }),
        _ => None,
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The time budget an attempt reports in messages.
pub fn describe(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}
