//! Bad input gets a clear message and exit code 2, never a panic.

use crate::util::*;

const FROM: [&str; 5] = ["copy", "--from", "http://127.0.0.1:9/", "--count", "2"];

#[test]
fn zero_workers_is_refused() {
    let mut args = FROM.to_vec();
    args.extend(["--to", "http://127.0.0.1:9/{name}", "--workers", "0"]);
    expect_usage_error(&args, "--workers");
}

#[test]
fn a_missing_manifest_is_refused() {
    expect_usage_error(
        &[
            "copy",
            "--list",
            "/nonexistent/list.txt",
            "--to",
            "http://127.0.0.1:9/{name}",
        ],
        "/nonexistent/list.txt",
    );
}

#[test]
fn an_unparsable_size_is_refused() {
    let mut args = FROM.to_vec();
    args.extend([
        "--to",
        "http://127.0.0.1:9/{name}",
        "--buffer",
        "12 parsecs",
    ]);
    expect_usage_error(&args, "is not a size");
}

#[test]
fn an_unparsable_duration_is_refused() {
    let mut args = FROM.to_vec();
    args.extend([
        "--to",
        "http://127.0.0.1:9/{name}",
        "--stall-timeout",
        "forever",
    ]);
    expect_usage_error(&args, "is not a duration");
}

#[test]
fn a_url_without_a_host_is_refused() {
    expect_usage_error(
        &[
            "copy",
            "--from",
            "http:///x",
            "--count",
            "1",
            "--to",
            "http://127.0.0.1:9/{name}",
        ],
        "no host",
    );
    expect_usage_error(
        &[
            "copy",
            "--from",
            "http://127.0.0.1:9/",
            "--count",
            "1",
            "--to",
            "http:///{name}",
        ],
        "host",
    );
}

#[test]
fn many_files_to_one_fixed_url_is_refused() {
    let mut args = FROM.to_vec();
    args.extend(["--to", "http://127.0.0.1:9/all.bin"]);
    expect_usage_error(&args, "{name}");
}

#[test]
fn a_name_placeholder_in_the_host_is_refused() {
    let mut args = FROM.to_vec();
    args.extend(["--to", "http://{name}.evil/x"]);
    expect_usage_error(&args, "{name}");
}

#[test]
fn an_unreadable_journal_location_is_a_startup_error() {
    let sims = Sims::small(1, 10);
    let ran = run(
        ferry()
            .args(["copy", "--from", &sims.source.url(), "--count", "1"])
            .args([
                "--to",
                &sims.template(),
                "--journal",
                "/nonexistent/dir/j.jsonl",
            ]),
        LIMIT,
    );
    ran.expect_code(2);
    assert!(ran.stderr.contains("/nonexistent/dir/j.jsonl"), "{ran:?}");
    assert!(sims.log.uploads().is_empty());
}

#[test]
fn help_shows_exit_codes_and_journal_format() {
    let ran = run(ferry().args(["copy", "--help"]), LIMIT);
    ran.expect_code(0);
    for needle in ["Exit codes", "130", "\"status\"", "--unknown-length"] {
        assert!(
            ran.stdout.contains(needle),
            "--help lacks {needle}\n{ran:?}"
        );
    }
}

#[test]
fn the_same_file_for_two_of_list_journal_and_failed_is_refused() {
    let dir = tempdir();
    let list = dir.path().join("failed.txt");
    let original = "http://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\n";
    std::fs::write(&list, original).unwrap();
    let list = list.to_str().unwrap();
    let journal = dir.path().join("j.jsonl");
    let journal = journal.to_str().unwrap();
    let to = "http://127.0.0.1:9/{name}";
    // The README's retry flow, written carelessly: it must not erase the list.
    expect_usage_error(
        &["copy", "--list", list, "--failed", list, "--to", to],
        "--list and --failed name the same file",
    );
    expect_usage_error(
        &["copy", "--list", list, "--journal", list, "--to", to],
        "--list and --journal name the same file",
    );
    // The journal need not exist yet to be recognised.
    expect_usage_error(
        &[
            "copy",
            "--list",
            list,
            "--journal",
            journal,
            "--failed",
            journal,
            "--to",
            to,
        ],
        "--journal and --failed name the same file",
    );
    assert_eq!(std::fs::read_to_string(list).unwrap(), original);
    assert!(!std::path::Path::new(journal).exists());
}

#[test]
fn zero_timeouts_are_refused() {
    for option in ["--stall-timeout", "--connect-timeout", "--max-time"] {
        let mut args = FROM.to_vec();
        args.extend(["--to", "http://127.0.0.1:9/{name}", option, "0s"]);
        let ran = expect_usage_error(&args, "is zero");
        assert!(ran.stderr.contains(option), "{ran:?}");
    }
}

#[test]
fn a_directory_as_manifest_is_named_as_such() {
    let dir = tempdir();
    let path = dir.path().to_str().unwrap();
    expect_usage_error(
        &["copy", "--list", path, "--to", "http://127.0.0.1:9/{name}"],
        "is a directory",
    );
}

#[test]
fn an_unopenable_simulator_log_is_named() {
    expect_usage_error(
        &[
            "serve",
            "dst",
            "--port",
            "0",
            "--log",
            "/nonexistent/dir/uploads.jsonl",
        ],
        "cannot open the upload log /nonexistent/dir/uploads.jsonl",
    );
}
