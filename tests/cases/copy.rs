//! `ferry copy` against ferry's own simulators: bytes and SHA-256 at the destination,
//! the journal, and the exit code.

use ferry::sim::{DestinationOptions, SourceOptions};

use crate::util::*;

#[test]
fn document_mode_moves_every_file_with_content_length() {
    let sims = Sims::small(100_000, 3_000_000);
    let dir = tempdir();
    let journal_path = dir.path().join("j.jsonl");
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/", sims.source.url())])
            .args(["--count", "6", "--to", &sims.template(), "--journal"])
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(0);
    sims.assert_received(6);
    let lines = journal(&journal_path);
    assert_eq!(count_status(&lines, "done"), 6, "{ran:?}");
    for line in &lines {
        let spec = (0..6)
            .map(|i| sims.spec(i))
            .find(|s| line["name"] == s.name.as_str())
            .expect("journal names a file the source served");
        assert_eq!(line["bytes"], spec.size);
        assert_eq!(line["sha256"], spec.sha256(7));
        assert_eq!(line["error"], serde_json::Value::Null);
        assert_eq!(
            line["dst"],
            format!("{}/{}", sims.destination.url(), spec.name)
        );
    }
    // Uploads carried the source's length, not chunked encoding.
    assert!(
        sims.log
            .uploads()
            .iter()
            .all(|u| !u.chunked && u.declared_length == Some(u.bytes))
    );
}

#[test]
fn document_mode_without_length_spools_and_sends_exact_length() {
    let sims = Sims::start(
        SourceOptions {
            min_size: 1,
            max_size: 3_000_000,
            seed: 7,
            no_length: true,
        },
        DestinationOptions {
            require_length: true,
            ..DestinationOptions::default()
        },
    );
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/", sims.source.url())])
            .args(["--count", "5", "--to", &sims.template()])
            // Small enough that some files spill to a temporary file.
            .args(["--spool-memory", "1MiB"]),
        LIMIT,
    );
    ran.expect_code(0);
    sims.assert_received(5);
    assert!(
        sims.log
            .uploads()
            .iter()
            .all(|u| u.declared_length == Some(u.bytes))
    );
}

#[test]
fn manifest_mode_mixes_lengths_and_puts() {
    let sims = Sims::small(1, 2_000_000);
    let dir = tempdir();
    let path = dir.path().join("m.txt");
    let mut text = String::from("# a comment\n\n");
    for i in 0..8 {
        text.push_str(&format!(
            "{}/files/{i}?length={}\n",
            sims.source.url(),
            i % 2
        ));
    }
    std::fs::write(&path, text).unwrap();
    let ran = run(
        ferry().args(["copy", "--list"]).arg(&path).args([
            "--to",
            &sims.template(),
            "--method",
            // Option values are case-insensitive, as users type them.
            "PUT",
            "-j",
            "3",
        ]),
        LIMIT,
    );
    ran.expect_code(0);
    sims.assert_received(8);
    assert!(sims.log.uploads().iter().all(|u| u.method == "PUT"));
    assert!(ran.stderr.contains("8 done, 0 failed"), "{ran:?}");
}

#[test]
fn manifest_from_stdin_with_names_and_index() {
    let sims = Sims::small(10, 5000);
    let text: String = (0..3)
        .map(|i| format!("{}/files/{i}\tcopy {i}.bin\n", sims.source.url()))
        .collect();
    let mut cmd = ferry();
    cmd.args(["copy", "--list", "-"]).args([
        "--to",
        &format!("{}/{{index}}-{{name}}", sims.destination.url()),
    ]);
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    finish(child, &cmd, LIMIT).expect_code(0);
    let mut names: Vec<String> = sims.log.complete().into_iter().map(|u| u.name).collect();
    names.sort();
    assert_eq!(names, ["0-copy 0.bin", "1-copy 1.bin", "2-copy 2.bin"]);
    // The space was percent-encoded in the URL, as one segment.
    assert!(
        sims.log
            .uploads()
            .iter()
            .all(|u| u.path.contains("copy%200.bin") || !u.name.contains('0'))
    );
}

#[test]
fn manifest_from_a_fifo_as_with_process_substitution() {
    // `--list <(grep ... urls.txt)` hands ferry a pipe, not a regular file.
    let sims = Sims::small(10, 5000);
    let dir = tempdir();
    let fifo = dir.path().join("list.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let text: String = (0..3)
        .map(|i| format!("{}\n", sims.file_url(i, "")))
        .collect();
    let writer = {
        let fifo = fifo.clone();
        // Opening a FIFO for writing blocks until ferry opens it for reading.
        std::thread::spawn(move || std::fs::write(fifo, text))
    };
    let ran = run(
        ferry()
            .args(["copy", "--list"])
            .arg(&fifo)
            .args(["--to", &sims.template()]),
        LIMIT,
    );
    ran.expect_code(0);
    writer.join().unwrap().unwrap();
    sims.assert_received(3);
}

#[test]
fn chunked_mode_streams_unknown_length() {
    let sims = Sims::small(1, 1_500_000);
    let dir = tempdir();
    let manifest = manifest(dir.path(), &sims, 0..4, "?length=0");
    run(
        ferry().args(["copy", "--list"]).arg(&manifest).args([
            "--to",
            &sims.template(),
            "--unknown-length",
            "chunked",
        ]),
        LIMIT,
    )
    .expect_code(0);
    sims.assert_received(4);
    assert!(sims.log.uploads().iter().all(|u| u.chunked));
}

#[test]
fn fail_mode_refuses_unknown_length_and_uploads_nothing() {
    let sims = Sims::small(1, 1000);
    let dir = tempdir();
    let manifest = manifest(dir.path(), &sims, 0..2, "?length=0");
    let journal_path = dir.path().join("j.jsonl");
    let ran = run(
        ferry()
            .args(["copy", "--list"])
            .arg(&manifest)
            .args([
                "--to",
                &sims.template(),
                "--unknown-length",
                "fail",
                "--journal",
            ])
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(1);
    assert!(ran.stderr.contains("no Content-Length"), "{ran:?}");
    assert!(sims.log.uploads().is_empty());
    let lines = journal(&journal_path);
    assert_eq!(count_status(&lines, "failed"), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["error"].as_str().unwrap().contains("--unknown-length"))
    );
}

#[test]
fn a_missing_file_fails_alone_and_lands_in_the_failed_list() {
    let sims = Sims::small(10, 1000);
    let dir = tempdir();
    let path = dir.path().join("m.txt");
    let missing = format!("{}/files/1?fault=status:404", sims.source.url());
    std::fs::write(
        &path,
        format!("{0}/files/0\n{missing}\n{0}/files/2\n", sims.source.url()),
    )
    .unwrap();
    let journal_path = dir.path().join("j.jsonl");
    let failed_path = dir.path().join("failed.txt");
    let ran = run(
        ferry()
            .args(["copy", "--list"])
            .arg(&path)
            .args(["--to", &sims.template(), "--journal"])
            .arg(&journal_path)
            .arg("--failed")
            .arg(&failed_path),
        LIMIT,
    );
    ran.expect_code(1);
    assert!(
        ran.stderr.contains(&missing) && ran.stderr.contains("404"),
        "{ran:?}"
    );
    let lines = journal(&journal_path);
    assert_eq!(
        (count_status(&lines, "done"), count_status(&lines, "failed")),
        (2, 1)
    );
    let failed = lines.iter().find(|l| l["status"] == "failed").unwrap();
    assert_eq!(failed["src"], missing.as_str());
    assert_eq!(failed["name"], serde_json::Value::Null);
    // 404 is final: one request, and the error page was never uploaded.
    assert_eq!(sims.log.uploads().len(), 2);
    assert_eq!(
        std::fs::read_to_string(&failed_path).unwrap(),
        format!("{missing}\n")
    );
}

#[test]
fn manifest_size_and_checksum_are_enforced() {
    let sims = Sims::small(1000, 50_000);
    let dir = tempdir();
    let (a, b, c) = (sims.spec(0), sims.spec(1), sims.spec(2));
    let url = |i| format!("{}/files/{i}", sims.source.url());
    let text = format!(
        "{}\t\t{}\t{}\n{}\t\t{}\t\n{}\t\t\t{}\n",
        url(0),
        a.size,
        a.sha256(7),
        url(1),
        b.size + 1,
        url(2),
        "0".repeat(64),
    );
    let path = dir.path().join("m.txt");
    std::fs::write(&path, text).unwrap();
    let ran = run(
        ferry()
            .args(["copy", "--list"])
            .arg(&path)
            .args(["--to", &sims.template()]),
        LIMIT,
    );
    ran.expect_code(1);
    assert!(ran.stderr.contains("manifest says"), "{ran:?}");
    let complete: Vec<String> = sims.log.complete().into_iter().map(|u| u.name).collect();
    assert_eq!(complete, vec![a.name.clone()], "{ran:?}");
    // The bad-checksum upload was cut before it completed.
    assert!(!complete.contains(&c.name));
}

#[test]
fn resume_skips_what_the_journal_lists_as_done() {
    let sims = Sims::small(10, 10_000);
    let dir = tempdir();
    let manifest = manifest(dir.path(), &sims, 0..6, "");
    let journal_path = dir.path().join("j.jsonl");
    let copy = |extra: &[&str]| {
        run(
            ferry()
                .args(["copy", "--list"])
                .arg(&manifest)
                .args(["--to", &sims.template(), "--journal"])
                .arg(&journal_path)
                .args(extra),
            LIMIT,
        )
    };
    copy(&[]).expect_code(0);
    let ran = copy(&["--resume"]);
    ran.expect_code(0);
    assert!(ran.stderr.contains("6 skipped"), "{ran:?}");
    assert_eq!(sims.log.uploads().len(), 6);
    assert_eq!(journal(&journal_path).len(), 6);
}
