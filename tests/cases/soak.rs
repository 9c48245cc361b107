//! The soak: many small files, about a tenth with a source fault and a tenth with a
//! destination fault, mixed kinds. Every job ends done with the right bytes at the
//! destination or failed with the reason its fault implies, and ferry's RSS stays flat.
//!
//! The 1,000 files (a few seconds); `FERRY_SOAK=<count>` runs another count.

use std::collections::HashMap;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

/// A source fault for job `i` (about one in ten), and the error a permanent one leaves.
fn source_fault(i: u64) -> (&'static str, Option<&'static str>) {
    match i % 100 {
        1 => ("?fault=truncate&fail_times=1", None),
        2 => ("?fault=reset&fail_times=1", None),
        3 => ("?fault=status:503&fail_times=2", None),
        4 => ("?fault=status:429&fail_times=1&retry_after=0", None),
        5 => ("?fault=silence&fail_times=1", None),
        6 => ("?fault=chunked-cut&fail_times=1", None),
        7 => ("?fault=status:404", Some("HTTP 404")),
        8 => ("?fault=truncate", Some("truncated")),
        9 => ("?fault=gzip", None),
        10 => ("?fault=extra", None),
        k if k % 3 == 0 => ("?length=0", None),
        _ => ("", None),
    }
}

/// Resident memory of a process, in KiB, from /proc (None once it has exited).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn soak_mixed_faults_every_job_done_and_verified_or_failed_with_reason() {
    let n: u64 = std::env::var("FERRY_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let sims = Sims::small(200, 8_000);
    let dir = tempdir();
    let list = dir.path().join("m.txt");
    let text: String = (0..n)
        .map(|i| format!("{}\n", sims.file_url(i, source_fault(i).0)))
        .collect();
    std::fs::write(&list, text).unwrap();
    let journal_path = dir.path().join("j.jsonl");
    let template = sims.template_with(
        "?fault=reset,status:500,status:503,slow-read,no-read&fail_times=1&one_in=10&retry_after=0",
    );
    let mut cmd = ferry();
    cmd.args(["copy", "--list"])
        .arg(&list)
        .args(["--to", &template, "-j", "8", "--journal"])
        .arg(&journal_path)
        .args(fast_without(&["--retries"]))
        .args(["--retries", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    // RSS once a tenth of the jobs are journaled, and the highest seen after that.
    let sampler = thread::spawn({
        let journal_path = journal_path.clone();
        move || {
            let deadline = Instant::now() + LIMIT;
            let mut early = None;
            let mut peak = 0;
            while Instant::now() < deadline {
                let done = std::fs::read_to_string(&journal_path)
                    .map(|t| t.lines().count() as u64)
                    .unwrap_or(0);
                let Some(rss) = rss_kib(pid) else { break };
                if early.is_none() && done >= n / 10 {
                    early = Some(rss);
                } else if early.is_some() {
                    peak = peak.max(rss);
                }
                thread::sleep(Duration::from_millis(20));
            }
            (early, peak)
        }
    });
    let ran = finish(child, &cmd, LIMIT * 3);
    ran.expect_code(1);
    let (early, peak) = sampler.join().unwrap();
    eprintln!("ferry RSS: {early:?} KiB at a tenth of the jobs, {peak} KiB at most after");

    let lines = journal(&journal_path);
    assert_eq!(lines.len() as u64, n, "one journal line per job\n{ran:?}");
    let by_src: HashMap<&str, &serde_json::Value> = lines
        .iter()
        .map(|l| (l["src"].as_str().unwrap(), l))
        .collect();
    let complete = sims.log.complete();
    for i in 0..n {
        let (query, reason) = source_fault(i);
        let spec = sims.spec(i);
        let url = sims.file_url(i, query);
        let line = by_src[url.as_str()];
        let arrived: Vec<_> = complete.iter().filter(|u| u.name == spec.name).collect();
        match reason {
            None => {
                assert_eq!(line["status"], "done", "job {i} {url}: {line}");
                assert_eq!(line["bytes"], spec.size, "job {i}");
                assert_eq!(line["sha256"], spec.sha256(7), "job {i}");
                assert!(!arrived.is_empty(), "job {i} done but never arrived");
            }
            Some(reason) => {
                assert_eq!(line["status"], "failed", "job {i} {url}: {line}");
                let error = line["error"].as_str().unwrap();
                assert!(error.contains(reason), "job {i}: {error}");
                assert!(arrived.is_empty(), "failed job {i} arrived complete");
            }
        }
        // Whatever arrived complete under this name is this file, byte for byte.
        for upload in arrived {
            assert_eq!(upload.bytes, spec.size, "job {i}");
            assert_eq!(upload.sha256, spec.sha256(7), "job {i}");
        }
    }
    // The destination faults did strike (about one upload in ten): more upload
    // requests than jobs, and some uploads cut.
    assert!(sims.destination.requests() >= n + n / 20, "{ran:?}");
    assert!(sims.log.uploads().len() > complete.len());
    if let Some(early) = early {
        assert!(
            peak <= early + 32 * 1024,
            "RSS grew from {early} KiB to {peak} KiB"
        );
    }
}
