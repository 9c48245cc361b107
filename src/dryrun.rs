//! `ferry copy --dry-run`: lists what the copy would move (index, source, name,
//! destination URL, size; this process's shard only) as tab-separated lines on stdout,
//! learning names and sizes with [`probe`] requests in parallel. Nothing is uploaded
//! and no body is downloaded.

use std::io::{self, Write};

use anyhow::Context;

use crate::config::{CopyConfig, JobSource};
use crate::copy::open_jobs;
use crate::error::Exit;
use crate::journal::DoneSet;
use crate::probe;
use crate::shard;
use crate::signal::Cancel;

/// What a dry run found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Jobs listed.
    pub files: u64,
    /// Jobs whose size is known.
    pub known: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Manifest lines that could not be used.
    pub bad_lines: u64,
    /// Jobs left out because the journal lists them as done (`--resume`).
    pub skipped: u64,
    /// The reader closed the listing early (`| head`): the counts cover only part.
    pub cut_short: bool,
}

/// Lists the jobs of `cfg` on `out` without copying anything.
pub fn run(
    cfg: &CopyConfig,
    cancel: &Cancel,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<Listing> {
    let mut done = match (&cfg.journal, cfg.resume) {
        (Some(path), true) => DoneSet::load(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?,
        _ => DoneSet::default(),
    };
    let jobs = shard::filter(
        open_jobs(&cfg.source)?,
        cfg.shard.as_ref().map(|a| a.shard),
        shard::SplitBy::of(&cfg.source),
    );
    let mut listing = Listing::default();
    let mut skipped = 0;
    let jobs = jobs.filter(|job| match job {
        Ok(job) if cfg.resume && done.take(&job.src) => {
            skipped += 1;
            false
        }
        _ => true,
    });
    if matches!(cfg.source, JobSource::Document { .. }) && !cfg.quiet {
        eprintln!(
            "ferry: document mode: every GET answers a different file, so each line shows \
             what a HEAD says of the next one"
        );
    }
    let mut write_error: Option<io::Error> = None;
    probe::probe_all(
        &cfg.source,
        &cfg.http,
        jobs,
        cfg.workers,
        cfg.connect_timeout.max(cfg.stall_timeout),
        cancel,
        |item| match item {
            Ok((job, probe)) => {
                listing.files += 1;
                let size = match probe.size {
                    Some(size) => {
                        listing.known += 1;
                        listing.bytes += size;
                        size.to_string()
                    }
                    None => "?".into(),
                };
                let dst = cfg.template.expand(&probe.name, job.index);
                let line = writeln!(
                    out,
                    "{}\t{}\t{}\t{dst}\t{size}",
                    job.index,
                    crate::headers::redact_url(&job.src),
                    probe.name
                );
                if let (Err(err), None) = (line, &write_error) {
                    write_error = Some(err);
                    cancel.stop();
                }
                if let (Some(why), false) = (&probe.error, cfg.quiet) {
                    eprintln!(
                        "ferry: size of {} unknown: {why}",
                        crate::headers::redact_url(&job.src)
                    );
                }
            }
            Err(err) => {
                listing.bad_lines += 1;
                eprintln!("ferry: {err} (line skipped)");
            }
        },
    );
    // A reader that stops early (`ferry copy --dry-run ... | head`) is not an error.
    let quiet_stop = |err: &io::Error| err.kind() == io::ErrorKind::BrokenPipe;
    listing.cut_short = write_error.as_ref().is_some_and(quiet_stop);
    if let Some(err) = write_error
        && !quiet_stop(&err)
    {
        return Err(err).context("cannot write the listing");
    }
    if let Err(err) = out.flush()
        && !quiet_stop(&err)
    {
        return Err(err).context("cannot write the listing");
    }
    listing.skipped = skipped;
    Ok(listing)
}

impl Listing {
    /// The one-line summary for stderr.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "dry run: {} files, {} in the {} of known size",
            self.files,
            bytesize::ByteSize::b(self.bytes).display().iec(),
            self.known
        );
        if self.known < self.files {
            line.push_str(&format!(", {} of unknown size", self.files - self.known));
        }
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped as already done", self.skipped));
        }
        line.push_str("; nothing was copied");
        if self.cut_short {
            line.push_str(
                " (the listing's reader closed early: these counts cover only \
                           the files listed before that)",
            );
        }
        line
    }

    /// The exit code: unusable manifest lines count as failures.
    pub fn exit(&self) -> Exit {
        if self.bad_lines > 0 {
            Exit::SomeFailed
        } else {
            Exit::Success
        }
    }
}
