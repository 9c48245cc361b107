//! Against the design document's own simulators (`../shared/seed/simulators.py`,
//! unchanged, run through a wrapper that pins small sizes): its source sends no
//! Content-Length (HTTP/1.0, close-delimited), its destination demands one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

fn simulators_py() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/simulators.py");
    if path.is_file() {
        return Some(path);
    }
    // In CI the document must be there: never skip silently.
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing in CI",
        path.display()
    );
    eprintln!("skipping: {} not found", path.display());
    None
}

/// Starts one of the document's simulators; its stdout goes to `log`.
fn start(mode: &str, log: &std::path::Path) -> (Proc, u16) {
    let script = simulators_py().unwrap();
    let port = free_port();
    let wrapper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed_sim.py");
    let child = Command::new("python3")
        .arg(wrapper)
        .arg(script)
        .args([mode, &port.to_string()])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 is needed for these tests");
    let proc = Proc(child);
    wait_listening(port, Duration::from_secs(20));
    (proc, port)
}

/// `Sending file NAME - N MB` / `Receiving file NAME - N MB` records as name -> MB.
///
/// The simulators print from several threads, and Python's `print` writes the text and
/// the newline separately, so two records can share a line: split on the verb, not on
/// newlines.
fn printed(log: &std::path::Path, verb: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(log).unwrap();
    text.split(&format!("{verb} file "))
        .skip(1)
        .filter_map(|record| {
            let (name, rest) = record.split_once(" - ")?;
            let mb: String = rest.chars().take_while(char::is_ascii_digit).collect();
            rest[mb.len()..]
                .starts_with(" MB")
                .then(|| (name.to_string(), mb))
        })
        .collect()
}

#[test]
fn document_source_to_document_destination() {
    if simulators_py().is_none() {
        return;
    }
    let dir = tempdir();
    let (src_log, dst_log) = (dir.path().join("src.log"), dir.path().join("dst.log"));
    let (_src, src_port) = start("src", &src_log);
    let (_dst, dst_port) = start("dst", &dst_log);
    let journal_path = dir.path().join("j.jsonl");
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("http://127.0.0.1:{src_port}/")])
            .args([
                "--count",
                "4",
                "--to",
                &format!("http://127.0.0.1:{dst_port}/{{name}}"),
            ])
            .arg("--journal")
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(0);
    let lines = journal(&journal_path);
    assert_eq!(count_status(&lines, "done"), 4, "{ran:?}");
    // The destination prints after it has read each body; give it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while printed(&dst_log, "Receiving").len() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = printed(&src_log, "Sending");
    let received = printed(&dst_log, "Receiving");
    assert_eq!(sent.len(), 4);
    assert_eq!(
        sent, received,
        "the destination saw other names or sizes than the source sent"
    );
    for line in &lines {
        assert!(sent.contains_key(line["name"].as_str().unwrap()));
    }
}

#[test]
fn document_source_to_ferry_destination_checks_sizes() {
    if simulators_py().is_none() {
        return;
    }
    let dir = tempdir();
    let src_log = dir.path().join("src.log");
    let (_src, src_port) = start("src", &src_log);
    let (dst, log) =
        ferry::sim::serve_destination(loopback(), ferry::sim::DestinationOptions::default())
            .unwrap();
    let journal_path = dir.path().join("j.jsonl");
    run(
        ferry()
            .args(["copy", "--from", &format!("http://127.0.0.1:{src_port}/")])
            .args(["--count", "3", "--to", &format!("{}/{{name}}", dst.url())])
            .args(["--spool-memory", "1MiB", "--journal"])
            .arg(&journal_path),
        LIMIT,
    )
    .expect_code(0);
    let lines = journal(&journal_path);
    let uploads = log.complete();
    assert_eq!(uploads.len(), 3);
    for line in &lines {
        let name = line["name"].as_str().unwrap();
        let upload = uploads.iter().find(|u| u.name == name).expect("uploaded");
        assert_eq!(line["bytes"], upload.bytes);
        assert_eq!(line["sha256"], upload.sha256.as_str());
        assert_eq!(upload.declared_length, Some(upload.bytes));
    }
    let sent = printed(&src_log, "Sending");
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert!(names.iter().all(|n| sent.contains_key(*n)));
}
