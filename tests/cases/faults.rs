//! Every hostile-server fault of issue 3, one test each, against the simulators'
//! `?fault=` modes: the job ends done with the right bytes at the destination, or
//! failed with a clear reason after the right number of attempts, and a truncated or
//! error body never arrives complete.

use std::time::{Duration, Instant};

use crate::util::*;

/// Small files (2–20 kB).
fn sims() -> Sims {
    Sims::small(2_000, 20_000)
}

// ---- source: bodies that end early or lie about their length ----

#[test]
fn truncated_body_is_retried_then_failed_never_uploaded_complete() {
    let sims = sims();
    let copied = sims.copy_one(0, "?fault=truncate", &[]);
    copied.failed(3, "truncated");
    sims.assert_nothing_complete();
    assert_eq!(sims.source.requests(), 3, "every retry re-GETs the source");
}

#[test]
fn reset_mid_body_is_retried_then_failed_never_uploaded_complete() {
    let sims = sims();
    sims.copy_one(1, "?fault=reset", &[]).failed(3, "source");
    sims.assert_nothing_complete();
    assert_eq!(sims.source.requests(), 3);
}

#[test]
fn truncated_body_recovers_on_retry_with_the_whole_file() {
    let sims = sims();
    let copied = sims.copy_one(2, "?fault=truncate&fail_times=1", &[]);
    sims.assert_done(&copied, 2);
    assert_eq!(copied.only()["attempts"], 2);
}

#[test]
fn truncated_body_of_unknown_length_mode_is_not_uploaded_complete() {
    // Chunked upload streaming: the cut must abort the upload, not end it cleanly.
    let sims = sims();
    sims.copy_one(3, "?fault=truncate", &["--unknown-length", "chunked"])
        .failed(3, "truncated");
    sims.assert_nothing_complete();
}

#[test]
fn bytes_beyond_content_length_are_never_forwarded() {
    let sims = sims();
    let copied = sims.copy_one(4, "?fault=extra", &[]);
    sims.assert_done(&copied, 4);
}

#[test]
fn two_different_content_lengths_fail() {
    let sims = sims();
    sims.copy_one(5, "?fault=dup-length", &[])
        .failed(3, "source");
    sims.assert_nothing_complete();
}

#[test]
fn an_invalid_content_length_fails() {
    let sims = sims();
    sims.copy_one(6, "?fault=bad-length", &[])
        .failed(3, "source");
    sims.assert_nothing_complete();
}

#[test]
fn chunked_with_a_content_length_takes_the_chunked_body() {
    // RFC 9112 6.3: Transfer-Encoding overrides Content-Length (here a wrong one);
    // the chunk framing is decoded, never forwarded.
    let sims = sims();
    let copied = sims.copy_one(7, "?fault=chunked-length", &[]);
    sims.assert_done(&copied, 7);
}

#[test]
fn chunked_body_cut_before_its_last_chunk_fails() {
    let sims = sims();
    sims.copy_one(8, "?fault=chunked-cut", &[])
        .failed(3, "source");
    sims.assert_nothing_complete();
    let sims = Sims::small(2_000, 20_000);
    sims.copy_one(8, "?fault=chunked-cut", &["--unknown-length", "chunked"])
        .failed(3, "source");
    sims.assert_nothing_complete();
}

#[test]
fn a_bad_chunk_size_line_fails() {
    let sims = sims();
    sims.copy_one(9, "?fault=bad-chunk", &[])
        .failed(3, "source");
    sims.assert_nothing_complete();
}

#[test]
fn close_delimited_http10_body_arrives_whole() {
    let sims = sims();
    let copied = sims.copy_one(10, "?length=0", &[]);
    sims.assert_done(&copied, 10);
}

#[test]
fn gzip_content_encoding_is_copied_as_stored() {
    let sims = sims();
    let copied = sims.copy_one(11, "?fault=gzip", &[]);
    sims.assert_done(&copied, 11);
}

// ---- source: silence and trickles ----

#[test]
fn headers_then_silence_times_out_and_fails() {
    let sims = sims();
    sims.copy_one(12, "?fault=silence", &[])
        .failed(3, "timed out");
    sims.assert_nothing_complete();
    assert_eq!(sims.source.requests(), 3);
}

#[test]
fn no_response_head_at_all_times_out_and_fails() {
    let sims = sims();
    sims.copy_one(13, "?fault=no-head", &[])
        .failed(3, "timed out");
    sims.assert_nothing_complete();
}

#[test]
fn a_trickle_is_cut_by_max_time_and_fails() {
    let sims = sims();
    sims.copy_one(14, "?fault=trickle", &["--max-time", "700ms"])
        .failed(3, "timed out");
    sims.assert_nothing_complete();
}

#[test]
fn a_slow_but_moving_source_succeeds() {
    // 16 bytes every 100 ms, with a 300 ms stall timeout: slow, never stalled.
    let sims = Sims::small(100, 160);
    let copied = sims.copy_one(0, "?fault=trickle", &[]);
    sims.assert_done(&copied, 0);
}

// ---- source: statuses ----

#[test]
fn server_errors_and_429_are_retried_until_the_source_recovers() {
    let sims = sims();
    for (i, code) in [500, 502, 503, 504, 429].into_iter().enumerate() {
        let i = i as u64;
        let copied = sims.copy_one(i, &format!("?fault=status:{code}&fail_times=2"), &[]);
        sims.assert_done(&copied, i);
        assert_eq!(copied.only()["attempts"], 3, "{code}");
    }
}

#[test]
fn server_errors_that_never_recover_fail_after_the_retries() {
    let sims = sims();
    let copied = sims.copy_one(0, "?fault=status:503", &[]);
    copied.failed(3, "503");
    assert!(sims.log.uploads().is_empty(), "an error page was uploaded");
}

#[test]
fn retry_after_seconds_and_http_date_are_honoured() {
    let sims = sims();
    for (i, retry_after) in ["1", "date:1"].into_iter().enumerate() {
        let i = i as u64;
        let started = Instant::now();
        let query = format!("?fault=status:503&fail_times=1&retry_after={retry_after}");
        let copied = sims.copy_one(i, &query, &["--max-backoff", "5s"]);
        sims.assert_done(&copied, i);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "Retry-After {retry_after} was not waited for"
        );
    }
}

#[test]
fn retry_after_is_capped_by_max_backoff() {
    let sims = sims();
    // An hour's Retry-After, capped at 50 ms: the run ends within the test's limit.
    let copied = sims.copy_one(0, "?fault=status:503&fail_times=1&retry_after=3600", &[]);
    sims.assert_done(&copied, 0);
}

#[test]
fn client_errors_fail_after_one_request_and_are_never_uploaded() {
    for code in [404, 403, 410] {
        let sims = sims();
        sims.copy_one(0, &format!("?fault=status:{code}"), &[])
            .failed(1, &code.to_string());
        assert_eq!(sims.source.requests(), 1, "{code} was retried");
        assert!(
            sims.log.uploads().is_empty(),
            "the {code} page was uploaded"
        );
    }
}

// ---- source: redirects ----

#[test]
fn a_redirect_chain_is_followed() {
    let sims = sims();
    let copied = sims.copy_one(0, "?fault=redirect:3", &[]);
    sims.assert_done(&copied, 0);
}

#[test]
fn a_redirect_loop_stops_with_too_many_redirects() {
    let sims = sims();
    sims.copy_one(0, "?fault=redirect-loop", &[])
        .failed(1, "too many redirects");
    assert!(sims.log.uploads().is_empty());
}

#[test]
fn a_redirect_without_location_fails() {
    let sims = sims();
    sims.copy_one(0, "?fault=no-location", &[])
        .failed(1, "Location header");
    assert!(sims.log.uploads().is_empty());
}

#[test]
fn a_redirect_to_a_non_http_scheme_is_refused() {
    let sims = sims();
    sims.copy_one(0, "?fault=bad-scheme", &[]).failed(1, "ftp");
    assert!(sims.log.uploads().is_empty());
}

// ---- source: integrity headers ----

#[test]
fn correct_digest_headers_are_checked_and_pass() {
    let sims = sims();
    for (i, kind) in ["content-md5", "md5", "sha-256", "repr", "content"]
        .into_iter()
        .enumerate()
    {
        let i = i as u64;
        let copied = sims.copy_one(i, &format!("?digest={kind}"), &[]);
        sims.assert_done(&copied, i);
    }
}

#[test]
fn a_wrong_digest_header_fails_and_the_upload_is_aborted() {
    for kind in ["content-md5", "md5", "sha-256", "repr", "content"] {
        let sims = sims();
        sims.copy_one(0, &format!("?digest={kind}&fault=bad-digest"), &[])
            .failed(1, "digest");
        sims.assert_nothing_complete();
        // Also through a spool (no length) and a chunked stream.
        let sims = Sims::small(2_000, 20_000);
        let query = format!("?digest={kind}&fault=bad-digest&length=0");
        sims.copy_one(0, &query, &["--unknown-length", "chunked"])
            .failed(1, "digest");
        sims.assert_nothing_complete();
    }
}

#[test]
fn source_digests_are_checked_even_with_no_checksum() {
    let sims = sims();
    sims.copy_one(0, "?digest=repr&fault=bad-digest", &["--no-checksum"])
        .failed(1, "digest");
    sims.assert_nothing_complete();
}

#[test]
fn a_body_growing_past_the_manifest_size_is_cut_before_it_completes() {
    let sims = sims();
    let spec = sims.spec(0);
    let line = format!("{}\t\t{}\t", sims.file_url(0, "?length=0"), spec.size / 2);
    for mode in ["chunked", "spool"] {
        let copied = sims.copy(
            std::slice::from_ref(&line),
            &sims.template(),
            &["--unknown-length", mode],
        );
        copied.failed(1, "manifest says");
    }
    sims.assert_nothing_complete();
}

// ---- destination ----

#[test]
fn length_required_is_met_whenever_the_length_is_known() {
    let sims = sims();
    // Known length (Content-Length, or a spooled body): sent, so 411 never happens.
    for (i, query) in [(0, ""), (1, "?length=0")] {
        let copied = sims.copy(
            &[sims.file_url(i, query)],
            &sims.template_with("?fault=require-length"),
            &[],
        );
        sims.assert_done(&copied, i);
    }
}

#[test]
fn length_required_for_a_chunked_upload_fails_clearly_once() {
    let sims = sims();
    let copied = sims.copy(
        &[sims.file_url(0, "?length=0")],
        &sims.template_with("?fault=require-length"),
        &["--unknown-length", "chunked"],
    );
    copied.failed(1, "411");
    assert!(
        copied.ran.stderr.contains("--unknown-length spool"),
        "{:?}",
        copied.ran
    );
    sims.assert_nothing_complete();
}

#[test]
fn an_early_413_or_403_is_reported_as_that_status_and_not_retried() {
    for code in [413, 403] {
        // Bodies far larger than the socket buffers.
        let sims = Sims::small(4 << 20, 4 << 20);
        let copied = sims.copy(
            &[sims.file_url(0, "")],
            &sims.template_with(&format!("?fault=status:{code}")),
            &[],
        );
        copied.failed(1, &format!("HTTP {code}"));
        assert!(
            !copied.only()["error"]
                .as_str()
                .unwrap()
                .contains("roken pipe")
        );
        assert_eq!(sims.destination.requests(), 1);
        sims.assert_nothing_complete();
    }
}

#[test]
fn a_destination_reset_mid_body_is_retried_with_the_full_body() {
    let sims = Sims::small(1 << 20, 2 << 20);
    let copied = sims.copy(
        &[sims.file_url(0, "")],
        &sims.template_with("?fault=reset&fail_times=1"),
        &[],
    );
    sims.assert_done(&copied, 0);
    assert_eq!(copied.only()["attempts"], 2);
    assert_eq!(sims.source.requests(), 2, "the retry re-GETs the source");
    assert_eq!(sims.log.uploads().len(), 2, "one cut upload, one complete");
}

#[test]
fn a_destination_500_once_then_ok_is_retried_and_done() {
    let sims = sims();
    let copied = sims.copy(
        &[sims.file_url(0, "")],
        &sims.template_with("?fault=status:500&fail_times=1"),
        &[],
    );
    sims.assert_done(&copied, 0);
    assert_eq!(copied.only()["attempts"], 2);
}

#[test]
fn a_destination_503_with_retry_after_is_waited_for() {
    let sims = sims();
    let started = Instant::now();
    let copied = sims.copy(
        &[sims.file_url(0, "")],
        &sims.template_with("?fault=status:503&fail_times=1&retry_after=1"),
        &["--max-backoff", "5s"],
    );
    sims.assert_done(&copied, 0);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_destination_that_never_reads_times_out() {
    for size in [10_000, 8 << 20] {
        let sims = Sims::small(size, size);
        let copied = sims.copy(
            &[sims.file_url(0, "")],
            &sims.template_with("?fault=no-read"),
            &[],
        );
        copied.failed(3, "timed out");
        sims.assert_nothing_complete();
    }
}

#[test]
fn a_slow_reading_destination_still_gets_everything() {
    let sims = Sims::small(300_000, 400_000);
    let copied = sims.copy(
        &[sims.file_url(0, "")],
        &sims.template_with("?fault=slow-read"),
        &[],
    );
    sims.assert_done(&copied, 0);
}

#[test]
fn expect_100_continue_ignored_or_refused_does_not_break_uploads() {
    let sims = sims();
    for (i, fault) in [(0, "expect-ignore"), (1, "expect-417")] {
        let copied = sims.copy(
            &[sims.file_url(i, "")],
            &sims.template_with(&format!("?fault={fault}")),
            &[],
        );
        sims.assert_done(&copied, i);
    }
}

#[test]
fn a_redirected_upload_fails_clearly_and_never_becomes_a_get_or_empty_post() {
    for code in [301, 302, 303, 307, 308] {
        for method in ["post", "put"] {
            let sims = sims();
            let copied = sims.copy(
                &[sims.file_url(0, "")],
                &sims.template_with(&format!("?fault=redirect:{code}")),
                &["--method", method],
            );
            copied.failed(1, &format!("HTTP {code}"));
            // Only the one refused upload reached the destination: no GET, no empty
            // POST or PUT to the new location.
            assert_eq!(sims.destination.requests(), 1, "{code} {method}");
            assert!(sims.log.uploads().is_empty(), "{code} {method}");
        }
    }
}

#[test]
fn a_refused_connection_on_either_side_is_retried_then_failed() {
    let sims = sims();
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let copied = sims.copy(&[format!("{nobody}/f")], &sims.template(), &[]);
    copied.failed(3, "source");
    let copied = sims.copy(&[sims.file_url(0, "")], &format!("{nobody}/{{name}}"), &[]);
    copied.failed(3, "destination");
    assert_eq!(sims.source.requests(), 3, "each attempt re-GETs the source");
}

// ---- names ----

#[test]
fn two_sources_with_one_src_path_do_not_overwrite_each_other() {
    // Two servers, the same path, different bytes: `{src_path}` gives one URL for both,
    // and the name is not in it, so no rename can help. The second must fail clearly.
    let sims = sims();
    let other = ferry::sim::serve_source(
        loopback(),
        ferry::sim::SourceOptions {
            seed: 99,
            ..sims.source_opts.clone()
        },
    )
    .unwrap();
    let lines = vec![sims.file_url(1, ""), format!("{}/files/1", other.url())];
    let template = format!("{}/col/{{src_path}}", sims.destination.url());
    let copied = sims.copy(&lines, &template, &["-j", "1"]);
    copied.ran.expect_code(1);
    assert_eq!(count_status(&copied.lines, "done"), 1, "{:?}", copied.ran);
    let failed = copied
        .lines
        .iter()
        .find(|l| l["status"] == "failed")
        .expect("one failed line");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("already uploads to"), "{error}");
    assert_eq!(failed["attempts"], 1, "a conflict is not retried");
    // Exactly one complete upload: the first job's bytes, not overwritten.
    let complete = sims.log.complete();
    assert_eq!(complete.len(), 1, "{complete:?}");
    let done = copied.lines.iter().find(|l| l["status"] == "done").unwrap();
    assert_eq!(done["sha256"], complete[0].sha256.as_str());
}

#[test]
fn two_jobs_with_the_same_name_do_not_overwrite_each_other() {
    let sims = sims();
    let lines: Vec<String> = (0..3)
        .map(|i| format!("{}\tsame.bin", sims.file_url(i, "")))
        .collect();
    let copied = sims.copy(&lines, &sims.template(), &["-j", "3"]);
    copied.ran.expect_code(0);
    let mut names: Vec<String> = sims.log.complete().into_iter().map(|u| u.name).collect();
    names.sort();
    assert_eq!(names, ["same (1).bin", "same (2).bin", "same.bin"]);
    let mut journaled: Vec<&str> = copied
        .lines
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    journaled.sort();
    assert_eq!(journaled, ["same (1).bin", "same (2).bin", "same.bin"]);
    assert!(copied.ran.stderr.contains("renamed"), "{:?}", copied.ran);
    // Each file's bytes went to the name its journal line gives.
    for line in &copied.lines {
        let upload = sims
            .log
            .complete()
            .into_iter()
            .find(|u| line["name"] == u.name.as_str())
            .unwrap();
        assert_eq!(line["sha256"], upload.sha256.as_str());
    }
}

#[test]
fn the_same_job_keeps_its_name_across_retries() {
    let sims = sims();
    let lines = vec![
        format!(
            "{}\tx.bin",
            sims.file_url(0, "?fault=truncate&fail_times=1")
        ),
        format!("{}\ty.bin", sims.file_url(1, "")),
    ];
    let copied = sims.copy(&lines, &sims.template(), &[]);
    copied.ran.expect_code(0);
    let mut names: Vec<String> = sims.log.complete().into_iter().map(|u| u.name).collect();
    names.sort();
    assert_eq!(names, ["x.bin", "y.bin"]);
}
