//! The JSON-lines journal: one [`Record`] appended and flushed as each job ends, and
//! read back by `--resume` (a torn last line, from a kill mid-write, is ignored).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every byte was read from the source and the destination acknowledged the upload.
    Done,
    /// The job gave up; `error` says why.
    Failed,
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The source URL.
    pub src: String,
    /// The file name used at the destination (null if the source never answered).
    pub name: Option<String>,
    /// The destination URL (null if it was never known).
    pub dst: Option<String>,
    /// `done` or `failed`.
    pub status: Status,
    /// Bytes read from the source and sent in the last attempt.
    pub bytes: u64,
    /// Why the job failed; null when done.
    pub error: Option<String>,
    /// SHA-256 of the bytes moved (lowercase hex), on done lines when checksums are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The job number in this run.
    #[serde(default)]
    pub index: u64,
    /// How many attempts were made.
    #[serde(default)]
    pub attempts: u32,
    /// The name the source gave, when another job of the run already used it and this
    /// one was stored under `name` instead (see [`crate::claims`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// Appends records to the journal file, one `write` per line, flushed as it goes.
pub struct Writer {
    file: File,
    path: PathBuf,
    line: Vec<u8>,
}

impl Writer {
    /// Opens (creating if needed) the journal for appending. If a killed run left a torn
    /// last line, it is ended with a newline first, so the next record starts a line of
    /// its own (the torn one stays a single bad line that [`DoneSet`] skips).
    pub fn open(path: &Path) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        if file.metadata()?.len() > 0 {
            let mut last = [0u8];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            line: Vec::with_capacity(512),
        })
    }

    /// The journal's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as a single line. The whole line goes to the OS in one write,
    /// so a crash leaves at most one torn line, the last.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.line.clear();
        // Serializing a struct of strings and numbers to a Vec cannot fail.
        serde_json::to_writer(&mut self.line, record).expect("record serializes");
        self.line.push(b'\n');
        self.file.write_all(&self.line)
    }

    /// Asks the OS to put the journal on disk (done once at the end of a run).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// One non-blank line of a journal, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the file.
    pub number: u64,
    /// The line as written, without its newline (kept so fields this version does not
    /// know survive a `ferry journal merge`).
    pub raw: Vec<u8>,
    /// The record, or `None` if the line is not one (a torn last line, after a kill).
    pub record: Option<Record>,
}

/// Reads a journal line by line, skipping blank lines.
pub fn lines(reader: impl BufRead) -> impl Iterator<Item = io::Result<Line>> {
    reader
        .split(b'\n')
        .zip(1..)
        .filter_map(|(line, number)| match line {
            Ok(raw) if raw.iter().all(u8::is_ascii_whitespace) => None,
            Ok(raw) => Some(Ok(Line {
                number,
                record: serde_json::from_slice(&raw).ok(),
                raw,
            })),
            Err(err) => Some(Err(err)),
        })
}

/// What an existing journal says is already done: how many done records each source
/// URL has (document mode fetches one URL many times, so it is a count, not a flag).
#[derive(Debug, Default)]
pub struct DoneSet {
    counts: HashMap<String, u64>,
    /// Lines that were not valid records (a torn last line is one).
    pub bad_lines: u64,
}

impl DoneSet {
    /// Reads a journal. A missing file is an empty set.
    pub fn load(path: &Path) -> io::Result<Self> {
        match File::open(path) {
            Ok(file) => Self::read(BufReader::new(file)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err),
        }
    }

    /// Reads journal lines from any reader.
    pub fn read(reader: impl BufRead) -> io::Result<Self> {
        let mut set = DoneSet::default();
        for line in lines(reader) {
            match line?.record {
                Some(record) if record.status == Status::Done => {
                    *set.counts.entry(record.src).or_default() += 1;
                }
                Some(_) => {}
                None => set.bad_lines += 1,
            }
        }
        Ok(set)
    }

    /// If the journal has a done record for `src` not yet claimed, claims it and says so.
    pub fn take(&mut self, src: &str) -> bool {
        match self.counts.get_mut(src) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Total done records.
    pub fn len(&self) -> u64 {
        self.counts.values().sum()
    }

    /// No done records at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(src: &str, status: Status) -> Record {
        Record {
            src: src.into(),
            name: Some("n".into()),
            dst: Some("http://d/n".into()),
            status,
            bytes: 3,
            error: None,
            sha256: None,
            index: 0,
            attempts: 1,
            renamed_from: None,
        }
    }

    #[test]
    fn record_has_the_contract_fields() {
        let line = serde_json::to_value(record("http://s/a", Status::Failed)).unwrap();
        for key in ["src", "name", "dst", "status", "bytes", "error"] {
            assert!(line.get(key).is_some(), "missing {key}");
        }
        assert_eq!(line["status"], "failed");
        assert!(line["error"].is_null());
    }

    #[test]
    fn replay_counts_done_and_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut w = Writer::open(&path).unwrap();
        w.append(&record("http://s/a", Status::Done)).unwrap();
        w.append(&record("http://s/a", Status::Done)).unwrap();
        w.append(&record("http://s/b", Status::Failed)).unwrap();
        drop(w);
        let mut text = std::fs::read(&path).unwrap();
        text.extend_from_slice(br#"{"src":"http://s/c","name":"n","dst":"#);
        std::fs::write(&path, text).unwrap();

        let mut done = DoneSet::load(&path).unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(done.bad_lines, 1);
        assert!(done.take("http://s/a"));
        assert!(done.take("http://s/a"));
        assert!(!done.take("http://s/a"));
        assert!(!done.take("http://s/b"));
        assert!(!done.take("http://s/c"));

        // The next run appends after the torn line, not onto it.
        let mut w = Writer::open(&path).unwrap();
        w.append(&record("http://s/d", Status::Done)).unwrap();
        drop(w);
        let done = DoneSet::load(&path).unwrap();
        assert_eq!((done.len(), done.bad_lines), (3, 1));
        let reopened = Writer::open(&path).unwrap();
        drop(reopened);
        assert!(
            std::fs::read(&path).unwrap().ends_with(b"}\n"),
            "no blank line added"
        );
    }

    #[test]
    fn missing_journal_is_empty() {
        let done = DoneSet::load(Path::new("/nonexistent/ferry/j.jsonl")).unwrap();
        assert!(done.is_empty());
    }
}
