//! [`CopyConfig`]: everything `ferry copy` needs, typed and validated. Built by
//! [`crate::cli`] from the command line, or directly by the demo, tests and benches.

use std::path::PathBuf;
use std::time::Duration;

use crate::http::HttpOptions;
use crate::progress::ProgressMode;
use crate::rate::Rate;
use crate::template::Template;
use crate::upload::UploadOptions;

/// Where the jobs come from.
#[derive(Clone, Debug)]
pub enum JobSource {
    /// The design document's mode: GET the same URL `count` times, each answer a new file.
    Document {
        /// The URL to GET.
        url: String,
        /// How many times.
        count: u64,
    },
    /// A manifest file (or `-` for stdin): one `URL[<TAB>NAME[<TAB>SIZE<TAB>SHA256]]` per line.
    Manifest(PathBuf),
    /// Jobs already in memory (the demo, tests and benches build them directly).
    Jobs(Vec<crate::job::Job>),
}

/// The upload method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `POST` the body to the destination URL (the document's choice).
    Post,
    /// `PUT` the body to the destination URL (WebDAV, S3-style stores).
    Put,
}

/// What to do with a source body that comes without a `Content-Length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownLength {
    /// Buffer it (in memory up to [`CopyConfig::spool_memory`], then in a temporary file)
    /// and upload it with its exact length. Works with every destination.
    Spool,
    /// Upload it with `Transfer-Encoding: chunked` as it arrives. Needs no disk, but many
    /// destinations (the document's own among them) refuse chunked bodies.
    Chunked,
    /// Fail the job.
    Fail,
}

/// Everything `ferry copy` needs.
#[derive(Clone, Debug)]
pub struct CopyConfig {
    /// Where the jobs come from.
    pub source: JobSource,
    /// The destination URL template.
    pub template: Template,
    /// Size of the worker pool (concurrent transfers).
    pub workers: usize,
    /// Per-worker pipe buffer, in bytes (the HTTP client's I/O buffers).
    pub buffer: usize,
    /// POST or PUT.
    pub method: Method,
    /// JSON-lines journal, one line per finished job.
    pub journal: Option<PathBuf>,
    /// Skip jobs the journal already lists as done.
    pub resume: bool,
    /// Where to write the failed jobs, in manifest format.
    pub failed_list: Option<PathBuf>,
    /// What to do with bodies of unknown length.
    pub unknown_length: UnknownLength,
    /// How much of a body of unknown length is held in memory before spilling to disk.
    pub spool_memory: usize,
    /// Attempts after the first one.
    pub retries: u32,
    /// Upper bound of one backoff delay (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// First backoff delay; later ones double.
    pub initial_backoff: Duration,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Longest time without a byte moving on a socket.
    pub stall_timeout: Duration,
    /// Longest time one request (GET or upload) may take, if bounded.
    pub max_time: Option<Duration>,
    /// After the first ctrl-c, how long running transfers may go on.
    pub drain_timeout: Duration,
    /// Compute a SHA-256 of every body in flight (journaled, and checked against the manifest).
    pub checksum: bool,
    /// Print one line per finished job.
    pub verbose: bool,
    /// Print nothing but errors.
    pub quiet: bool,
    /// This process's share of the jobs, when the migration is split (`--shard K/N`).
    pub shard: Option<crate::shard::Assignment>,
    /// What the operator sees and controls: bars, stats, JSON, bandwidth, dry run.
    pub operator: Operator,
    /// Extra headers per side, TLS trust, redirect policy.
    pub http: HttpOptions,
    /// Raw body or form, and the content type.
    pub upload: UploadOptions,
}

/// The operator's options of `ferry copy`.
#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    /// When to draw live progress bars on stderr.
    pub progress: ProgressMode,
    /// Interval of stats lines when no bars are drawn (None: 30 s when stderr is not a
    /// terminal, else none; zero: none).
    pub stats: Option<Duration>,
    /// Print one JSON object describing the run on stdout at the end.
    pub json: bool,
    /// Cap on the bytes per second read from all sources together.
    pub bwlimit: Option<Rate>,
    /// List what would be copied (with sizes from HEAD) and copy nothing.
    pub dry_run: bool,
}

impl Default for Operator {
    fn default() -> Self {
        Operator {
            progress: ProgressMode::Auto,
            stats: None,
            json: false,
            bwlimit: None,
            dry_run: false,
        }
    }
}

impl CopyConfig {
    /// A configuration with the documented defaults.
    pub fn new(source: JobSource, template: Template) -> Self {
        CopyConfig {
            source,
            template,
            workers: 8,
            buffer: DEFAULT_BUFFER,
            method: Method::Post,
            journal: None,
            resume: false,
            failed_list: None,
            unknown_length: UnknownLength::Spool,
            spool_memory: 8 * 1024 * 1024,
            retries: 5,
            max_backoff: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            max_time: None,
            drain_timeout: Duration::from_secs(30),
            checksum: true,
            verbose: false,
            quiet: false,
            shard: None,
            operator: Operator::default(),
            http: HttpOptions::default(),
            upload: UploadOptions::default(),
        }
    }
}

/// The default per-worker buffer. 256 KiB: see the README's benchmark section.
pub const DEFAULT_BUFFER: usize = 256 * 1024;
