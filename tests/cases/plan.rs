//! `ferry plan`, `ferry copy --dry-run`, and the generated completions and man page.

use crate::util::*;

/// A manifest of five files: two with a SIZE column, two sized by HEAD, one the source
/// answers 404 (its size is unknown, reported and not counted).
fn mixed_manifest(dir: &std::path::Path, sims: &Sims) -> (std::path::PathBuf, u64, String) {
    let url = sims.source.url();
    let (a, b) = (sims.spec(0), sims.spec(1));
    let missing = format!("{url}/files/9?fault=status:404");
    let text = format!(
        "{url}/files/0\t{}\t{}\t\n{url}/files/1\t{}\t{}\t\n{url}/files/2\n{url}/files/3\n{missing}\n",
        a.name, a.size, b.name, b.size
    );
    let path = dir.join("m.txt");
    std::fs::write(&path, text).unwrap();
    let total = (0..4).map(|i| sims.spec(i).size).sum();
    (path, total, missing)
}

#[test]
fn plan_prints_totals_time_and_costs_from_the_simulator() {
    let sims = Sims::small(1 << 20, 8 << 20);
    let dir = tempdir();
    let (path, total, missing) = mixed_manifest(dir.path(), &sims);
    let ran = run(
        ferry()
            .args(["plan", "--list"])
            .arg(&path)
            .args(["--link", "10Gbps", "--measured", "1MB/s"])
            .args(["--price-per-gb-service", "2.5", "--vps-price-per-hour", "1"]),
        LIMIT,
    );
    ran.expect_code(0);
    let out = &ran.stdout;
    assert!(out.contains("files                   5"), "{ran:?}");
    assert!(
        out.contains("size known            4 (2 from the manifest, 2 from the server)"),
        "{ran:?}"
    );
    assert!(
        out.contains("size unknown          1 (not counted below)"),
        "{ran:?}"
    );
    assert!(out.contains(&format!("({total} bytes,")), "{ran:?}");
    assert!(out.contains("at the link, 10.0 Gbit/s"), "{ran:?}");
    let row = |label: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("{label}\n{ran:?}"));
        line.rsplit('$').next().unwrap().trim().parse().unwrap()
    };
    let gb = total as f64 / (1u64 << 30) as f64;
    assert_eq!(
        row("migration service, $2.50/GB"),
        (gb * 2.5 * 100.0).round() / 100.0
    );
    // At 1 MB/s the known bytes take under an hour: one billed hour at $1.
    assert_eq!(row("streamed by ferry (1 h, no storage)"), 1.0);
    assert!(
        ran.stderr.contains(&missing) && ran.stderr.contains("404"),
        "{ran:?}"
    );
    // Nothing was uploaded, and no body was read (HEAD only for sized-by-server files).
    assert!(sims.log.uploads().is_empty());
}

#[test]
fn plan_rejects_a_bad_rate_or_price() {
    for args in [&["--link", "fast"][..], &["--vps-price-per-hour=-1"]] {
        let ran = run(
            ferry()
                .args(["plan", "--from", "http://127.0.0.1:1/", "--count", "1"])
                .args(args),
            LIMIT,
        );
        ran.expect_code(2);
        let option = args[0].split('=').next().unwrap();
        assert!(ran.stderr.contains(option), "{ran:?}");
    }
}

#[test]
fn dry_run_lists_names_destinations_and_sizes_without_copying() {
    let sims = Sims::small(1000, 100_000);
    let dir = tempdir();
    let (path, _, missing) = mixed_manifest(dir.path(), &sims);
    let ran = run(
        ferry()
            .args(["copy", "--dry-run", "--list"])
            .arg(&path)
            .args(["--to", &sims.template()]),
        LIMIT,
    );
    ran.expect_code(0);
    let mut lines: Vec<Vec<&str>> = ran
        .stdout
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    lines.sort_by_key(|l| l[0].parse::<u64>().unwrap());
    assert_eq!(lines.len(), 5, "{ran:?}");
    for (i, line) in lines.iter().take(4).enumerate() {
        let spec = sims.spec(i as u64);
        assert_eq!(line[2], spec.name, "{ran:?}");
        assert_eq!(line[3], format!("{}/{}", sims.destination.url(), spec.name));
        assert_eq!(line[4], spec.size.to_string(), "{ran:?}");
    }
    assert_eq!(lines[4][1], missing);
    assert_eq!(lines[4][4], "?");
    assert!(
        ran.stderr.contains("1 of unknown size; nothing was copied"),
        "{ran:?}"
    );
    assert!(sims.log.uploads().is_empty(), "a dry run uploaded");
}

#[test]
fn dry_run_into_a_reader_that_stops_early_is_not_an_error() {
    let sims = Sims::small(1000, 10_000);
    let dir = tempdir();
    let path = manifest(dir.path(), &sims, 0..2000, "");
    // `| head -n 1`: the pipe closes after the first line.
    let script = format!(
        "{:?} copy --dry-run --list {:?} --to {:?} | head -n 1; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_ferry"),
        path,
        sims.template()
    );
    let ran = run(
        std::process::Command::new("bash").args(["-c", &script]),
        LIMIT,
    );
    ran.expect_code(0);
    assert_eq!(ran.stdout.lines().count(), 1, "{ran:?}");
    assert!(!ran.stderr.contains("Broken pipe"), "{ran:?}");
    assert!(ran.stderr.contains("closed early"), "{ran:?}");
    assert!(sims.log.uploads().is_empty(), "a dry run uploaded");
}

/// Each shard's dry run lists its own share: together, every job exactly once (without
/// the shard filter each would list all 12).
#[test]
fn dry_run_lists_only_this_shards_jobs() {
    let sims = Sims::small(1000, 10_000);
    let dir = tempdir();
    let path = manifest(dir.path(), &sims, 0..12, "");
    let mut seen = Vec::new();
    for k in 0..2 {
        let ran = run(
            ferry()
                .args(["copy", "--dry-run", "--list"])
                .arg(&path)
                .args(["--to", &sims.template(), "--shard", &format!("{k}/2")]),
            LIMIT,
        );
        ran.expect_code(0);
        let lines: Vec<String> = ran
            .stdout
            .lines()
            .map(|l| l.split('\t').nth(1).unwrap().to_string())
            .collect();
        seen.extend(lines);
    }
    seen.sort();
    let mut all: Vec<String> = (0..12)
        .map(|i| format!("{}/files/{i}", sims.source.url()))
        .collect();
    all.sort();
    assert_eq!(seen, all);
}

/// HEAD does not use up a document-mode file: the copy after the dry run still gets
/// files 0, 1, 2.
#[test]
fn dry_run_in_document_mode_uses_no_file_up() {
    let sims = Sims::small(1000, 100_000);
    let from = format!("{}/", sims.source.url());
    let ran = run(
        ferry()
            .args(["copy", "--dry-run", "--from", &from, "--count", "3"])
            .args(["--to", &sims.template()]),
        LIMIT,
    );
    ran.expect_code(0);
    assert_eq!(ran.stdout.lines().count(), 3, "{ran:?}");
    assert!(sims.log.uploads().is_empty());
    run(
        ferry()
            .args(["copy", "--from", &from, "--count", "3"])
            .args(["--to", &sims.template()]),
        LIMIT,
    )
    .expect_code(0);
    sims.assert_received(3);
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["man"],
    ] {
        let ran = run(ferry().args(args), LIMIT);
        ran.expect_code(0);
        assert!(ran.stdout.len() > 200, "{ran:?}");
        assert!(ran.stdout.contains("copy"), "{ran:?}");
        assert!(ran.stdout.contains("plan"), "{ran:?}");
    }
    let ran = run(ferry().args(["completions", "tcsh"]), LIMIT);
    ran.expect_code(2);
    // Each subcommand has its own page, with its options.
    let ran = run(ferry().args(["man", "copy"]), LIMIT);
    ran.expect_code(0);
    assert!(ran.stdout.contains("ferry\\-copy"), "{ran:?}");
    for option in ["workers", "journal", "resume", "stall\\-timeout"] {
        assert!(ran.stdout.contains(option), "{option} missing: {ran:?}");
    }
    expect_usage_error(&["man", "nosuch"], "no subcommand \"nosuch\"");
}
