//! One migration split over several ferry processes (`--shard K/N`, or a Kubernetes
//! Indexed Job / Slurm array detected from the environment), and `ferry journal merge`
//! putting their journals back together: every file moved exactly once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use ferry::shard::shard_of_url;
use ferry::sim::{DestinationOptions, SourceOptions};
use serde_json::Value;

use crate::util::*;

/// `ferry copy --list MANIFEST --to ... --journal DIR/shard-{shard}.jsonl` plus `extra`.
fn shard_copy(sims: &Sims, manifest: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = ferry();
    cmd.args(["copy", "--list"])
        .arg(manifest)
        .args(["--to", &sims.template(), "--journal"])
        .arg(dir.join("shard-{shard}.jsonl"))
        .args(extra);
    cmd
}

fn shard_journals(dir: &Path, n: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|k| dir.join(format!("shard-{k}.jsonl")))
        .collect()
}

fn merge(journals: &[PathBuf], manifest: &Path, shards: u64) -> Ran {
    run(
        ferry()
            .args(["journal", "merge"])
            .args(journals)
            .arg("--list")
            .arg(manifest)
            .args(["--shards", &shards.to_string()]),
        LIMIT,
    )
}

/// The source URLs of the done records of `lines`, with how often each is done.
fn done_srcs(lines: &[Value]) -> HashMap<String, usize> {
    let mut done = HashMap::new();
    for line in lines.iter().filter(|l| l["status"] == "done") {
        *done
            .entry(line["src"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    done
}

/// Environment variables for a child process.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn manifest_urls(manifest: &Path) -> Vec<String> {
    std::fs::read_to_string(manifest)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn four_shards_at_once_move_every_file_exactly_once() {
    let sims = Sims::small(1_000, 40_000);
    let dir = tempdir();
    let n = 300;
    let manifest = manifest(dir.path(), &sims, 0..n, "");
    let mut cmds: Vec<Command> = (0..4)
        .map(|k| {
            shard_copy(
                &sims,
                &manifest,
                dir.path(),
                &["--shard", &format!("{k}/4")],
            )
        })
        .collect();
    let children: Vec<_> = cmds.iter_mut().map(start).collect();
    let rans: Vec<Ran> = children
        .into_iter()
        .zip(&cmds)
        .map(|(child, cmd)| finish(child, cmd, LIMIT))
        .collect();
    for (k, ran) in rans.iter().enumerate() {
        ran.expect_code(0);
        let line = format!("ferry: shard {k}/4 (numbered from 0), from --shard {k}/4");
        assert!(ran.stderr.contains(&line), "{ran:?}");
    }

    // The destination got every file exactly once.
    sims.assert_received(n);
    assert_eq!(sims.log.uploads().len() as u64, n);

    // Each shard moved exactly the files whose URL hashes to it, and some of them.
    let journals = shard_journals(dir.path(), 4);
    let mut total = 0;
    for (k, path) in journals.iter().enumerate() {
        let done = done_srcs(&journal(path));
        assert!(!done.is_empty(), "shard {k} moved nothing");
        for (src, count) in &done {
            assert_eq!(shard_of_url(src, 4), k as u64, "{src} in shard {k}");
            assert_eq!(*count, 1, "{src} done {count} times");
        }
        total += done.len() as u64;
    }
    assert_eq!(total, n);

    // The merged journal agrees: every manifest URL done once, nothing else.
    let merged = merge(&journals, &manifest, 4);
    merged.expect_code(0);
    assert!(
        merged.stderr.contains(&format!(
            "merged 4 journals: {n} done, 0 done twice, 0 failed, 0 missing"
        )),
        "{merged:?}"
    );
    let lines: Vec<Value> = merged
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("merged line is JSON"))
        .collect();
    let done = done_srcs(&lines);
    assert_eq!(lines.len() as u64, n, "{merged:?}");
    let expected: HashSet<String> = manifest_urls(&manifest).into_iter().collect();
    assert_eq!(done.keys().cloned().collect::<HashSet<_>>(), expected);
}

#[test]
fn a_killed_shard_resumes_and_every_file_is_done_once() {
    // Files of 1-3 MiB, so the victim (one worker) is still busy when it is killed.
    let sims = Sims::start(
        SourceOptions {
            min_size: 1 << 20,
            max_size: 3 << 20,
            seed: 11,
            no_length: false,
        },
        DestinationOptions::default(),
    );
    let dir = tempdir();
    let n = 120;
    let manifest = manifest(dir.path(), &sims, 0..n, "");
    let urls = manifest_urls(&manifest);
    let share = |k| urls.iter().filter(|u| shard_of_url(u, 4) == k).count();
    let victim_journal = dir.path().join("shard-1.jsonl");

    let mut cmds: Vec<Command> = (0..4)
        .map(|k| {
            let workers = if k == 1 { "1" } else { "2" };
            shard_copy(
                &sims,
                &manifest,
                dir.path(),
                &["--shard", &format!("{k}/4"), "-j", workers],
            )
        })
        .collect();
    let mut children: Vec<_> = cmds.iter_mut().map(start).collect();
    let deadline = Instant::now() + LIMIT;
    while std::fs::read_to_string(&victim_journal)
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "shard 1 made no progress");
        thread::sleep(Duration::from_millis(5));
    }
    children[1].kill().unwrap();
    let rans: Vec<Ran> = children
        .into_iter()
        .zip(&cmds)
        .map(|(child, cmd)| finish(child, cmd, LIMIT))
        .collect();
    assert_eq!(rans[1].code, None, "shard 1 was killed\n{:?}", rans[1]);
    for k in [0, 2, 3] {
        rans[k].expect_code(0);
    }
    let before = done_srcs(&journal(&victim_journal)).len();
    assert!(
        before < share(1),
        "the kill came after shard 1 had finished: nothing to resume"
    );

    let resumed = run(
        &mut shard_copy(
            &sims,
            &manifest,
            dir.path(),
            &["--shard", "1/4", "-j", "1", "--resume"],
        ),
        LIMIT,
    );
    resumed.expect_code(0);
    assert!(
        resumed
            .stderr
            .contains(&format!("{before} skipped as already done")),
        "{resumed:?}"
    );

    // The merged journal: every job done exactly once.
    let merged = merge(&shard_journals(dir.path(), 4), &manifest, 4);
    merged.expect_code(0);
    let lines: Vec<Value> = merged
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done = done_srcs(&lines);
    assert_eq!(done.len() as u64, n, "{merged:?}");
    assert!(done.values().all(|&c| c == 1), "{merged:?}");

    // The destination: every file complete. The shards that were not killed sent each
    // of theirs once; the killed one may have sent one file twice (with one worker, the
    // file whose upload completed in the instant before its journal line was written).
    let complete = sims.log.complete();
    let mut arrivals: HashMap<&str, usize> = HashMap::new();
    for upload in &complete {
        *arrivals.entry(upload.name.as_str()).or_default() += 1;
    }
    let mut twice_from_victim = 0;
    for (i, url) in urls.iter().enumerate() {
        let spec = sims.spec(i as u64);
        let count = arrivals.get(spec.name.as_str()).copied().unwrap_or(0);
        assert!(count >= 1, "file {i} never arrived complete");
        if shard_of_url(url, 4) == 1 {
            twice_from_victim += count - 1;
        } else {
            assert_eq!(count, 1, "file {i} of a shard that was not killed");
        }
    }
    assert!(
        twice_from_victim <= 1,
        "{twice_from_victim} files sent twice"
    );
    assert!(
        complete
            .iter()
            .all(|u| (0..n)
                .any(|i| sims.spec(i).name == u.name && sims.spec(i).sha256(11) == u.sha256)),
        "a complete upload with the wrong bytes"
    );
}

#[test]
fn merge_flags_a_shard_run_twice_and_a_shard_never_run() {
    let sims = Sims::small(10, 2_000);
    let dir = tempdir();
    let manifest = manifest(dir.path(), &sims, 0..20, "");
    let urls = manifest_urls(&manifest);
    // Shard 0 of 2 twice, into two journals; shard 1 never.
    let j0 = dir.path().join("a.jsonl");
    let j1 = dir.path().join("b.jsonl");
    for path in [&j0, &j1] {
        let mut cmd = ferry();
        cmd.args(["copy", "--list"])
            .arg(&manifest)
            .args(["--to", &sims.template(), "--shard", "0/2", "--journal"])
            .arg(path);
        run(&mut cmd, LIMIT).expect_code(0);
    }
    let merged = merge(&[j0, j1], &manifest, 2);
    merged.expect_code(1);
    let mine: Vec<&String> = urls.iter().filter(|u| shard_of_url(u, 2) == 0).collect();
    let theirs: Vec<&String> = urls.iter().filter(|u| shard_of_url(u, 2) == 1).collect();
    for url in &mine {
        assert!(
            merged.stderr.contains(&format!("done 2 times: {url} as")),
            "{url}\n{merged:?}"
        );
    }
    for url in &theirs {
        assert!(
            merged.stderr.contains(&format!("missing: {url} (job")),
            "{url}\n{merged:?}"
        );
    }
    assert!(
        merged.stderr.contains(&format!(
            "shard 1/2 is missing {} jobs: rerun it with --shard 1/2 --resume",
            theirs.len()
        )),
        "{merged:?}"
    );
    assert!(merged.stderr.contains("NOT consistent"), "{merged:?}");
    // Both done records of each file are in the output, as --resume would count them.
    assert_eq!(merged.stdout.lines().count(), 2 * mine.len());
}

#[test]
fn kubernetes_and_slurm_pick_the_shard_from_the_environment() {
    let cases: [(Vars, &[&str], u64, u64, &str); 2] = [
        (
            &[("JOB_COMPLETION_INDEX", "1")],
            &["--shards", "3"],
            1,
            3,
            "from JOB_COMPLETION_INDEX=1 and --shards 3 (Kubernetes Indexed Job)",
        ),
        (
            // sbatch --array=1-4: task 3 is the third of four.
            &[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            &[],
            2,
            4,
            "from SLURM_ARRAY_TASK_ID=3 in the array 1-4 (Slurm job array)",
        ),
    ];
    for (vars, extra, k, n, why) in cases {
        let sims = Sims::small(10, 2_000);
        let dir = tempdir();
        let manifest = manifest(dir.path(), &sims, 0..24, "");
        let mut cmd = shard_copy(&sims, &manifest, dir.path(), extra);
        cmd.envs(vars.iter().copied());
        let ran = run(&mut cmd, LIMIT);
        ran.expect_code(0);
        assert!(
            ran.stderr
                .contains(&format!("ferry: shard {k}/{n} (numbered from 0), {why}")),
            "{ran:?}"
        );
        let expected: HashSet<String> = (0..24)
            .filter(|&i| shard_of_url(&format!("{}/files/{i}", sims.source.url()), n) == k)
            .map(|i| sims.spec(i).name)
            .collect();
        let arrived: HashSet<String> = sims.log.complete().into_iter().map(|u| u.name).collect();
        assert_eq!(arrived, expected, "{ran:?}");
        // {shard} in --journal became K.
        let lines = journal(&dir.path().join(format!("shard-{k}.jsonl")));
        assert_eq!(lines.len(), expected.len());
    }
}

#[test]
fn document_mode_shards_by_job_number() {
    let sims = Sims::small(10, 2_000);
    let dir = tempdir();
    let journal_path = dir.path().join("j.jsonl");
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/", sims.source.url())])
            .args(["--count", "10", "--to", &sims.template(), "--shard", "1/3"])
            .arg("--journal")
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(0);
    let mut indexes: Vec<u64> = journal(&journal_path)
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, [1, 4, 7], "{ran:?}");
    assert_eq!(sims.log.complete().len(), 3);
}

#[test]
fn bad_shards_are_usage_errors() {
    let dir = tempdir();
    let manifest = dir.path().join("m.txt");
    std::fs::write(&manifest, "http://127.0.0.1:1/files/0\n").unwrap();
    let cases: [(&[&str], Vars, &str); 8] = [
        (&["--shard", "3/2"], &[], "K must be 0 to 1"),
        (&["--shard", "0/0"], &[], "at least 1"),
        (&["--shard", "x"], &[], "\"x\" is not K/N"),
        (&["--shard", "4/4"], &[], "1-based 4/4 is 3/4 here"),
        (&["--shards", "4"], &[], "use --shard K/N"),
        (
            &["--journal", "j-{shard}.jsonl"],
            &[],
            "contains {shard} but this process is not a shard",
        ),
        (
            &[],
            &[("JOB_COMPLETION_INDEX", "2")],
            "pass --shards N with the Job's completions count",
        ),
        (
            &[],
            &[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "9"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ],
            "cannot be split evenly",
        ),
    ];
    for (args, vars, message) in cases {
        let ran = run(
            ferry()
                .args(["copy", "--list"])
                .arg(&manifest)
                .args(["--to", "http://127.0.0.1:1/{name}"])
                .args(args)
                .envs(vars.iter().copied())
                .current_dir(dir.path()),
            LIMIT,
        );
        ran.expect_code(2);
        assert!(ran.stderr.contains(message), "{message}\n{ran:?}");
        assert!(!ran.stderr.contains("panicked"), "{ran:?}");
    }
    let ran = run(
        ferry().args(["journal", "merge", "/nonexistent/ferry/j.jsonl"]),
        LIMIT,
    );
    ran.expect_code(2);
    assert!(
        ran.stderr
            .contains("cannot open the journal /nonexistent/ferry/j.jsonl"),
        "{ran:?}"
    );
}
