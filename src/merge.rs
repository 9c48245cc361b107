//! `ferry journal merge`: the journals of a migration's shards (or of several runs)
//! combined into one, and a report of whether every job was done exactly once.
//!
//! A job is identified by its source URL, as `--resume` does (so this is meant for
//! manifest runs; in document mode every job has the same URL). The merged journal keeps
//! every `done` record, and for a URL that no journal lists as done, its last `failed`
//! record; failed records of URLs done later (by a rerun) and unreadable lines (a torn
//! last line after a kill) are left out. Lines are copied byte for byte, so it is itself
//! a journal that `--resume` reads. The report flags:
//!
//! - a job done twice: two done records with the same source URL and name, or different
//!   jobs that wrote the same destination URL;
//! - with the manifest (`--list`): a manifest job with no done record (missing), and a
//!   done record whose URL is not in the manifest;
//! - jobs that failed and were never done.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::Context;

use crate::error::Exit;
use crate::job::{self, Job, ManifestError};
use crate::journal::{self, Status};
use crate::shard::shard_of_url;

/// What `ferry journal merge` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeConfig {
    /// The journals, in order.
    pub journals: Vec<PathBuf>,
    /// The migration's manifest, to find missing jobs.
    pub manifest: Option<PathBuf>,
    /// The number of shards, to say which shard a missing job belongs to.
    pub shards: Option<u64>,
}

/// Merges the journals of `cfg`: the merged journal to `out`, the report to stderr.
/// Returns [`Exit::Success`] if every job was done exactly once, [`Exit::SomeFailed`]
/// if not. Errors (a journal or the manifest cannot be read) are startup problems.
pub fn run(cfg: &MergeConfig, out: impl Write) -> anyhow::Result<Exit> {
    let mut merge = Merge::default();
    for path in &cfg.journals {
        let file = File::open(path)
            .with_context(|| format!("cannot open the journal {}", path.display()))?;
        merge
            .add(&path.display().to_string(), BufReader::new(file))
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
    }
    let report = match &cfg.manifest {
        Some(path) => merge.report(Some(job::open_manifest(path)?), cfg.shards),
        None => merge.report(None::<std::iter::Empty<_>>, None),
    };
    let mut out = io::BufWriter::new(out);
    for (i, path) in cfg.journals.iter().enumerate() {
        let file = File::open(path)
            .with_context(|| format!("cannot reopen the journal {}", path.display()))?;
        merge
            .write(i, BufReader::new(file), &mut out)
            .with_context(|| format!("cannot copy {} to the output", path.display()))?;
    }
    out.flush().context("cannot write the merged journal")?;
    for message in report.messages() {
        eprintln!("ferry: {message}");
    }
    eprintln!("ferry: {}", report.summary(cfg.journals.len()));
    Ok(if report.consistent() {
        Exit::Success
    } else {
        Exit::SomeFailed
    })
}

/// A journal line: which input and which line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Origin {
    file: usize,
    line: u64,
}

/// What the journals read so far say.
#[derive(Debug, Default)]
pub struct Merge {
    /// The inputs' names, for messages.
    files: Vec<String>,
    /// The last line number read of each input.
    last_line: Vec<u64>,
    /// Done records by (source URL, name).
    done: HashMap<(String, Option<String>), Vec<Origin>>,
    /// Done records by destination URL: which (source URL, name) wrote it.
    by_dst: HashMap<String, Vec<(String, Option<String>)>>,
    /// Done records per source URL.
    done_per_src: HashMap<String, u64>,
    /// The last failed record of each source URL.
    last_failed: HashMap<String, (Origin, Option<String>)>,
    /// All failed records.
    failed_lines: Vec<(String, Origin)>,
    /// Unreadable lines.
    bad: Vec<Origin>,
    /// Unreadable lines that are not the start of a record.
    foreign: Vec<Origin>,
}

impl Merge {
    /// Reads one journal, named `name` in messages.
    pub fn add(&mut self, name: &str, reader: impl BufRead) -> io::Result<()> {
        let file = self.files.len();
        self.files.push(name.to_string());
        self.last_line.push(0);
        for line in journal::lines(reader) {
            let line = line?;
            let origin = Origin {
                file,
                line: line.number,
            };
            self.last_line[file] = line.number;
            let Some(record) = line.record else {
                // A line torn by a kill is the start of a record; anything else means
                // the file is damaged or is not a journal at all.
                if !line.raw.starts_with(b"{") {
                    self.foreign.push(origin);
                }
                self.bad.push(origin);
                continue;
            };
            match record.status {
                Status::Done => {
                    let job = (record.src.clone(), record.name.clone());
                    if let Some(dst) = record.dst {
                        self.by_dst.entry(dst).or_default().push(job.clone());
                    }
                    self.done.entry(job).or_default().push(origin);
                    *self.done_per_src.entry(record.src).or_default() += 1;
                }
                Status::Failed => {
                    self.failed_lines.push((record.src.clone(), origin));
                    self.last_failed.insert(record.src, (origin, record.error));
                }
            }
        }
        Ok(())
    }

    /// The report, checked against the manifest's jobs if given (`shards` names the
    /// shard of each missing job).
    pub fn report(
        &self,
        manifest: Option<impl Iterator<Item = Result<Job, ManifestError>>>,
        shards: Option<u64>,
    ) -> Report {
        let mut report = Report {
            done: self.done.values().map(|v| v.len() as u64).sum(),
            ..Report::default()
        };
        let mut twice: Vec<String> = self
            .done
            .iter()
            .filter(|(_, origins)| origins.len() > 1)
            .map(|((src, name), origins)| {
                let at: Vec<String> = origins.iter().map(|o| self.at(*o)).collect();
                format!(
                    "done {} times: {src} as {} ({})",
                    origins.len(),
                    name.as_deref().unwrap_or("(no name)"),
                    at.join(", ")
                )
            })
            .collect();
        for (dst, jobs) in &self.by_dst {
            let distinct: HashSet<_> = jobs.iter().collect();
            if distinct.len() > 1 {
                let mut srcs: Vec<&str> = distinct.iter().map(|(src, _)| src.as_str()).collect();
                srcs.sort_unstable();
                twice.push(format!(
                    "{} different jobs wrote {dst}: {}",
                    distinct.len(),
                    srcs.join(", ")
                ));
            }
        }
        twice.sort();
        report.twice = twice;

        let mut failed: Vec<String> = self
            .last_failed
            .iter()
            .filter(|(src, _)| !self.done_per_src.contains_key(*src))
            .map(|(src, (origin, error))| {
                format!(
                    "failed, never done: {src} ({}): {}",
                    self.at(*origin),
                    error.as_deref().unwrap_or("no error given")
                )
            })
            .collect();
        failed.sort();
        report.failed = failed;
        report.bad_lines = self.bad.iter().map(|o| self.at(*o)).collect();
        report.corrupt = self.foreign.iter().map(|o| self.at(*o)).collect();

        if let Some(jobs) = manifest {
            self.check_manifest(jobs, shards, &mut report);
        }
        report
    }

    /// Fills the report's missing and extra jobs from the manifest.
    fn check_manifest(
        &self,
        jobs: impl Iterator<Item = Result<Job, ManifestError>>,
        shards: Option<u64>,
        report: &mut Report,
    ) {
        let mut listed: HashMap<String, u64> = HashMap::new();
        for item in jobs {
            let mut job = match item {
                Ok(job) => job,
                Err(err) => {
                    report.missing.push(format!("missing: {err} (not a job)"));
                    continue;
                }
            };
            // The journal holds URLs without their passwords; compare them that way.
            job.src = crate::headers::redact_url(&job.src).into_owned();
            let seen = listed.entry(job.src.clone()).or_default();
            *seen += 1;
            if *seen > self.done_per_src.get(&job.src).copied().unwrap_or(0) {
                let shard = match shards {
                    Some(n) => format!(", shard {}/{n}", shard_of_url(&job.src, n)),
                    None => String::new(),
                };
                report
                    .missing
                    .push(format!("missing: {} (job {}{shard})", job.src, job.index));
                if let Some(n) = shards {
                    *report
                        .missing_per_shard
                        .entry(shard_of_url(&job.src, n))
                        .or_default() += 1;
                }
            }
        }
        let mut extra: Vec<String> = self
            .done_per_src
            .keys()
            .filter(|src| !listed.contains_key(*src))
            .map(|src| format!("done but not in the manifest: {src}"))
            .collect();
        extra.sort();
        report.extra = extra;
        report.shards = shards;
        if let Some(n) = shards {
            report.mixed = self.mixed_journals(n);
        }
    }

    /// The journals whose done records belong to more than one shard of `n`: merged
    /// ones, unsharded runs, or shards that ran with another N.
    fn mixed_journals(&self, n: u64) -> Vec<String> {
        let mut per_file: Vec<std::collections::BTreeSet<u64>> =
            vec![Default::default(); self.files.len()];
        for ((src, _), origins) in &self.done {
            for origin in origins {
                per_file[origin.file].insert(shard_of_url(src, n));
            }
        }
        per_file
            .iter()
            .enumerate()
            .filter(|(_, shards)| shards.len() > 1)
            .map(|(file, shards)| {
                let list: Vec<String> = shards.iter().map(u64::to_string).collect();
                format!(
                    "{} holds jobs of shards {} of {n}: not one shard's journal, or written \
                     with another number of shards",
                    self.files[file],
                    list.join(", ")
                )
            })
            .collect()
    }

    /// Copies journal `file` (read again from `reader`) to `out`, without the lines the
    /// merged journal leaves out: unreadable ones, failed records of URLs done since,
    /// all but the last failed record of a URL never done, and lines added after
    /// [`Merge::add`] read it.
    pub fn write(&self, file: usize, reader: impl BufRead, out: &mut impl Write) -> io::Result<()> {
        let drop: HashSet<Origin> = self
            .failed_lines
            .iter()
            .filter(|(src, origin)| {
                self.done_per_src.contains_key(src)
                    || self.last_failed.get(src).map(|(o, _)| o) != Some(origin)
            })
            .map(|(_, origin)| *origin)
            .chain(self.bad.iter().copied())
            .filter(|origin| origin.file == file)
            .collect();
        let last = self.last_line.get(file).copied().unwrap_or(0);
        for line in journal::lines(reader) {
            let line = line?;
            if line.number > last {
                break;
            }
            if !drop.contains(&Origin {
                file,
                line: line.number,
            }) {
                out.write_all(&line.raw)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    fn at(&self, origin: Origin) -> String {
        format!("{} line {}", self.files[origin.file], origin.line)
    }
}

/// What the merged journals say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Done records.
    pub done: u64,
    /// One message per job done more than once.
    pub twice: Vec<String>,
    /// One message per URL that failed and was never done.
    pub failed: Vec<String>,
    /// One message per manifest job with no done record (with a manifest).
    pub missing: Vec<String>,
    /// Missing jobs per shard (with a manifest and a number of shards).
    pub missing_per_shard: std::collections::BTreeMap<u64, u64>,
    /// The number of shards, if given.
    pub shards: Option<u64>,
    /// One message per done URL the manifest does not list (with a manifest).
    pub extra: Vec<String>,
    /// Where the unreadable lines are.
    pub bad_lines: Vec<String>,
    /// The unreadable lines that are not even the start of a record (as a line torn by
    /// a kill is): a damaged file, or one that is not a journal.
    pub corrupt: Vec<String>,
    /// Warnings: journals holding more than one shard's jobs (with a number of shards).
    pub mixed: Vec<String>,
}

impl Report {
    /// Every job done exactly once (and, with a manifest, every manifest job done).
    pub fn consistent(&self) -> bool {
        self.twice.is_empty()
            && self.failed.is_empty()
            && self.missing.is_empty()
            && self.extra.is_empty()
            && self.corrupt.is_empty()
    }

    /// The detailed messages, one per problem.
    pub fn messages(&self) -> Vec<String> {
        let mut messages: Vec<String> = self
            .twice
            .iter()
            .chain(&self.failed)
            .chain(&self.missing)
            .chain(&self.extra)
            .chain(&self.mixed)
            .cloned()
            .collect();
        for at in &self.bad_lines {
            if self.corrupt.contains(at) {
                messages.push(format!(
                    "{at} is not a journal record and not a torn last line: \
                     is the file a ferry journal?"
                ));
            } else {
                messages.push(format!(
                    "{at} is not a journal record, skipped (a torn last line after a kill \
                     is normal)"
                ));
            }
        }
        if let Some(n) = self.shards {
            for (shard, count) in &self.missing_per_shard {
                messages.push(format!(
                    "shard {shard}/{n} is missing {count} jobs: rerun it with --shard {shard}/{n} \
                     --resume and its journal"
                ));
            }
        }
        messages
    }

    /// The one-line summary.
    pub fn summary(&self, journals: usize) -> String {
        format!(
            "merged {journals} journals: {} done, {} done twice, {} failed, {}{} unreadable \
             lines; {}",
            self.done,
            self.twice.len(),
            self.failed.len(),
            if self.shards.is_some() || !self.missing.is_empty() || !self.extra.is_empty() {
                format!(
                    "{} missing, {} not in the manifest, ",
                    self.missing.len(),
                    self.extra.len()
                )
            } else {
                String::new()
            },
            self.bad_lines.len(),
            if self.consistent() {
                "every job done exactly once"
            } else {
                "NOT consistent"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Record;

    fn line(src: &str, name: &str, status: Status) -> String {
        let record = Record {
            src: src.into(),
            name: Some(name.into()),
            dst: Some(format!("http://d/{name}")),
            status,
            bytes: 1,
            error: (status == Status::Failed).then(|| "HTTP 503".to_string()),
            sha256: None,
            index: 0,
            attempts: 1,
            renamed_from: None,
        };
        serde_json::to_string(&record).unwrap() + "\n"
    }

    fn merged(journals: &[String]) -> (Merge, String) {
        let mut merge = Merge::default();
        for (i, text) in journals.iter().enumerate() {
            merge.add(&format!("j{i}"), text.as_bytes()).unwrap();
        }
        let mut out = Vec::new();
        for (i, text) in journals.iter().enumerate() {
            merge.write(i, text.as_bytes(), &mut out).unwrap();
        }
        (merge, String::from_utf8(out).unwrap())
    }

    fn manifest(text: &str) -> Option<job::Manifest<&[u8]>> {
        Some(job::Manifest::new(text.as_bytes()))
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_not_consistent() {
        let (merge, out) = merged(&["http://s/a\nhttp://s/b\tb.bin\n".to_string()]);
        assert_eq!(out, "");
        let report = merge.report(None::<std::iter::Empty<_>>, None);
        assert_eq!(report.corrupt, ["j0 line 1", "j0 line 2"]);
        assert!(!report.consistent());
        assert!(report.messages()[0].contains("is the file a ferry journal?"));
    }

    #[test]
    fn a_rerun_supersedes_failures_and_torn_lines_are_dropped() {
        let a = line("http://s/a", "a", Status::Done);
        let b_failed = line("http://s/b", "b", Status::Failed);
        let b_done = line("http://s/b", "b", Status::Done);
        let c_failed = line("http://s/c", "c", Status::Failed);
        let j0 = format!("{a}{b_failed}{c_failed}{c_failed}{{\"src\":\"http://s/");
        let j1 = b_done.clone();
        let (merge, out) = merged(&[j0, j1]);
        assert_eq!(out, format!("{a}{c_failed}{b_done}"));
        let report = merge.report(manifest("http://s/a\nhttp://s/b\nhttp://s/c\n"), None);
        assert_eq!(report.done, 2);
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert!(report.failed[0].contains("http://s/c (j0 line 4): HTTP 503"));
        assert_eq!(report.missing, ["missing: http://s/c (job 2)"]);
        assert_eq!(report.bad_lines, ["j0 line 5"]);
        assert!(!report.consistent());
    }

    #[test]
    fn two_shards_that_overlap_are_caught() {
        let a = line("http://s/a", "a", Status::Done);
        let b = line("http://s/b", "b", Status::Done);
        let (merge, out) = merged(&[a.clone(), format!("{a}{b}")]);
        // Both done records are kept: --resume counts them.
        assert_eq!(out.lines().count(), 3);
        let report = merge.report(manifest("http://s/a\nhttp://s/b\n"), Some(2));
        assert_eq!(report.twice.len(), 1, "{report:?}");
        assert!(
            report.twice[0].starts_with("done 2 times: http://s/a as a (j0 line 1, j1 line 1)")
        );
        assert!(report.missing.is_empty());
        assert!(!report.consistent());
    }

    #[test]
    fn different_jobs_writing_one_destination_are_caught() {
        let a = line("http://s/a", "x", Status::Done);
        let b = line("http://s/b", "x", Status::Done);
        let (merge, _) = merged(&[a, b]);
        let report = merge.report(None::<std::iter::Empty<_>>, None);
        assert_eq!(
            report.twice,
            ["2 different jobs wrote http://d/x: http://s/a, http://s/b"]
        );
    }

    #[test]
    fn missing_jobs_are_named_with_their_shard() {
        let a = line("http://s/a", "a", Status::Done);
        let (merge, _) = merged(&[a]);
        let report = merge.report(
            manifest("http://s/a\nhttp://s/b\nftp://nope\nhttp://s/x\n"),
            Some(4),
        );
        let b_shard = shard_of_url("http://s/b", 4);
        assert_eq!(report.missing.len(), 3, "{report:?}");
        assert_eq!(
            report.missing[0],
            format!("missing: http://s/b (job 1, shard {b_shard}/4)")
        );
        assert!(report.missing[1].contains("manifest line 3"), "{report:?}");
        assert_eq!(report.missing_per_shard.values().sum::<u64>(), 2);
        assert!(
            report
                .messages()
                .iter()
                .any(|m| m.contains(&format!("--shard {b_shard}/4 --resume")))
        );
        // http://s/a is in shard 1 of 2, http://s/b in shard 0.
        assert_ne!(shard_of_url("http://s/a", 2), shard_of_url("http://s/b", 2));
        let (two, _) = merged(&[format!(
            "{}{}",
            line("http://s/a", "a", Status::Done),
            line("http://s/b", "b", Status::Done)
        )]);
        let mixed = two.report(manifest("http://s/a\nhttp://s/b\n"), Some(2));
        assert!(mixed.consistent());
        assert_eq!(mixed.mixed.len(), 1, "{mixed:?}");
        assert!(mixed.mixed[0].contains("holds jobs of shards 0, 1 of 2"));
        let extra = merge.report(manifest("http://s/b\n"), None);
        assert_eq!(extra.extra, ["done but not in the manifest: http://s/a"]);
    }

    #[test]
    fn a_clean_merge_is_consistent() {
        let j: Vec<String> = (0..4)
            .map(|i| line(&format!("http://s/{i}"), &i.to_string(), Status::Done))
            .collect();
        let (merge, out) = merged(&j);
        assert_eq!(out, j.concat());
        let report = merge.report(
            manifest("http://s/0\nhttp://s/1\nhttp://s/2\nhttp://s/3\n"),
            Some(2),
        );
        assert!(report.consistent(), "{report:?}");
        assert!(report.messages().is_empty());
        assert!(report.summary(4).ends_with("every job done exactly once"));
    }
}
