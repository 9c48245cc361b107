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
