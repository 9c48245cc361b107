//! The command line: clap derive structs, value parsers, and the conversion of the
//! parsed arguments into typed configurations. Nothing else in ferry knows clap.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{CopyConfig, DEFAULT_BUFFER, JobSource, Method, Operator, UnknownLength};
use crate::demo::DemoConfig;
use crate::error::Exit;
use crate::headers::Header;
use crate::http::{HttpOptions, Trust};
use crate::merge::MergeConfig;
use crate::plan::{PlanConfig, Prices};
use crate::progress::ProgressMode;
use crate::rate::Rate;
use crate::shard::{self, Shard};
use crate::sim::{DestinationOptions, SourceOptions};
use crate::template::Template;
use crate::upload::{DEFAULT_CONTENT_TYPE, UploadOptions};

const AFTER_HELP: &str = "\
Examples:
  # document mode: GET one URL 4 times, each answer is a new file, POSTed by its name
  ferry copy --from http://127.0.0.1:8000/ --count 4 --to 'http://127.0.0.1:8001/{name}'

  # manifest mode: one URL per line (optionally URL<TAB>NAME<TAB>SIZE<TAB>SHA256), journaled
  ferry copy --list files.txt --to 'https://dst.example/in/{name}' --journal run.jsonl

  # resume after an interruption or a failure: skip what the journal lists as done
  ferry copy --list files.txt --to 'https://dst.example/in/{name}' --journal run.jsonl --resume

  # a WebDAV destination: PUT each file into a collection
  ferry copy --list files.txt --method put \\
      --to 'https://dav.example/remote.php/dav/files/me/backup/{name}'

  # throttled, one JSON report on stdout for scripts, a stats line a minute in the log
  ferry copy --list files.txt --to 'https://dst.example/in/{name}' \\
      --bwlimit 50MiB/s --stats 1m --json > report.json 2> run.log

  # before starting: what would be copied, and what the whole migration would take
  ferry copy --dry-run --list files.txt --to 'https://dst.example/in/{name}'
  ferry plan --list files.txt --link 10Gbps --measured 400MB/s

  # everything on loopback, no setup
  ferry demo
";

/// Moves many files from one HTTP service to another, streaming each download straight
/// into its upload.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, after_help = AFTER_HELP, after_long_help = long_help())]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

fn long_help() -> String {
    format!(
        "{AFTER_HELP}\n{}\n\nJournal (--journal FILE): one JSON object per line, per finished job:\n  \
         {{\"src\": URL, \"name\": NAME, \"dst\": URL, \"status\": \"done\"|\"failed\", \"bytes\": N,\n   \
         \"error\": TEXT|null, \"sha256\": HEX (done lines), \"index\": N, \"attempts\": N}}",
        Exit::TABLE
    )
}

/// The subcommands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy files from a source to a destination.
    #[command(after_help = AFTER_HELP, after_long_help = long_help())]
    Copy(CopyArgs),
    /// Run a built-in simulator (source or destination) on loopback.
    Serve {
        /// Which simulator.
        #[command(subcommand)]
        side: ServeSide,
    },
    /// Start both simulators in this process, copy a batch through them, verify every byte.
    Demo(DemoArgs),
    /// Work with journals (e.g. merge the journals of the shards of one migration).
    Journal {
        /// What to do.
        #[command(subcommand)]
        action: JournalAction,
    },
    /// Before a migration: files, bytes, time at a link speed, and what it costs (service vs VPS).
    #[command(after_help = PLAN_HELP)]
    Plan(PlanArgs),
    /// Print a shell completion script (e.g. `ferry completions bash > /etc/bash_completion.d/ferry`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `ferry man > ferry.1`, `ferry man copy > ferry-copy.1`.
    Man {
        /// The subcommand whose page to print (copy, serve, demo, plan, journal, ...);
        /// without one, the page of ferry itself.
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
}

const PLAN_HELP: &str = "\
Examples:
  # sizes from the manifest's SIZE column, or HEAD requests (16 in parallel)
  ferry plan --list files.txt --link 10Gbps --measured 450MB/s --vps-price-per-hour 0.50

Prices are per GB of 2^30 bytes (the design document's $4,096 for 4 TB); VPS time is
billed in whole hours, computed from the measured speed (else the link speed) unless
--vps-hours is given; a storage month is 730 hours. Files whose size nobody tells are
counted and reported, never guessed.";

/// `ferry plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: SourceArgs,
    /// Parallel size probes (HEAD, or a 1-byte ranged GET when HEAD fails).
    #[arg(long, short = 'j', default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// Time allowed to each probe request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// The link speed to plan with, e.g. 10Gbps, 1Gbit/s, 100MB/s.
    #[arg(long, value_name = "RATE", default_value = "10Gbps")]
    pub link: Rate,
    /// A throughput measured on this machine (e.g. `throughput_bytes_per_second` of a `ferry copy --json` run).
    #[arg(long, value_name = "RATE")]
    pub measured: Option<Rate>,
    /// Price of the migration service, dollars per GB.
    #[arg(long, value_name = "DOLLARS", default_value_t = 1.0, value_parser = parse_price)]
    pub price_per_gb_service: f64,
    /// Price of VPS storage, dollars per GB-month.
    #[arg(long, value_name = "DOLLARS", default_value_t = 0.08, value_parser = parse_price)]
    pub vps_storage_per_gb_month: f64,
    /// Price of the VPS itself, dollars per hour.
    #[arg(long, value_name = "DOLLARS", default_value_t = 0.0, value_parser = parse_price)]
    pub vps_price_per_hour: f64,
    /// Hours the VPS is rented (default: the transfer time, in whole hours).
    #[arg(long, value_name = "HOURS", value_parser = parse_price)]
    pub vps_hours: Option<f64>,
}

/// Where the jobs come from (`ferry copy` and `ferry plan`).
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Document mode: the URL to GET; each GET answers with a new file.
    #[arg(long, value_name = "URL", requires = "count", conflicts_with = "list")]
    pub from: Option<String>,
    /// Document mode: how many files to fetch from --from.
    #[arg(long, value_name = "N", requires = "from")]
    pub count: Option<u64>,
    /// Manifest mode: a file with one `URL` or `URL<TAB>NAME[<TAB>SIZE<TAB>SHA256]` per line (`-` for stdin).
    #[arg(long, value_name = "FILE", required_unless_present = "from")]
    pub list: Option<PathBuf>,
}

/// `ferry copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: SourceArgs,
    /// Destination URL; `{name}` becomes the file name (percent-encoded, one path segment), `{index}` the job number, `{src_path}` the source URL's path.
    #[arg(long, value_name = "TEMPLATE")]
    pub to: String,
    /// Number of concurrent transfers (worker threads).
    #[arg(long, short = 'j', default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// Per-worker buffer size, e.g. 256KiB, 1MiB.
    #[arg(long, value_name = "SIZE", default_value = "256KiB", value_parser = parse_buffer)]
    pub buffer: usize,
    /// Upload method.
    #[arg(long, value_enum, ignore_case = true, default_value_t = MethodArg::Post)]
    pub method: MethodArg,
    /// Append one JSON line per finished job to FILE.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Skip the jobs that --journal lists as done.
    #[arg(long, requires = "journal")]
    pub resume: bool,
    /// Write the failed jobs to FILE in manifest format (retry them with --list FILE).
    #[arg(long, value_name = "FILE")]
    pub failed: Option<PathBuf>,
    /// What to do when the source sends no Content-Length.
    #[arg(long, value_enum, ignore_case = true, default_value_t = UnknownLengthArg::Spool)]
    pub unknown_length: UnknownLengthArg,
    /// With --unknown-length spool: bytes held in memory before spilling to a temporary file.
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size)]
    pub spool_memory: u64,
    /// Attempts after the first one, for errors worth retrying (5xx, 429, resets, timeouts).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,
    /// Longest wait between attempts (also caps Retry-After).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub max_backoff: Duration,
    /// First wait between attempts; later ones double up to --max-backoff (for tests).
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration, hide = true)]
    pub initial_backoff: Duration,
    /// Time allowed to open a connection.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub connect_timeout: Duration,
    /// Give up on a transfer when no byte moved for this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub stall_timeout: Duration,
    /// Longest time one request (the download or the upload) of a file may take.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub max_time: Option<Duration>,
    /// After the first ctrl-c, how long running transfers may go on before they are aborted.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Do not compute SHA-256 of the bodies (saves CPU; no sha256 in the journal).
    #[arg(long)]
    pub no_checksum: bool,
    /// Print a line for every finished job.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print only errors (no summary, no retry messages).
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub shard: ShardArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub operator: OperatorArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub service: ServiceArgs,
}

/// `ferry copy` options for real services: credentials, TLS, redirects, upload style.
#[derive(Debug, Args)]
#[command(next_help_heading = "Real services")]
pub struct ServiceArgs {
    /// Extra header on every source request (repeatable); the value may be `env:VAR` or `@FILE` to keep secrets off the command line.
    #[arg(long = "src-header", value_name = "NAME: VALUE")]
    pub src_header: Vec<String>,
    /// Extra header on every upload (repeatable); the value may be `env:VAR` or `@FILE`.
    #[arg(long = "dst-header", value_name = "NAME: VALUE")]
    pub dst_header: Vec<String>,
    /// Trust only the CA certificates in this PEM file for HTTPS (instead of the built-in roots).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify HTTPS certificates at all (prints a warning on every run).
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,
    /// Follow a source redirect from https to plain http.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Upload as multipart/form-data with the file as this field (exact Content-Length, no chunking).
    #[arg(long, value_name = "NAME")]
    pub form_field: Option<String>,
    /// Content type of the uploaded file.
    #[arg(long, value_name = "TYPE", default_value = DEFAULT_CONTENT_TYPE)]
    pub content_type: String,
    /// Use the source's Content-Type when it sends one (else --content-type).
    #[arg(long)]
    pub keep_content_type: bool,
}

/// `ferry copy --shard K/N | --shards N`: this process's share of a split migration.
#[derive(Debug, Args)]
#[command(next_help_heading = "More than one machine")]
pub struct ShardArgs {
    /// Take only shard K of N (numbered from 0: 0/4 .. 3/4), by a hash of each source URL
    /// (document mode: by job number). Without it, ferry looks for a Kubernetes Indexed
    /// Job or a Slurm array. `{shard}` in --journal/--failed becomes K.
    #[arg(long, value_name = "K/N", value_parser = clap::value_parser!(Shard))]
    pub shard: Option<Shard>,
    /// Number of shards, for a Kubernetes Indexed Job (its completions): the shard is
    /// JOB_COMPLETION_INDEX. Slurm arrays need no --shards.
    #[arg(long, value_name = "N", conflicts_with = "shard",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: Option<u64>,
}

/// `ferry journal ...`.
#[derive(Debug, Subcommand)]
pub enum JournalAction {
    /// Merge the journals of one migration's shards: the combined journal on stdout, a
    /// report on stderr (done, failed, done twice, missing). Exit 0 if every job was
    /// done exactly once, 1 if not.
    Merge(MergeArgs),
}

/// `ferry journal merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The journals to merge (e.g. shard-0.jsonl shard-1.jsonl ...).
    #[arg(value_name = "JOURNAL", required = true)]
    pub journals: Vec<PathBuf>,
    /// The migration's manifest: also report the jobs no journal lists as done.
    #[arg(long, value_name = "FILE")]
    pub list: Option<PathBuf>,
    /// With --list: the number of shards, to say which shard each missing job belongs to.
    #[arg(long, value_name = "N", requires = "list",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: Option<u64>,
}

/// The operator's options of `ferry copy`: what is shown, and throttling.
#[derive(Debug, Args)]
#[command(next_help_heading = "Watching and throttling")]
pub struct OperatorArgs {
    /// Live progress bars on stderr: one line for the run, one per active transfer (auto: when stderr is a terminal).
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
    /// When no bars are drawn, print a stats line this often (default 30s when stderr is not a terminal; 0 turns it off).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub stats: Option<Duration>,
    /// Print one JSON object describing the run on stdout at the end (schema in the README).
    #[arg(long, conflicts_with = "dry_run")]
    pub json: bool,
    /// Limit the bytes per second read from all sources together, e.g. 50MiB/s, 10M, 100Mbps.
    #[arg(long, value_name = "RATE")]
    pub bwlimit: Option<Rate>,
    /// List each job's source, name, destination URL and size (from HEAD, or a 1-byte ranged GET) without copying.
    #[arg(long)]
    pub dry_run: bool,
}

/// `--progress`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProgressArg {
    /// When stderr is a terminal (and not --quiet).
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

/// `--method`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    /// POST the body (the design document's choice).
    Post,
    /// PUT the body (WebDAV, object stores).
    Put,
}

/// `--unknown-length`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum UnknownLengthArg {
    /// Buffer (memory, then a temporary file) and upload with the exact length.
    Spool,
    /// Upload with chunked transfer encoding as it arrives.
    Chunked,
    /// Fail the job.
    Fail,
}

/// `ferry serve src|dst`.
#[derive(Debug, Subcommand)]
pub enum ServeSide {
    /// A source: every GET answers with a new file (`GET /files/<i>` gives file i).
    ///
    /// Faults are asked for per request, in the file URL's query:
    /// `?fault=<kind>[,<kind>...]&fail_times=K&one_in=N&retry_after=S|date:S`, kinds
    /// truncate, reset, extra, dup-length, bad-length, chunked-length, chunked-cut,
    /// bad-chunk, gzip, silence, no-head, trickle, `status:<code>`, `redirect:<n>`,
    /// redirect-loop, no-location, bad-scheme, bad-digest (with `digest=<kind>`); see the
    /// README's Simulators section.
    Src(ServeSrcArgs),
    /// A destination: accepts POST/PUT bodies, records name, size and SHA-256 of each.
    ///
    /// Faults are asked for per upload, in the upload URL's query (so in ferry's --to
    /// template): `?fault=<kind>[,<kind>...]&fail_times=K&one_in=N&retry_after=S|date:S`, kinds
    /// require-length, `status:<code>`, reset, no-read, slow-read, expect-ignore,
    /// expect-417, `redirect:<code>`; see the README's Simulators section.
    Dst(ServeDstArgs),
}

/// Options both simulators share.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
}

/// `ferry serve src`.
#[derive(Debug, Args)]
pub struct ServeSrcArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub listen: ListenArgs,
    /// Smallest file size.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub min_size: u64,
    /// Largest file size.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_size: u64,
    /// Seed for names, sizes and contents.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Answer like the document's source: HTTP/1.0, no Content-Length, close-delimited.
    #[arg(long)]
    pub no_length: bool,
}

/// `ferry serve dst`.
#[derive(Debug, Args)]
pub struct ServeDstArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub listen: ListenArgs,
    /// Answer 411 to uploads without Content-Length, like the document's destination.
    #[arg(long)]
    pub require_length: bool,
    /// Append one JSON line per upload received to FILE.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Do not hash received bodies.
    #[arg(long)]
    pub no_hash: bool,
}

/// `ferry demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of files.
    #[arg(long, default_value_t = 16)]
    pub files: u64,
    /// Smallest file size.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub min_size: u64,
    /// Largest file size.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_size: u64,
    /// Number of concurrent transfers.
    #[arg(long, short = 'j', default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
}

/// A fully checked command, ready to run.
#[derive(Debug)]
pub enum Plan {
    /// `ferry copy`.
    Copy(Box<CopyConfig>),
    /// `ferry serve src`.
    ServeSource(SocketAddr, SourceOptions),
    /// `ferry serve dst`.
    ServeDestination(SocketAddr, DestinationOptions),
    /// `ferry demo`.
    Demo(DemoConfig),
    /// `ferry journal merge`.
    MergeJournals(MergeConfig),
    /// `ferry plan`.
    Estimate(PlanConfig),
    /// `ferry completions` and `ferry man`: text generated from this definition, for stdout.
    Print(Vec<u8>),
}

/// Parses `args` (the program name first). Usage errors come back as clap errors, which
/// print themselves and exit with code 2 (`--help` and `--version` exit 0).
pub fn parse<I, T>(args: I) -> Result<Plan, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    match cli.command {
        Command::Copy(args) => copy_config(args).map(|c| Plan::Copy(Box::new(c))),
        Command::Serve {
            side: ServeSide::Src(args),
        } => {
            if args.min_size > args.max_size {
                return Err(usage("--min-size is larger than --max-size"));
            }
            let opts = SourceOptions {
                min_size: args.min_size,
                max_size: args.max_size,
                seed: args.seed,
                no_length: args.no_length,
            };
            Ok(Plan::ServeSource(addr(&args.listen), opts))
        }
        Command::Serve {
            side: ServeSide::Dst(args),
        } => {
            let opts = DestinationOptions {
                hash: !args.no_hash,
                require_length: args.require_length,
                log_file: args.log,
            };
            Ok(Plan::ServeDestination(addr(&args.listen), opts))
        }
        Command::Plan(args) => plan_config(args).map(Plan::Estimate),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ferry", &mut out);
            Ok(Plan::Print(out))
        }
        Command::Man { subcommand } => {
            let mut cli = Cli::command().disable_help_subcommand(true);
            // Building names the subcommands' pages `ferry-copy` and so on.
            cli.build();
            let page = match &subcommand {
                None => cli,
                Some(name) => cli.find_subcommand(name).cloned().ok_or_else(|| {
                    let names: Vec<&str> =
                        cli.get_subcommands().map(clap::Command::get_name).collect();
                    usage(&format!(
                        "no subcommand {name:?}; man pages exist for: {}",
                        names.join(", ")
                    ))
                })?,
            };
            let mut out = Vec::new();
            clap_mangen::Man::new(page)
                .render(&mut out)
                .map_err(|err| usage(&format!("cannot render the man page: {err}")))?;
            Ok(Plan::Print(out))
        }
        Command::Demo(args) => {
            if args.min_size > args.max_size {
                return Err(usage("--min-size is larger than --max-size"));
            }
            Ok(Plan::Demo(DemoConfig {
                files: args.files,
                min_size: args.min_size,
                max_size: args.max_size,
                workers: args.workers as usize,
            }))
        }
        Command::Journal {
            action: JournalAction::Merge(args),
        } => Ok(Plan::MergeJournals(MergeConfig {
            journals: args.journals,
            manifest: args.list,
            shards: args.shards,
        })),
    }
}

fn addr(listen: &ListenArgs) -> SocketAddr {
    SocketAddr::new(listen.bind, listen.port)
}

fn plan_config(args: PlanArgs) -> Result<PlanConfig, clap::Error> {
    let source = job_source(args.source)?;
    Ok(PlanConfig {
        source,
        workers: args.workers as usize,
        timeout: args.timeout,
        link: args.link,
        measured: args.measured,
        prices: Prices {
            service_per_gb: args.price_per_gb_service,
            vps_storage_per_gb_month: args.vps_storage_per_gb_month,
            vps_per_hour: args.vps_price_per_hour,
            vps_hours: args.vps_hours,
        },
    })
}

/// The job source of `--from URL --count N` or `--list FILE`, checked.
fn job_source(args: SourceArgs) -> Result<JobSource, clap::Error> {
    match (args.from, args.count, args.list) {
        (Some(url), Some(count), None) => {
            crate::job::check_url(&url).map_err(|err| usage(&format!("--from: {err}")))?;
            Ok(JobSource::Document { url, count })
        }
        (None, None, Some(list)) => {
            // Anything readable but a directory: a file, a FIFO, `<(command)`.
            if list.as_os_str() != "-" && (list.is_dir() || !list.exists()) {
                let what = if list.is_dir() {
                    "is a directory, not a file"
                } else {
                    "does not exist"
                };
                return Err(usage(&format!("manifest {} {what}", list.display())));
            }
            Ok(JobSource::Manifest(list))
        }
        _ => Err(usage("give either --from URL --count N, or --list FILE")),
    }
}

/// Parses a price or a number of hours: a finite number, zero or more.
fn parse_price(text: &str) -> Result<f64, String> {
    match text.trim().trim_start_matches('$').parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "{text:?} is not a number of zero or more, e.g. 0.08"
        )),
    }
}

fn copy_config(args: CopyArgs) -> Result<CopyConfig, clap::Error> {
    let template: Template = args
        .to
        .parse()
        .map_err(|err| usage(&format!("--to {:?}: {err}", args.to)))?;
    let source = job_source(args.source)?;
    match &source {
        JobSource::Document { count, .. } if *count > 1 && !template.names_each_file() => {
            return Err(usage(
                "--to has no {name} or {index}, so every file would go to the same URL \
                 ({src_path} is the same for every GET of --from); add one, \
                 e.g. 'http://host/dir/{name}'",
            ));
        }
        JobSource::Manifest(_) if !template.is_per_file() => {
            return Err(usage(
                "--to has no {name}, {index} or {src_path}, so every file of the manifest \
                 would go to the same URL; add one, e.g. 'http://host/dir/{name}'",
            ));
        }
        _ => {}
    }
    let mut cfg = CopyConfig::new(source, template);
    cfg.workers = args.workers as usize;
    cfg.buffer = args.buffer;
    cfg.method = match args.method {
        MethodArg::Post => Method::Post,
        MethodArg::Put => Method::Put,
    };
    cfg.shard = shard::detect_from_process(args.shard.shard, args.shard.shards)
        .map_err(|err| usage(&err))?;
    let this = cfg.shard.as_ref().map(|a| a.shard);
    let expand = |path: Option<PathBuf>| {
        path.map(|p| shard::expand_path(&p, this))
            .transpose()
            .map_err(|err| usage(&err))
    };
    cfg.journal = expand(args.journal)?;
    cfg.resume = args.resume;
    cfg.failed_list = expand(args.failed)?;
    cfg.unknown_length = match args.unknown_length {
        UnknownLengthArg::Spool => UnknownLength::Spool,
        UnknownLengthArg::Chunked => UnknownLength::Chunked,
        UnknownLengthArg::Fail => UnknownLength::Fail,
    };
    cfg.spool_memory = usize::try_from(args.spool_memory)
        .map_err(|_| usage("--spool-memory is larger than this machine can address"))?;
    cfg.retries = args.retries;
    cfg.max_backoff = args.max_backoff;
    cfg.initial_backoff = args.initial_backoff.min(args.max_backoff);
    cfg.connect_timeout = args.connect_timeout;
    cfg.stall_timeout = args.stall_timeout;
    cfg.max_time = args.max_time;
    cfg.drain_timeout = args.drain_timeout;
    cfg.checksum = !args.no_checksum;
    cfg.verbose = args.verbose;
    cfg.quiet = args.quiet;
    let op = args.operator;
    cfg.operator = Operator {
        progress: match op.progress {
            ProgressArg::Auto => ProgressMode::Auto,
            ProgressArg::Always => ProgressMode::Always,
            ProgressArg::Never => ProgressMode::Never,
        },
        stats: op.stats,
        json: op.json,
        bwlimit: op.bwlimit,
        dry_run: op.dry_run,
    };
    cfg.http = http_options(&args.service)?;
    cfg.upload = upload_options(args.service)?;
    Ok(cfg)
}

fn http_options(args: &ServiceArgs) -> Result<HttpOptions, clap::Error> {
    // Parsed here, not by a clap value parser: clap's own error would echo the value.
    let headers = |flag: &str, args: &[String]| {
        args.iter()
            .map(|arg| Header::parse(arg).map_err(|err| usage(&format!("{flag}: {err}"))))
            .collect::<Result<Vec<_>, _>>()
    };
    let trust = match (&args.ca_cert, args.insecure) {
        (Some(path), _) => Trust::Roots(
            crate::http::load_ca(path).map_err(|err| usage(&format!("--ca-cert: {err}")))?,
        ),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::WebPki,
    };
    let dst_headers = headers("--dst-header", &args.dst_header)?;
    if dst_headers.iter().any(|h| h.name() == "content-type") {
        return Err(usage(
            "--dst-header: ferry sets the upload's Content-Type itself; use --content-type TYPE \
             (or --keep-content-type)",
        ));
    }
    Ok(HttpOptions {
        src_headers: headers("--src-header", &args.src_header)?,
        dst_headers,
        trust,
        allow_downgrade: args.allow_downgrade,
    })
}

fn upload_options(args: ServiceArgs) -> Result<UploadOptions, clap::Error> {
    if ureq::http::HeaderValue::from_str(&args.content_type).is_err() {
        return Err(usage(&format!(
            "--content-type {:?} is not a valid header value; use e.g. application/octet-stream",
            args.content_type
        )));
    }
    if let Some(field) = &args.form_field
        && (field.is_empty() || field.chars().any(char::is_control))
    {
        return Err(usage(
            "--form-field needs a non-empty field name without control characters, e.g. file",
        ));
    }
    Ok(UploadOptions {
        form_field: args.form_field,
        content_type: args.content_type,
        keep_content_type: args.keep_content_type,
    })
}

fn usage(message: &str) -> clap::Error {
    Cli::command().error(ErrorKind::ValueValidation, message)
}

/// Parses a size with units: `65536`, `64KiB`, `1MiB`, `1.5GB`.
fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| format!("{text:?} is not a size; use e.g. 65536, 64KiB, 1MiB"))
}

/// Parses a buffer size: 4KiB to 64MiB.
fn parse_buffer(text: &str) -> Result<usize, String> {
    let size = parse_size(text)?;
    if !(4096..=64 * 1024 * 1024).contains(&size) {
        return Err(format!(
            "{text:?} is out of range: use 4KiB to 64MiB (default {}KiB)",
            DEFAULT_BUFFER / 1024
        ));
    }
    Ok(size as usize)
}

/// Parses a duration with humantime: `30s`, `2m`, `1h 30m`, `500ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("{text:?} is not a duration ({err}); use e.g. 30s, 2m, 500ms"))
}

/// Parses a timeout: a duration that is not zero (a zero timeout would fail every
/// request at once).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!(
            "{text:?} is zero: a timeout must be longer than that, e.g. 500ms or 30s"
        )),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn copy_help_shows_examples_exit_codes_and_the_journal() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("copy")
            .unwrap()
            .render_long_help()
            .to_string();
        for needle in [
            "--from http://127.0.0.1:8000/ --count 4",
            "--list files.txt",
            "--resume",
            "--method put",
            "dav",
            "Exit codes:",
            "130  interrupted",
            "Journal (--journal FILE)",
            "\"status\": \"done\"|\"failed\"",
        ] {
            assert!(
                help.contains(needle),
                "copy --help lacks {needle:?}\n{help}"
            );
        }
    }

    fn copy(args: &[&str]) -> Result<CopyConfig, clap::Error> {
        let mut argv = vec!["ferry", "copy"];
        argv.extend_from_slice(args);
        match parse(argv)? {
            Plan::Copy(cfg) => Ok(*cfg),
            other => panic!("not a copy: {other:?}"),
        }
    }

    const TO: [&str; 2] = ["--to", "http://127.0.0.1:1/{name}"];

    #[test]
    fn document_mode_with_defaults() {
        let cfg = copy(&[
            "--from",
            "http://127.0.0.1:8000/",
            "--count",
            "4",
            TO[0],
            TO[1],
        ])
        .unwrap();
        assert!(matches!(cfg.source, JobSource::Document { count: 4, .. }));
        assert_eq!(cfg.workers, 8);
        assert_eq!(cfg.buffer, DEFAULT_BUFFER);
        assert_eq!(cfg.method, Method::Post);
        assert_eq!(cfg.unknown_length, UnknownLength::Spool);
    }

    #[test]
    fn sizes_and_durations_take_units() {
        let cfg = copy(&[
            "--from",
            "http://h/",
            "--count",
            "1",
            TO[0],
            TO[1],
            "--buffer",
            "1MiB",
            "--stall-timeout",
            "2m",
            "--spool-memory",
            "64KiB",
            "--max-time",
            "1h 30m",
        ])
        .unwrap();
        assert_eq!(cfg.buffer, 1 << 20);
        assert_eq!(cfg.spool_memory, 64 << 10);
        assert_eq!(cfg.stall_timeout, Duration::from_secs(120));
        assert_eq!(cfg.max_time, Some(Duration::from_secs(5400)));
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        let cases: &[&[&str]] = &[
            &[
                "--from",
                "http://h/",
                "--count",
                "2",
                TO[0],
                TO[1],
                "--workers",
                "0",
            ],
            &[
                "--from",
                "http://h/",
                "--count",
                "2",
                TO[0],
                TO[1],
                "--buffer",
                "lots",
            ],
            &[
                "--from",
                "http://h/",
                "--count",
                "2",
                TO[0],
                TO[1],
                "--stall-timeout",
                "soon",
            ],
            &["--from", "http:///nohost", "--count", "2", TO[0], TO[1]],
            &["--from", "not a url", "--count", "2", TO[0], TO[1]],
            &[
                "--from",
                "http://h/",
                "--count",
                "2",
                "--to",
                "http://h/same",
            ],
            &[
                "--from",
                "http://h/",
                "--count",
                "2",
                "--to",
                "ftp://h/{name}",
            ],
            &["--list", "/nonexistent/manifest.txt", TO[0], TO[1]],
            &[
                "--from",
                "http://h/",
                "--count",
                "2",
                "--to",
                "http://h/{src_path}",
            ],
            &[
                "--from",
                "http://h/",
                "--count",
                "2",
                TO[0],
                TO[1],
                "--src-header",
                "X-Token",
            ],
            &["--from", "http://h/", TO[0], TO[1]],
            &[TO[0], TO[1]],
        ];
        for case in cases {
            let err = copy(case).expect_err(&format!("{case:?} was accepted"));
            assert_eq!(err.exit_code(), 2, "{case:?}: {err}");
        }
    }

    #[test]
    fn shard_is_parsed_and_names_the_journal() {
        let cfg = copy(&[
            "--list",
            "-",
            TO[0],
            TO[1],
            "--shard",
            "1/4",
            "--journal",
            "/j/shard-{shard}.jsonl",
            "--failed",
            "/j/failed-{shard}.txt",
        ])
        .unwrap();
        let assignment = cfg.shard.expect("--shard was given");
        assert_eq!(assignment.shard, Shard::new(1, 4).unwrap());
        assert_eq!(cfg.journal, Some(PathBuf::from("/j/shard-1.jsonl")));
        assert_eq!(cfg.failed_list, Some(PathBuf::from("/j/failed-1.txt")));
        for bad in ["3/2", "0/0", "x"] {
            let err = copy(&["--list", "-", TO[0], TO[1], "--shard", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}: {err}");
        }
        assert!(
            copy(&[
                "--list", "-", TO[0], TO[1], "--shard", "0/2", "--shards", "2"
            ])
            .is_err()
        );
    }

    #[test]
    fn journal_merge_takes_journals_and_an_optional_manifest() {
        let plan = parse([
            "ferry", "journal", "merge", "a.jsonl", "b.jsonl", "--list", "m",
        ]);
        match plan.unwrap() {
            Plan::MergeJournals(cfg) => {
                assert_eq!(cfg.journals.len(), 2);
                assert_eq!(cfg.manifest, Some(PathBuf::from("m")));
                assert_eq!(cfg.shards, None);
            }
            other => panic!("not a merge: {other:?}"),
        }
        assert!(parse(["ferry", "journal", "merge"]).is_err());
        assert!(parse(["ferry", "journal", "merge", "a", "--shards", "2"]).is_err());
    }

    #[test]
    fn one_file_may_go_to_a_fixed_url() {
        assert!(
            copy(&[
                "--from",
                "http://h/",
                "--count",
                "1",
                "--to",
                "http://d/f.bin"
            ])
            .is_ok()
        );
    }
}
