//! What ferry sends to real services, checked on the server that receives it (the
//! recorder in tests/util): extra headers per side, credentials never following a
//! redirect to another host, form uploads with an exact length, content types, and
//! secrets kept out of messages and the journal.

use std::sync::Arc;

use crate::util::recorder::{Recorder, Reply, Request};
use crate::util::*;

const SECRET: &str = "Bearer s3cret-token-42";
const BODY: &[u8] = b"the file's bytes\x00\xff and more";

/// A source answering every GET with [`BODY`] (typed image/png), and a destination
/// answering 201 to everything.
fn pair() -> (Recorder, Recorder) {
    let src = Recorder::start("127.0.0.1", |_| {
        Reply::ok(BODY).with_header("Content-Type", "image/png")
    });
    let dst = Recorder::start("127.0.0.1", |_| Reply {
        status: 201,
        headers: vec![],
        body: vec![],
    });
    (src, dst)
}

fn uploads(dst: &Recorder) -> Vec<Request> {
    dst.requests()
        .into_iter()
        .filter(|r| r.method == "POST" || r.method == "PUT")
        .collect()
}

#[test]
fn headers_per_side_come_from_env_and_files_and_stay_secret() {
    let dir = tempdir();
    let (src, dst) = pair();
    let token_file = dir.path().join("dst-token");
    std::fs::write(&token_file, "Bearer from-a-file\n").unwrap();
    let journal_path = dir.path().join("j.jsonl");
    let ran = run(
        ferry()
            .env("FERRY_TEST_TOKEN", SECRET)
            .args(["copy", "--from", &format!("{}/a/f.bin", src.url())])
            .args([
                "--count",
                "1",
                "--to",
                &format!("{}/up/{{name}}", dst.url()),
            ])
            .args(["--src-header", "Authorization: env:FERRY_TEST_TOKEN"])
            .args(["--src-header", "X-Extra: plain"])
            .arg("--dst-header")
            .arg(format!("Authorization: @{}", token_file.display()))
            .args(["-v", "--journal"])
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(0);
    let got = &src.requests()[0];
    assert_eq!(got.header("authorization"), Some(SECRET));
    assert_eq!(got.header("x-extra"), Some("plain"));
    let up = &uploads(&dst)[0];
    assert_eq!(up.header("authorization"), Some("Bearer from-a-file"));
    assert_eq!(
        up.header("x-extra"),
        None,
        "source headers must not reach the destination"
    );
    assert_eq!(up.body, BODY);
    let journal_text = std::fs::read_to_string(&journal_path).unwrap();
    for text in [&ran.stderr, &ran.stdout, &journal_text] {
        assert!(
            !text.contains("s3cret") && !text.contains("from-a-file"),
            "{text}"
        );
    }
}

#[test]
fn url_passwords_stay_out_of_messages_and_the_journal() {
    let dir = tempdir();
    let src = Recorder::start("127.0.0.1", |_| Reply {
        status: 404,
        headers: vec![],
        body: vec![],
    });
    let journal_path = dir.path().join("j.jsonl");
    let src_url = format!("http://me:hunter2@{}/f.bin", src.addr);
    let ran = run(
        ferry()
            .args(["copy", "--from", &src_url, "--count", "1"])
            .args(["--to", "http://u:pa55word@127.0.0.1:9/x", "--journal"])
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(1);
    // ureq sends the userinfo as Basic auth to the source.
    assert!(src.requests()[0].header("authorization").is_some());
    let journal_text = std::fs::read_to_string(&journal_path).unwrap();
    for text in [&ran.stderr, &journal_text] {
        assert!(
            !text.contains("hunter2") && !text.contains("pa55word"),
            "{text}"
        );
        assert!(text.contains("me:***@"), "{text}");
    }
}

/// A source on 127.0.0.1 redirecting to `location(final)`, the final server on
/// `final_ip`; returns what the final server received.
fn redirected(
    final_ip: &str,
    location: impl Fn(&Recorder) -> String,
) -> (Vec<Request>, Vec<Request>) {
    let target = Recorder::start(final_ip, |_| Reply::ok(BODY));
    let to = location(&target);
    let to = Arc::new(to);
    let src = {
        let to = to.clone();
        Recorder::start("127.0.0.1", move |_| Reply::redirect(302, &to))
    };
    let (_, dst) = pair();
    let ran = run(
        ferry()
            .env("FERRY_TEST_TOKEN", SECRET)
            .args(["copy", "--from", &format!("{}/start", src.url())])
            .args(["--count", "1", "--to", &format!("{}/up/x", dst.url())])
            .args(["--src-header", "Authorization: env:FERRY_TEST_TOKEN"])
            .args(["--src-header", "Cookie: session=s3cret"])
            .args(["--src-header", "Proxy-Authorization: Basic s3cret"])
            .args(["--src-header", "X-Api-Key: s3cret"]),
        LIMIT,
    );
    ran.expect_code(0);
    assert_eq!(uploads(&dst)[0].body, BODY, "{ran:?}");
    // The first hop got the credentials: it is the host they were given for.
    assert_eq!(src.requests()[0].header("authorization"), Some(SECRET));
    (src.requests(), target.requests())
}

fn assert_no_credentials(requests: &[Request]) {
    assert!(!requests.is_empty());
    for request in requests {
        for name in [
            "authorization",
            "cookie",
            "proxy-authorization",
            "x-api-key",
        ] {
            assert_eq!(request.header(name), None, "{name} leaked: {request:?}");
        }
    }
}

#[test]
fn redirect_to_another_host_carries_no_credentials() {
    let (_, received) = redirected("127.0.0.2", |t| format!("{}/file.bin", t.url()));
    assert_no_credentials(&received);
}

#[test]
fn scheme_relative_redirect_counts_as_another_host() {
    let (_, received) = redirected("127.0.0.2", |t| format!("//{}/file.bin", t.addr));
    assert_no_credentials(&received);
}

#[test]
fn redirect_to_another_port_of_the_same_host_carries_no_credentials() {
    let (_, received) = redirected("127.0.0.1", |t| format!("{}/file.bin", t.url()));
    assert_no_credentials(&received);
}

#[test]
fn same_origin_redirect_keeps_the_headers() {
    let src = Recorder::start("127.0.0.1", |r| {
        if r.path == "/start" {
            Reply::redirect(301, "/real/file.bin")
        } else {
            Reply::ok(BODY)
        }
    });
    let (_, dst) = pair();
    run(
        ferry()
            .env("FERRY_TEST_TOKEN", SECRET)
            .args(["copy", "--from", &format!("{}/start", src.url())])
            .args([
                "--count",
                "1",
                "--to",
                &format!("{}/up/{{name}}", dst.url()),
            ])
            .args(["--src-header", "Authorization: env:FERRY_TEST_TOKEN"]),
        LIMIT,
    )
    .expect_code(0);
    let requests = src.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, "/real/file.bin");
    assert_eq!(requests[1].header("authorization"), Some(SECRET));
    // The name comes from the final URL.
    assert_eq!(uploads(&dst)[0].path, "/up/file.bin");
}

#[test]
fn redirect_loops_stop_after_the_limit() {
    let src = Recorder::start("127.0.0.1", |_| Reply::redirect(302, "/again"));
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/start", src.url())])
            .args(["--count", "1", "--to", "http://127.0.0.1:9/x"]),
        LIMIT,
    );
    ran.expect_code(1);
    assert!(ran.stderr.contains("too many redirects"), "{ran:?}");
    assert_eq!(
        src.requests().len(),
        11,
        "the first request and 10 redirects"
    );
}

/// Parses `body` as multipart/form-data with Python's `email` package (a parser nobody
/// here wrote) and returns `field name, file name, part content type, bytes (hex)`.
fn parse_form(content_type: &str, body: &[u8]) -> Vec<String> {
    let dir = tempdir();
    let path = dir.path().join("body");
    let mut message = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
    message.extend_from_slice(body);
    std::fs::write(&path, message).unwrap();
    let script = "import sys, email, email.policy\n\
        m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.HTTP)\n\
        parts = list(m.iter_parts())\n\
        assert len(parts) == 1, len(parts)\n\
        p = parts[0]\n\
        print(p.get_param('name', header='content-disposition'))\n\
        print(p.get_filename())\n\
        print(p.get_content_type())\n\
        print(p.get_payload(decode=True).hex())\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("python3 is needed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn form_field_uploads_multipart_with_an_exact_length() {
    let (src, dst) = pair();
    run(
        ferry()
            .args([
                "copy",
                "--from",
                &format!("{}/dir/photo%20one.png", src.url()),
            ])
            .args(["--count", "1", "--to", &format!("{}/upload", dst.url())])
            .args(["--form-field", "attachment", "--keep-content-type"]),
        LIMIT,
    )
    .expect_code(0);
    let up = &uploads(&dst)[0];
    assert_eq!(up.header("transfer-encoding"), None, "no chunking");
    let length: usize = up.header("content-length").unwrap().parse().unwrap();
    assert_eq!(length, up.body.len());
    let content_type = up.header("content-type").unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let parsed = parse_form(content_type, &up.body);
    assert_eq!(
        parsed,
        ["attachment", "photo one.png", "image/png", &hex(BODY)],
        "field, file name, part type, bytes"
    );
}

#[test]
fn content_type_is_octet_stream_unless_told() {
    let (src, dst) = pair();
    let copy = |args: &[&str]| {
        run(
            ferry()
                .args(["copy", "--from", &format!("{}/f", src.url())])
                .args(["--count", "1", "--to", &format!("{}/up", dst.url())])
                .args(args),
            LIMIT,
        )
        .expect_code(0);
    };
    copy(&[]);
    copy(&["--content-type", "text/csv"]);
    copy(&["--keep-content-type"]);
    let types: Vec<_> = uploads(&dst)
        .iter()
        .map(|u| u.header("content-type").unwrap().to_owned())
        .collect();
    assert_eq!(types, ["application/octet-stream", "text/csv", "image/png"]);
}

#[test]
fn bad_headers_and_tls_files_are_usage_errors_that_keep_values_secret() {
    let dir = tempdir();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "garbage").unwrap();
    let not_pem = not_pem.to_str().unwrap();
    for (extra, expected) in [
        (["--src-header", "Authorization Bearer s3cret"], "no `:`"),
        (
            ["--dst-header", "Bad Name: s3cret"],
            "not a valid header name",
        ),
        (
            ["--src-header", "Authorization: env:FERRY_TEST_UNSET_VAR"],
            "FERRY_TEST_UNSET_VAR is not set",
        ),
        (
            ["--dst-header", "Authorization: @/nonexistent/ferry-token"],
            "cannot read /nonexistent/ferry-token",
        ),
        (["--ca-cert", not_pem], "no PEM certificate"),
        (
            ["--ca-cert", "/nonexistent/ca.pem"],
            "cannot read /nonexistent/ca.pem",
        ),
        (["--content-type", "a\u{7f}b"], "--content-type"),
        (
            ["--dst-header", "Content-Type: text/s3cret"],
            "use --content-type",
        ),
    ] {
        let mut args = vec!["copy", "--from", "http://127.0.0.1:9/", "--count", "1"];
        args.extend(["--to", "http://127.0.0.1:9/x"]);
        args.extend(extra);
        let ran = expect_usage_error(&args, expected);
        assert!(
            !ran.stderr.contains("s3cret"),
            "{args:?} echoed the value: {ran:?}"
        );
    }
}

#[test]
fn src_path_refuses_dot_segments_without_uploading() {
    let dir = tempdir();
    let (src, dst) = pair();
    let list = dir.path().join("list.txt");
    let base = src.url();
    std::fs::write(&list, format!("{base}/a/%2e%2E/b.bin\n{base}/a/ok.bin\n")).unwrap();
    let journal_path = dir.path().join("j.jsonl");
    let ran = run(
        ferry()
            .arg("copy")
            .arg("--list")
            .arg(&list)
            .args([
                "--to",
                &format!("{}/m/{{src_path}}", dst.url()),
                "--journal",
            ])
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(1);
    let lines = journal(&journal_path);
    assert_eq!(count_status(&lines, "done"), 1, "{ran:?}");
    let failed = lines.iter().find(|l| l["status"] == "failed").unwrap();
    assert!(
        failed["error"].as_str().unwrap().contains("`..`"),
        "{failed}"
    );
    let paths: Vec<_> = uploads(&dst).into_iter().map(|u| u.path).collect();
    assert_eq!(paths, ["/m/a/ok.bin"]);
    assert!(!ran.stderr.contains("retrying"), "{ran:?}");
}

#[test]
fn dry_run_probes_send_the_source_headers() {
    let (src, _dst) = pair();
    let ran = run(
        ferry()
            .env("FERRY_TEST_TOKEN", SECRET)
            .args(["copy", "--from", &format!("{}/f.bin", src.url())])
            .args(["--count", "1", "--to", "http://127.0.0.1:9/x", "--dry-run"])
            .args(["--src-header", "Authorization: env:FERRY_TEST_TOKEN"]),
        LIMIT,
    );
    ran.expect_code(0);
    let head = &src.requests()[0];
    assert_eq!(head.method, "HEAD", "{ran:?}");
    assert_eq!(head.header("authorization"), Some(SECRET));
    assert!(ran.stdout.contains(&BODY.len().to_string()), "{ran:?}");
}
