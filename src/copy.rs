//! `ferry copy`: wires the job source, the journal, the pool, the transfers and the
//! reporter together for one run.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{Sender, unbounded};

use crate::bwlimit::Bucket;
use crate::claims::Claims;
use crate::config::{CopyConfig, JobSource};
use crate::error::TransferError;
use crate::job::{self, Job, ManifestError};
use crate::journal::{self, DoneSet};
use crate::meter::Meter;
use crate::pool;
use crate::progress::{self, Meters};
use crate::report::{Event, Reporter, Summary};
use crate::retry::{self, Policy};
use crate::shard;
use crate::signal::Cancel;
use crate::transfer::{self, Attempt, Transfer};

/// What a finished run hands back: the summary and how long it took.
#[derive(Clone, Debug)]
pub struct Run {
    /// The counts.
    pub summary: Summary,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl Run {
    /// A one-line human summary, e.g. `16 done, 0 failed, 512.0 MiB in 3.2s (167.8 MB/s)`.
    pub fn describe(&self) -> String {
        let s = &self.summary;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut line = format!(
            "{} done, {} failed, {} in {:.2}s ({:.1} MB/s)",
            s.done,
            s.failed,
            bytesize::ByteSize::b(s.bytes).display().iec(),
            secs,
            s.bytes as f64 / secs / 1e6
        );
        if s.skipped > 0 {
            line.push_str(&format!(", {} skipped as already done", s.skipped));
        }
        if s.interrupted {
            line.push_str(", interrupted");
        }
        line
    }
}

/// Runs one copy: every job of `cfg.source` that is this process's share (`cfg.shard`,
/// all of them without one), minus those the journal lists as done (with `--resume`),
/// through the pool. Errors are startup problems (manifest or journal
/// cannot be opened); failed jobs are counted in the summary instead.
pub fn run(cfg: &CopyConfig, cancel: &Cancel) -> anyhow::Result<Run> {
    let started = Instant::now();
    check_distinct_files(cfg)?;
    let mut done = match (&cfg.journal, cfg.resume) {
        (Some(path), true) => DoneSet::load(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?,
        _ => DoneSet::default(),
    };
    let journal = match &cfg.journal {
        Some(path) => Some(
            journal::Writer::open(path)
                .with_context(|| format!("cannot open the journal {}", path.display()))?,
        ),
        None => None,
    };
    let console = progress::Console::new(
        progress::ConsoleOptions::for_stderr(
            cfg.operator.progress,
            cfg.operator.stats,
            cfg.quiet,
            io::stderr().is_terminal(),
            known_total(cfg).map(|n| n.saturating_sub(done.len())),
        ),
        Box::new(io::stderr()),
    );
    let reporter = Reporter::new(journal, cfg.failed_list.as_deref(), cfg.verbose, cfg.quiet)
        .with_context(|| "cannot create the --failed list".to_string())?
        .with_console(console);
    let jobs = shard::filter(
        open_jobs(&cfg.source)?,
        cfg.shard.as_ref().map(|a| a.shard),
        shard::SplitBy::of(&cfg.source),
    );

    let agents = transfer::agents(cfg);
    let claims = Claims::default();
    let meters = Meters::new(cfg.workers);
    let bucket = cfg.operator.bwlimit.map(Bucket::new);
    let transfer = Transfer {
        agents: &agents,
        cfg,
        cancel,
        claims: &claims,
        meter: Meter::default(),
    };
    let (events, inbox) = unbounded::<Event>();
    let mut skipped = 0;

    let summary = thread::scope(|scope| {
        let meters = &meters;
        let report = scope.spawn(move || reporter.run(inbox, meters, cancel, cfg.drain_timeout));

        let queue = jobs.filter_map(|job| match job {
            Ok(job) if cfg.resume && done.take(&crate::headers::redact_url(&job.src)) => {
                skipped += 1;
                None
            }
            Ok(job) => Some(job),
            Err(err) => {
                let _ = events.send(Event::BadLine(err));
                None
            }
        });
        pool::run(cfg.workers, queue, cancel, cfg.drain_timeout, |rx| {
            let transfer = Transfer {
                meter: Meter::new(Some(meters.claim()), bucket.as_ref()),
                ..transfer
            };
            worker(rx, &transfer, &events);
        });
        drop(events);
        // The reporter only panics if a bug does; pass the panic on.
        let mut reporter = report.join().expect("reporter thread panicked");
        reporter.skipped(skipped);
        reporter.finish()
    });
    let mut summary = summary;
    summary.interrupted = cancel.stopping() && summary.journal_error.is_none();
    Ok(Run {
        summary,
        elapsed: started.elapsed(),
    })
}

/// One worker: takes jobs until the channel closes or a stop is requested, and reports
/// each job's outcome. Takes any iterator so it can be driven without threads.
pub fn worker(jobs: impl IntoIterator<Item = Job>, transfer: &Transfer, events: &Sender<Event>) {
    let policy = Policy {
        retries: transfer.cfg.retries,
        initial: transfer.cfg.initial_backoff,
        max: transfer.cfg.max_backoff,
    };
    // Only spooling uses it: allocated (and its pages touched) on first need.
    let mut scratch = Vec::new();
    for job in jobs {
        if transfer.cancel.stopping() {
            break;
        }
        // The last attempt's name, destination and byte count, for the journal.
        let mut last: Option<Attempt> = None;
        let tries = retry::run(
            &policy,
            transfer.cancel,
            |_| {
                let mut attempt = transfer.attempt(&job, &mut scratch);
                let result = std::mem::replace(&mut attempt.result, Err(TransferError::Aborted));
                last = Some(attempt);
                result
            },
            |err, delay| {
                let _ = events.send(Event::Retrying {
                    src: job.src.clone(),
                    error: err.to_string(),
                    delay,
                });
            },
        );
        let mut attempt = last.unwrap_or(Attempt {
            name: None,
            dst: None,
            renamed_from: None,
            bytes: 0,
            result: Err(TransferError::Aborted),
        });
        attempt.result = tries.result;
        let _ = events.send(Event::Finished {
            job,
            attempt,
            attempts: tries.attempts,
        });
    }
}

/// The number of jobs this process will see, for the progress line's total and ETA:
/// counted for document mode, read once ahead through the shard filter for a manifest
/// file (parsing only, fast next to any transfer); stdin cannot be read twice.
fn known_total(cfg: &CopyConfig) -> Option<u64> {
    let shard = cfg.shard.as_ref().map(|a| a.shard);
    match &cfg.source {
        JobSource::Document { count, .. } => Some(match shard {
            Some(s) => count / s.count() + u64::from(s.index() < count % s.count()),
            None => *count,
        }),
        // Stdin, a FIFO or `<(command)` can be read only once: no count ahead.
        JobSource::Manifest(path) if path.as_os_str() == "-" || !path.is_file() => None,
        source => {
            let jobs = open_jobs(source).ok()?;
            Some(shard::filter(jobs, shard, shard::SplitBy::of(source)).count() as u64)
        }
    }
}

/// Opens the job source named by the configuration (also used by the dry run and the plan).
pub fn open_jobs(
    source: &JobSource,
) -> anyhow::Result<Box<dyn Iterator<Item = Result<Job, ManifestError>> + Send + '_>> {
    Ok(match source {
        JobSource::Document { url, count } => Box::new(job::document(url, *count)),
        JobSource::Jobs(jobs) => Box::new(jobs.iter().cloned().map(Ok)),
        JobSource::Manifest(path) => job::open_manifest(path)?,
    })
}

/// Refuses a run in which the manifest, the journal and the `--failed` list are the same
/// file: the `--failed` list is truncated at the start (so `--list F --failed F` would
/// erase the very list being retried), and a journal appended to a manifest or to the
/// `--failed` list corrupts both.
fn check_distinct_files(cfg: &CopyConfig) -> anyhow::Result<()> {
    let manifest = match &cfg.source {
        JobSource::Manifest(path) if path.as_os_str() != "-" => Some(path.as_path()),
        _ => None,
    };
    let files = [
        ("--list", manifest),
        ("--journal", cfg.journal.as_deref()),
        ("--failed", cfg.failed_list.as_deref()),
    ];
    for (i, (first, a)) in files.iter().enumerate() {
        for (second, b) in &files[i + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && same_path(a, b)
            {
                let hint = if (*first, *second) == ("--list", "--failed") {
                    " (to retry a --failed list, write the new one elsewhere: \
                     --list failed.txt --failed failed-again.txt)"
                } else {
                    ""
                };
                anyhow::bail!(
                    "{first} and {second} name the same file {}; give each its own file{hint}",
                    b.display()
                );
            }
        }
    }
    Ok(())
}

/// Whether two paths are one file: the same inode when both exist, else the same
/// absolute path.
fn same_path(a: &Path, b: &Path) -> bool {
    match same_file::is_same_file(a, b) {
        Ok(same) => same,
        Err(_) => match (std::path::absolute(a), std::path::absolute(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        },
    }
}
