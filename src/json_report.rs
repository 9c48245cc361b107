//! `--json`: the one JSON object `ferry copy` prints on stdout when the run ends. Its
//! schema is documented in the README ("JSON report"); `schema` is bumped when a field
//! changes meaning or goes away (adding fields does not bump it).

use serde::Serialize;

use crate::copy::Run;
use crate::error::Exit;
use crate::report::Failure;

/// The JSON report of a run.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Version of this layout.
    pub schema: u32,
    /// `success`, `some_failed` or `interrupted`.
    pub status: &'static str,
    /// The process exit code.
    pub exit_code: u8,
    /// Wall-clock time of the run, seconds.
    pub elapsed_seconds: f64,
    /// Bytes moved by done jobs.
    pub bytes: u64,
    /// `bytes / elapsed_seconds`.
    pub throughput_bytes_per_second: f64,
    /// Jobs by outcome.
    pub counts: Counts,
    /// Writing the journal failed with this message (the run was stopped).
    pub journal_error: Option<&'a str>,
    /// Failed jobs not listed in `failed` (the journal and `--failed` have them).
    pub failed_omitted: u64,
    /// The failed jobs with their reasons (at most 10,000; see `failed_omitted`).
    pub failed: &'a [Failure],
}

/// Jobs by outcome.
#[derive(Debug, Serialize)]
pub struct Counts {
    /// Jobs done (journaled `done`).
    pub done: u64,
    /// Jobs failed, unusable manifest lines included.
    pub failed: u64,
    /// Jobs skipped because the journal lists them as done (`--resume`).
    pub skipped: u64,
    /// Of `failed`, the manifest lines that could not be used.
    pub bad_lines: u64,
}

/// Version of the report layout.
pub const SCHEMA: u32 = 1;

impl<'a> Report<'a> {
    /// The report of `run`.
    pub fn new(run: &'a Run) -> Self {
        let s = &run.summary;
        let secs = run.elapsed.as_secs_f64();
        let exit = s.exit();
        Report {
            schema: SCHEMA,
            status: match exit {
                Exit::Success => "success",
                Exit::Interrupted => "interrupted",
                _ => "some_failed",
            },
            exit_code: exit.code(),
            elapsed_seconds: secs,
            bytes: s.bytes,
            throughput_bytes_per_second: if secs > 0.0 {
                s.bytes as f64 / secs
            } else {
                0.0
            },
            counts: Counts {
                done: s.done,
                failed: s.failed,
                skipped: s.skipped,
                bad_lines: s.failures.iter().filter(|f| f.line.is_some()).count() as u64,
            },
            journal_error: s.journal_error.as_deref(),
            failed_omitted: s.failures_omitted,
            failed: &s.failures,
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).expect("the report serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Summary;
    use std::time::Duration;

    #[test]
    fn report_counts_outcomes_and_lists_failures() {
        let run = Run {
            summary: Summary {
                done: 3,
                failed: 2,
                skipped: 1,
                bytes: 3000,
                failures: vec![
                    Failure {
                        src: Some("http://s/a".into()),
                        error: "HTTP 404".into(),
                        attempts: 1,
                        ..Failure::default()
                    },
                    Failure {
                        error: "not a URL".into(),
                        line: Some(7),
                        ..Failure::default()
                    },
                ],
                ..Summary::default()
            },
            elapsed: Duration::from_secs(2),
        };
        let value: serde_json::Value = serde_json::from_str(&Report::new(&run).to_json()).unwrap();
        assert_eq!(value["status"], "some_failed");
        assert_eq!(value["exit_code"], 1);
        assert_eq!(value["throughput_bytes_per_second"], 1500.0);
        assert_eq!(value["counts"]["done"], 3);
        assert_eq!(value["counts"]["bad_lines"], 1);
        assert_eq!(value["failed"][0]["src"], "http://s/a");
        assert_eq!(value["failed"][0]["error"], "HTTP 404");
        assert_eq!(value["failed"][1]["line"], 7);
        assert_eq!(value["failed"][1]["src"], serde_json::Value::Null);
        assert_eq!(value["failed_omitted"], 0);
    }
}
