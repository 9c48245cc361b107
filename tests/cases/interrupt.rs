//! Ctrl-c and kills: the journal stays consistent and `--resume` finishes the rest,
//! each file arriving complete exactly once (SIGINT) or at least once and journaled
//! done exactly once (SIGKILL).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ferry::sim::{DestinationOptions, SourceOptions};

use crate::util::*;

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Starts a copy of `n` files with 2 workers, waits until `k` jobs are journaled,
/// sends `sig`, and returns what the run did.
fn interrupt(sims: &Sims, dir: &std::path::Path, n: u64, k: usize, sig: &str) -> Ran {
    let manifest = manifest(dir, sims, 0..n, "");
    let journal_path = dir.join("j.jsonl");
    let mut cmd = ferry();
    cmd.args(["copy", "--list"])
        .arg(&manifest)
        .args(["--to", &sims.template(), "-j", "2", "--journal"])
        .arg(&journal_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + LIMIT;
    loop {
        let lines = std::fs::read_to_string(&journal_path).unwrap_or_default();
        if lines.lines().count() >= k {
            break;
        }
        assert!(Instant::now() < deadline, "the copy made no progress");
        thread::sleep(Duration::from_millis(10));
    }
    signal(child.id(), sig);
    finish(child, &cmd, LIMIT)
}

fn resume(sims: &Sims, dir: &std::path::Path) -> Ran {
    run(
        ferry()
            .args(["copy", "--list"])
            .arg(dir.join("manifest.txt"))
            .args(["--to", &sims.template(), "--journal"])
            .arg(dir.join("j.jsonl"))
            .arg("--resume"),
        LIMIT,
    )
}

/// Done lines per source URL. A killed run may leave one torn line, which is skipped
/// (as `--resume` does); more than one would be a journal bug.
fn done_counts(dir: &std::path::Path) -> HashMap<String, usize> {
    let text = std::fs::read_to_string(dir.join("j.jsonl")).unwrap();
    let mut counts = HashMap::new();
    let mut torn = 0;
    for line in text.lines() {
        let Ok(line) = serde_json::from_str::<serde_json::Value>(line) else {
            torn += 1;
            continue;
        };
        if line["status"] == "done" {
            *counts
                .entry(line["src"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert!(torn <= 1, "{torn} torn journal lines");
    counts
}

/// Files of a few MiB through a destination that reads slowly enough for a signal to
/// land mid-run.
fn sims() -> Sims {
    Sims::start(
        SourceOptions {
            min_size: 2 << 20,
            max_size: 4 << 20,
            seed: 11,
            no_length: false,
        },
        DestinationOptions::default(),
    )
}

#[test]
fn sigint_drains_exits_130_and_resume_finishes_exactly_once() {
    let sims = sims();
    let dir = tempdir();
    let n = 60;
    let ran = interrupt(&sims, dir.path(), n, 3, "-INT");
    ran.expect_code(130);
    assert!(ran.stderr.contains("interrupted"), "{ran:?}");
    // The operator is told at once what the first ctrl-c does.
    assert!(
        ran.stderr.contains("stopping: no new jobs start"),
        "{ran:?}"
    );
    let first = done_counts(dir.path());
    assert!(
        (first.len() as u64) < n,
        "the interrupt came too late to test anything"
    );
    // Every journaled done file is complete at the destination; nothing else was
    // started after the signal except the transfers already running.
    assert_eq!(sims.log.complete().len(), first.len(), "{ran:?}");

    resume(&sims, dir.path()).expect_code(0);
    let counts = done_counts(dir.path());
    assert_eq!(counts.len() as u64, n);
    assert!(
        counts.values().all(|&c| c == 1),
        "a file journaled done twice"
    );
    sims.assert_received(n);
    // Exactly once in total: no file was uploaded completely twice.
    assert_eq!(sims.log.complete().len() as u64, n);
}

#[test]
fn sigkill_then_resume_leaves_every_file_complete_and_done_once() {
    let sims = sims();
    let dir = tempdir();
    let n = 40;
    let ran = interrupt(&sims, dir.path(), n, 3, "-KILL");
    assert_eq!(ran.code, None, "killed by a signal\n{ran:?}");
    resume(&sims, dir.path()).expect_code(0);
    let counts = done_counts(dir.path());
    assert_eq!(counts.len() as u64, n);
    assert!(
        counts.values().all(|&c| c == 1),
        "a file journaled done twice"
    );
    let complete = sims.log.complete();
    for i in 0..n {
        let spec = sims.spec(i);
        assert!(
            complete
                .iter()
                .any(|u| u.name == spec.name && u.sha256 == spec.sha256(11)),
            "file {i} never arrived complete"
        );
    }
}
