//! The reporter: the one place that writes the journal, the `--failed` list and the
//! per-job messages, and that keeps the run's [`Summary`]. It runs on its own thread
//! and receives [`Event`]s from the workers; between events it ticks the [`Console`]
//! (bars or stats lines) from the workers' [`Meters`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde::Serialize;

use crate::error::Exit;
use crate::headers::redact_url;
use crate::job::{Job, ManifestError};
use crate::journal::{self, Record, Status};
use crate::progress::{Console, Meters, TICK};
use crate::signal::Cancel;
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
    /// The failed jobs (and unusable manifest lines), in the order they ended; at most
    /// [`MAX_FAILURES`] (the journal and `--failed` have them all).
    pub failures: Vec<Failure>,
    /// Failures past [`MAX_FAILURES`], counted but not kept.
    pub failures_omitted: u64,
}

/// Failures kept in memory for `--json`: a run where everything fails still has a
/// bounded report.
pub const MAX_FAILURES: usize = 10_000;

/// One failed job, as `--json` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The source URL (null for a manifest line that could not be read).
    pub src: Option<String>,
    /// The file name, once the source answered.
    pub name: Option<String>,
    /// The destination URL, once the name was known.
    pub dst: Option<String>,
    /// Why it failed.
    pub error: String,
    /// Attempts made (0 for a manifest line).
    pub attempts: u32,
    /// The manifest line number, for an unusable line.
    pub line: Option<u64>,
}

impl Summary {
    /// Keeps `failure` for the report, up to [`MAX_FAILURES`]; past that, counts it.
    pub fn failure(&mut self, failure: Failure) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(failure);
        } else {
            self.failures_omitted += 1;
        }
    }

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
    console: Console,
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
            console: Console::plain(),
        })
    }

    /// The same reporter, writing through `console` (bars, stats lines).
    pub fn with_console(mut self, console: Console) -> Self {
        self.console = console;
        self
    }

    /// Handles events until every sender is gone, ticking the console from `meters`
    /// in between. Requests a stop on `cancel` when the run must stop (the journal
    /// broke), and says once what a ctrl-c does when one arrives (running transfers may
    /// go on for `drain`).
    pub fn run(
        mut self,
        inbox: Receiver<Event>,
        meters: &Meters,
        cancel: &Cancel,
        drain: Duration,
    ) -> Self {
        let mut next_tick = Instant::now();
        let mut stop_told = false;
        loop {
            match inbox.recv_timeout(TICK) {
                Ok(event) => {
                    if !self.handle(event) {
                        cancel.stop();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if !stop_told
                && !self.quiet
                && cancel.stopping()
                && self.summary.journal_error.is_none()
            {
                stop_told = true;
                self.console.line(&format!(
                    "stopping: no new jobs start; running transfers may finish for up to \
                     {} (--drain-timeout), then are aborted; ctrl-c again to quit at once",
                    humantime::format_duration(drain)
                ));
            }
            let now = Instant::now();
            if now >= next_tick {
                self.console.tick(meters, &self.summary, now);
                next_tick = now + TICK;
            }
        }
        self
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
                    self.console.line(&format!(
                        "retrying {} in {}: {error}",
                        redact_url(&src),
                        humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
                    ));
                }
                true
            }
            Event::BadLine(err) => {
                self.console.line(&format!("{err} (line skipped)"));
                self.summary.failed += 1;
                self.summary.failure(Failure {
                    error: err.message.clone(),
                    line: Some(err.line),
                    ..Failure::default()
                });
                true
            }
        }
    }

    fn finished(&mut self, job: Job, attempt: Attempt, attempts: u32) -> bool {
        if let (Some(from), Some(name)) = (&attempt.renamed_from, &attempt.name)
            && !self.quiet
        {
            self.console.line(&format!(
                "renamed {from} to {name} for {}: another job of this run already \
                 uploads to that name",
                redact_url(&job.src)
            ));
        }
        let (status, error, sha256) = match &attempt.result {
            Ok(delivered) => {
                self.summary.done += 1;
                self.summary.bytes += delivered.bytes;
                if self.verbose {
                    self.console.line(&format!(
                        "done {} -> {} ({} bytes)",
                        redact_url(&job.src),
                        redact_url(attempt.dst.as_deref().unwrap_or("?")),
                        delivered.bytes
                    ));
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
                self.console
                    .line(&format!("failed {}{tries}: {err}", redact_url(&job.src)));
                self.summary.failure(Failure {
                    src: Some(redact_url(&job.src).into_owned()),
                    name: attempt.name.clone(),
                    dst: attempt.dst.as_deref().map(|d| redact_url(d).into_owned()),
                    error: err.to_string(),
                    attempts,
                    line: None,
                });
                if let Some(list) = &mut self.failed_list {
                    let line = job.manifest_line(attempt.name.as_deref());
                    if let Err(err) = writeln!(list, "{line}") {
                        self.console
                            .line(&format!("cannot write the --failed list: {err}"));
                    }
                }
                (Status::Failed, Some(err.to_string()), None)
            }
        };
        let Some(writer) = &mut self.journal else {
            return true;
        };
        let record = Record {
            // Passwords in URLs stay out of the journal (`--resume` compares redacted).
            src: redact_url(&job.src).into_owned(),
            name: attempt.name,
            dst: attempt.dst.as_deref().map(|d| redact_url(d).into_owned()),
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
                let message = format!(
                    "cannot write the journal {}: {err}; stopping (jobs finished from now on \
                     are not recorded: rerun with --resume once it is writable)",
                    writer.path().display()
                );
                self.console.line(&message);
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
        self.console.finish();
        if let Some(list) = &mut self.failed_list
            && let Err(err) = list.flush()
        {
            self.console
                .line(&format!("cannot write the --failed list: {err}"));
        }
        if let Some(journal) = &mut self.journal
            && let Err(err) = journal.sync()
        {
            self.console
                .line(&format!("cannot sync the journal: {err}"));
        }
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_cap_are_counted_not_kept() {
        let mut s = Summary::default();
        for _ in 0..MAX_FAILURES + 3 {
            s.failure(Failure::default());
        }
        assert_eq!((s.failures.len(), s.failures_omitted), (MAX_FAILURES, 3));
    }

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
