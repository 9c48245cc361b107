//! What the operator sees and controls: `--json`, bars, stats lines, `--bwlimit`.

use serde_json::Value;

use crate::util::*;

#[test]
fn json_report_parses_and_lists_failures_with_reasons() {
    let sims = Sims::small(1000, 200_000);
    let dir = tempdir();
    let path = dir.path().join("m.txt");
    let missing = format!("{}/files/1?fault=status:404", sims.source.url());
    std::fs::write(
        &path,
        format!(
            "{0}/files/0\n{missing}\n{0}/files/2\nnot a url\n",
            sims.source.url()
        ),
    )
    .unwrap();
    let ran = run(
        ferry()
            .args(["copy", "--list"])
            .arg(&path)
            .args(["--to", &sims.template(), "--json"]),
        LIMIT,
    );
    ran.expect_code(1);
    let report: Value = serde_json::from_str(ran.stdout.trim()).expect("stdout is one JSON object");
    assert_eq!(report["schema"], 1, "{ran:?}");
    assert_eq!(report["status"], "some_failed");
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["counts"]["done"], 2);
    assert_eq!(report["counts"]["failed"], 2);
    assert_eq!(report["counts"]["bad_lines"], 1);
    assert_eq!(report["bytes"], sims.spec(0).size + sims.spec(2).size);
    assert!(report["elapsed_seconds"].as_f64().unwrap() > 0.0);
    assert!(report["throughput_bytes_per_second"].as_f64().unwrap() > 0.0);
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{ran:?}");
    let http = failed
        .iter()
        .find(|f| f["src"] == missing.as_str())
        .unwrap();
    assert!(http["error"].as_str().unwrap().contains("404"), "{ran:?}");
    assert_eq!(http["attempts"], 1);
    let line = failed.iter().find(|f| f["line"] == 4).unwrap();
    assert_eq!(line["src"], Value::Null);
    // The human summary stays on stderr.
    assert!(ran.stderr.contains("2 done, 2 failed"), "{ran:?}");
    sims.assert_received(1);
}

#[test]
fn progress_always_draws_the_run_line_even_into_a_pipe() {
    let sims = Sims::small(100_000, 400_000);
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/", sims.source.url())])
            .args(["--count", "6", "--to", &sims.template()])
            .args(["--progress", "always", "--bwlimit", "2MB/s"]),
        LIMIT,
    );
    ran.expect_code(0);
    assert!(ran.stderr.contains("/6 files"), "{ran:?}");
    assert!(ran.stderr.contains("MB/s"), "{ran:?}");
    sims.assert_received(6);
}

#[test]
fn no_bars_into_a_pipe_by_default() {
    let sims = Sims::small(1000, 2000);
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/", sims.source.url())])
            .args(["--count", "2", "--to", &sims.template()]),
        LIMIT,
    );
    ran.expect_code(0);
    assert!(!ran.stderr.contains("files"), "{ran:?}");
    assert!(
        !ran.stderr.contains('\x1b'),
        "no escape codes in a log\n{ran:?}"
    );
}

/// `--bwlimit` slows a 3 MB run to at least 1.4 s (a lower bound: a slower machine
/// only makes it longer), so `--stats 200ms` must print several lines, each with a
/// timestamp and the counters.
#[test]
fn stats_lines_appear_in_logs_under_a_bandwidth_limit() {
    let sims = Sims::small(500_000, 500_000);
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/", sims.source.url())])
            .args(["--count", "6", "--to", &sims.template(), "-j", "3"])
            .args(["--bwlimit", "2MB/s", "--stats", "200ms", "--json"]),
        LIMIT,
    );
    ran.expect_code(0);
    sims.assert_received(6);
    let stats: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.contains(" ferry: stats: "))
        .collect();
    assert!(stats.len() >= 3, "{ran:?}");
    for line in &stats {
        let (stamp, rest) = line.split_once(' ').unwrap();
        humantime::parse_rfc3339(stamp).unwrap_or_else(|e| panic!("{line}: {e}"));
        let fields: Vec<&str> = rest
            .trim_start_matches("ferry: stats: ")
            .split(", ")
            .collect();
        assert!(fields[0].starts_with("elapsed "), "{line}");
        humantime::parse_duration(fields[0].trim_start_matches("elapsed ")).unwrap();
        assert!(
            fields[1].starts_with("files ") && fields[1].ends_with("/6 done"),
            "{line}"
        );
        assert!(fields[2].ends_with(" failed"), "{line}");
        assert!(fields[4].ends_with(" MB/s"), "{line}");
    }
    let report: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    // 3 MB at 2 MB/s with a 0.1 s burst cannot take less than 1.4 s.
    let elapsed = report["elapsed_seconds"].as_f64().unwrap();
    assert!(
        elapsed >= 1.4,
        "the limit was exceeded: {elapsed}s\n{ran:?}"
    );
}
