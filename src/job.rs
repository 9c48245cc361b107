//! [`Job`], one file to move, and the two job sources: document mode (the same URL
//! fetched N times) and the manifest (one job per line, read as a stream).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use anyhow::Context;

/// One file to move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The job number, from 0, in the order the source produced it.
    pub index: u64,
    /// The source URL.
    pub src: String,
    /// The name the manifest gives (otherwise it comes from the source's answer).
    pub name: Option<String>,
    /// The size the manifest promises.
    pub size: Option<u64>,
    /// The SHA-256 (lowercase hex) the manifest promises.
    pub sha256: Option<String>,
}

impl Job {
    /// A job with only a source URL.
    pub fn new(index: u64, src: impl Into<String>) -> Self {
        Job {
            index,
            src: src.into(),
            name: None,
            size: None,
            sha256: None,
        }
    }

    /// The job as a manifest line (for `--failed`), without the newline.
    pub fn manifest_line(&self, name: Option<&str>) -> String {
        let mut line = self.src.clone();
        let name = name.or(self.name.as_deref());
        if name.is_some() || self.size.is_some() || self.sha256.is_some() {
            line.push('\t');
            line.push_str(name.unwrap_or(""));
        }
        if self.size.is_some() || self.sha256.is_some() {
            line.push('\t');
            if let Some(size) = self.size {
                line.push_str(&size.to_string());
            }
            line.push('\t');
            line.push_str(self.sha256.as_deref().unwrap_or(""));
        }
        line
    }
}

/// Document mode: `count` jobs, all fetching `url`.
pub fn document(url: &str, count: u64) -> impl Iterator<Item = Result<Job, ManifestError>> + '_ {
    (0..count).map(move |index| Ok(Job::new(index, url)))
}

/// A manifest line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "manifest line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ManifestError {}

/// Reads a manifest line by line (never the whole file at once).
///
/// Format: `URL`, `URL<TAB>NAME` or `URL<TAB>NAME<TAB>SIZE<TAB>SHA256`, where NAME, SIZE
/// and SHA256 may be empty. Blank lines and lines starting with `#` are skipped.
pub struct Manifest<R> {
    reader: R,
    line_no: u64,
    next_index: u64,
    buf: String,
}

impl<R: BufRead> Manifest<R> {
    /// Wraps a reader.
    pub fn new(reader: R) -> Self {
        Manifest {
            reader,
            line_no: 0,
            next_index: 0,
            buf: String::new(),
        }
    }
}

impl<R: BufRead> Iterator for Manifest<R> {
    type Item = Result<Job, ManifestError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line_no += 1;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(err) => {
                    return Some(Err(ManifestError {
                        line: self.line_no,
                        message: format!("cannot read: {err}"),
                    }));
                }
            }
            let line = self.buf.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let index = self.next_index;
            self.next_index += 1;
            return Some(parse_line(line, index).map_err(|message| ManifestError {
                line: self.line_no,
                message,
            }));
        }
    }
}

/// The jobs of the manifest at `path` (`-` is stdin), read as a stream.
pub fn open_manifest(
    path: &Path,
) -> anyhow::Result<Box<dyn Iterator<Item = Result<Job, ManifestError>> + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(Manifest::new(BufReader::new(io::stdin()))));
    }
    let file =
        File::open(path).with_context(|| format!("cannot open the manifest {}", path.display()))?;
    Ok(Box::new(Manifest::new(BufReader::with_capacity(
        64 * 1024,
        file,
    ))))
}

/// Parses one non-blank, non-comment manifest line.
fn parse_line(line: &str, index: u64) -> Result<Job, String> {
    let mut fields = line.split('\t');
    // split always yields at least one item.
    let url = fields.next().unwrap_or_default().trim();
    check_url(url)?;
    let mut job = Job::new(index, url);
    if let Some(name) = fields.next().map(str::trim).filter(|n| !n.is_empty()) {
        job.name = Some(
            crate::names::sanitize(name)
                .ok_or_else(|| format!("name {name:?} is not usable as a file name"))?,
        );
    }
    if let Some(size) = fields.next().map(str::trim).filter(|s| !s.is_empty()) {
        job.size = Some(
            size.parse()
                .map_err(|_| format!("size {size:?} is not a number of bytes"))?,
        );
    }
    if let Some(sha) = fields.next().map(str::trim).filter(|s| !s.is_empty()) {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("sha256 {sha:?} is not 64 hex digits"));
        }
        job.sha256 = Some(sha.to_ascii_lowercase());
    }
    if fields.next().is_some() {
        return Err("too many tab-separated fields (at most URL, NAME, SIZE, SHA256)".into());
    }
    Ok(job)
}

/// Checks that `url` is an absolute http(s) URL with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    // Messages show the URL without the password of its userinfo.
    let url = &*crate::headers::redact_url(url);
    // `http:///x` and `http://:80/x` fail to parse as "invalid format"; name the cause.
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or("");
        if host.is_empty() || host.starts_with(':') {
            return Err(format!("{url:?} has no host"));
        }
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|err| format!("{url:?} is not a valid URL: {err}"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
        Some(s) => return Err(format!("{url:?}: scheme {s:?} is not http or https")),
        None => {
            return Err(format!(
                "{url:?} is not an absolute http:// or https:// URL"
            ));
        }
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(format!("{url:?} has no host")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Manifest-like lines: URL-ish text, tabs, names with hostile characters, sizes, digests.
    fn line_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("http://".to_owned()),
            Just("https://h".to_owned()),
            Just("\t".to_owned()),
            Just("\t\t".to_owned()),
            Just("/".to_owned()),
            Just("..".to_owned()),
            Just("@".to_owned()),
            Just(":".to_owned()),
            Just(" ".to_owned()),
            Just("\r".to_owned()),
            Just("#".to_owned()),
            "[0-9]{1,20}",
            "[0-9a-fA-F]{64}",
            "%[0-9a-fA-F]{2}",
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_line_parses_or_is_refused_never_panics(line in any::<String>(), index in any::<u64>()) {
            let _ = parse_line(&line, index);
        }

        #[test]
        fn accepted_lines_give_valid_jobs(line in line_like(), index in any::<u64>()) {
            if let Ok(job) = parse_line(&line, index) {
                prop_assert!(check_url(&job.src).is_ok(), "{:?}", job.src);
                prop_assert_eq!(job.index, index);
                if let Some(name) = &job.name {
                    crate::names::tests::assert_safe(name);
                }
                if let Some(sha) = &job.sha256 {
                    prop_assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                }
            }
        }

        #[test]
        fn a_manifest_of_any_text_never_panics(text in proptest::collection::vec(line_like(), 0..8)) {
            let text = text.join("\n");
            for (i, item) in Manifest::new(text.as_bytes()).enumerate() {
                if let Err(err) = item {
                    prop_assert!(err.line as usize > i);
                }
            }
        }
    }

    fn read(text: &str) -> Vec<Result<Job, ManifestError>> {
        Manifest::new(text.as_bytes()).collect()
    }

    #[test]
    fn manifest_skips_blanks_and_comments_and_numbers_jobs() {
        let jobs = read("# header\n\nhttp://h/a\n  \nhttp://h/b\tb.bin\r\n");
        let jobs: Vec<Job> = jobs.into_iter().map(Result::unwrap).collect();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0], Job::new(0, "http://h/a"));
        assert_eq!(jobs[1].index, 1);
        assert_eq!(jobs[1].name.as_deref(), Some("b.bin"));
    }

    #[test]
    fn manifest_reads_size_and_checksum_columns() {
        let sha = "AB".repeat(32);
        let jobs = read(&format!("http://h/a\t\t12\t{sha}\nhttp://h/b\tb\t\t\n"));
        let a = jobs[0].clone().unwrap();
        assert_eq!(a.name, None);
        assert_eq!(a.size, Some(12));
        assert_eq!(a.sha256, Some("ab".repeat(32)));
        let b = jobs[1].clone().unwrap();
        assert_eq!((b.size, b.sha256), (None, None));
    }

    #[test]
    fn malformed_lines_report_their_line_number() {
        let jobs =
            read("http://h/ok\n\nftp://h/x\nhttp://h/a\tn\tbig\n/relative\nhttp:///nohost\n");
        assert!(jobs[0].is_ok());
        let lines: Vec<u64> = jobs[1..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().line)
            .collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        let msg = jobs[2].as_ref().unwrap_err().to_string();
        assert!(msg.starts_with("manifest line 4: size \"big\""), "{msg}");
    }

    #[test]
    fn manifest_names_are_sanitized_or_refused() {
        let jobs = read("http://h/a\t../../etc/passwd\nhttp://h/b\t..\n");
        assert_eq!(
            jobs[0].as_ref().unwrap().name.as_deref(),
            Some(".._.._etc_passwd")
        );
        assert!(jobs[1].is_err());
    }

    #[test]
    fn failed_list_lines_read_back_as_the_same_job() {
        let mut job = Job::new(7, "http://h/a");
        job.size = Some(5);
        let line = job.manifest_line(Some("n.bin"));
        let back = read(&line)[0].clone().unwrap();
        assert_eq!(back.src, "http://h/a");
        assert_eq!(back.name.as_deref(), Some("n.bin"));
        assert_eq!(back.size, Some(5));
        assert_eq!(Job::new(0, "http://h/x").manifest_line(None), "http://h/x");
    }
}
