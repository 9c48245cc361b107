//! The reporter: the one place that writes the journal, the `--failed` list and the
//! per-job messages, and that keeps the run's [`Summary`]. It runs on its own thread
//! and receives [`Event`]s from the workers.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use crate::error::Exit;
use crate::job::{Job, ManifestError};
use crate::journal::{self, Record, Status};
use crate::transfer::Attempt;

/// Something the reporter must know about.
#[derive(Debug)]
pub enum Event {
    /// A job ended, done or failed.
    Finished {
        /// The job.
        job: Job,
        /// Its last attempt.
        attempt: Attempt,
        /// How many attempts were made.
        attempts: u32,
    },
    /// An attempt failed and will be retried after `delay`.
    Retrying {
        /// The source URL.
        src: String,
        /// The error, as text.
        error: String,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// A manifest line could not be used.
    BadLine(ManifestError),
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Jobs done.
    pub done: u64,
    /// Jobs failed (manifest lines that could not be used count here).
    pub failed: u64,
    /// Jobs skipped because the journal lists them as done (`--resume`).
    pub skipped: u64,
    /// Bytes moved by done jobs.
    pub bytes: u64,
    /// The run was stopped by a signal.
    pub interrupted: bool,
    /// Writing the journal failed (the run was stopped).
    pub journal_error: Option<String>,
}

impl Summary {
    /// The exit code this run earns.
    pub fn exit(&self) -> Exit {
        if self.interrupted {
            Exit::Interrupted
        } else if self.failed > 0 || self.journal_error.is_some() {
            Exit::SomeFailed
        } else {
            Exit::Success
        }
    }
}

/// Where the reporter writes.
pub struct Reporter {
    journal: Option<journal::Writer>,
    failed_list: Option<BufWriter<File>>,
    summary: Summary,
    verbose: bool,
    quiet: bool,
}

impl Reporter {
    /// A reporter writing to the given journal and failed list (either may be absent).
    pub fn new(
        journal: Option<journal::Writer>,
        failed_list: Option<&Path>,
        verbose: bool,
        quiet: bool,
    ) -> io::Result<Self> {
        let failed_list = match failed_list {
            Some(path) => Some(BufWriter::new(File::create(path)?)),
            None => None,
        };
        Ok(Reporter {
            journal,
            failed_list,
            summary: Summary::default(),
            verbose,
            quiet,
        })
    }

    /// Handles one event. Returns false if the run should stop (the journal broke).
    pub fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Finished {
                job,
                attempt,
                attempts,
            } => self.finished(job, attempt, attempts),
            Event::Retrying { src, error, delay } => {
                if !self.quiet {
                    eprintln!(
                        "ferry: retrying {src} in {}: {error}",
                        humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
                    );
                }
                true
            }
            Event::BadLine(err) => {
                eprintln!("ferry: {err} (line skipped)");
                self.summary.failed += 1;
                true
            }
        }
    }

    fn finished(&mut self, job: Job, attempt: Attempt, attempts: u32) -> bool {
        if let (Some(from), Some(name)) = (&attempt.renamed_from, &attempt.name)
            && !self.quiet
        {
            eprintln!(
                "ferry: renamed {from} to {name} for {}: another job of this run already \
                 uploads to that name",
                job.src
            );
        }
        let (status, error, sha256) = match &attempt.result {
            Ok(delivered) => {
                self.summary.done += 1;
                self.summary.bytes += delivered.bytes;
                if self.verbose {
                    eprintln!(
                        "ferry: done {} -> {} ({} bytes)",
                        job.src,
                        attempt.dst.as_deref().unwrap_or("?"),
                        delivered.bytes
                    );
                }
                (Status::Done, None, delivered.sha256.clone())
            }
            Err(err) => {
                self.summary.failed += 1;
                let tries = if attempts > 1 {
                    format!(" (after {attempts} attempts)")
                } else {
                    String::new()
                };
                eprintln!("ferry: failed {}{tries}: {err}", job.src);
                if let Some(list) = &mut self.failed_list {
                    let line = job.manifest_line(attempt.name.as_deref());
                    if let Err(err) = writeln!(list, "{line}") {
                        eprintln!("ferry: cannot write the --failed list: {err}");
                    }
                }
                (Status::Failed, Some(err.to_string()), None)
            }
        };
        let Some(writer) = &mut self.journal else {
            return true;
        };
        let record = Record {
            src: job.src,
            name: attempt.name,
            dst: attempt.dst,
            status,
            bytes: attempt.bytes,
            error,
            sha256,
            index: job.index,
            attempts,
            renamed_from: attempt.renamed_from,
        };
        match writer.append(&record) {
            Ok(()) => true,
            Err(err) => {
                let message = format!("cannot write the journal: {err}; stopping");
                eprintln!("ferry: {message}");
                self.summary.journal_error = Some(message);
                self.journal = None;
                false
            }
        }
    }

    /// Counts jobs skipped by `--resume`.
    pub fn skipped(&mut self, n: u64) {
        self.summary.skipped += n;
    }

    /// Flushes everything and returns the summary.
    pub fn finish(mut self) -> Summary {
        if let Some(list) = &mut self.failed_list
            && let Err(err) = list.flush()
        {
            eprintln!("ferry: cannot write the --failed list: {err}");
        }
        if let Some(journal) = &mut self.journal
            && let Err(err) = journal.sync()
        {
            eprintln!("ferry: cannot sync the journal: {err}");
        }
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_merges_outcomes() {
        let mut s = Summary::default();
        assert_eq!(s.exit(), Exit::Success);
        s.failed = 1;
        assert_eq!(s.exit(), Exit::SomeFailed);
        s.interrupted = true;
        assert_eq!(s.exit(), Exit::Interrupted);
        let s = Summary {
            journal_error: Some("disk full".into()),
            ..Summary::default()
        };
        assert_eq!(s.exit(), Exit::SomeFailed);
    }
}
