//! Tests that talk to running simulators over loopback TCP, with a raw HTTP client
//! (to see exact framing) and with ureq (to check a real client copes).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;

/// Upper bound for any single socket wait in these tests.
const TIMEOUT: Duration = Duration::from_secs(10);

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().expect("a literal socket address")
}

fn small_source(no_length: bool) -> (Server, SourceOptions) {
    let opts = SourceOptions {
        min_size: 1000,
        max_size: 300_000,
        seed: 42,
        no_length,
    };
    (serve_source(local(), opts.clone()).unwrap(), opts)
}

fn destination(opts: DestinationOptions) -> (Server, DestinationLog) {
    serve_destination(local(), opts).unwrap()
}

/// A response as read off the wire.
#[derive(Debug)]
struct Response {
    version: u8,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    fn sha256(&self) -> String {
        digest::hex(&digest::sha256_of(self.body.as_slice()).unwrap())
    }
}

/// A raw HTTP/1.x client on one connection.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(server: &Server) -> Client {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).unwrap();
    }

    /// Reads a response head, then its body by `Content-Length`, or to EOF if it has
    /// none (`head_only`: no body at all).
    fn response(&mut self, head_only: bool) -> Response {
        let mut raw = Vec::new();
        while !raw.ends_with(b"\r\n\r\n") {
            let n = self.reader.read_until(b'\n', &mut raw).unwrap();
            assert!(n > 0, "connection closed in a response head: {raw:?}");
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        assert!(parsed.parse(&raw).unwrap().is_complete());
        let mut response = Response {
            version: parsed.version.unwrap(),
            status: parsed.code.unwrap(),
            headers: (parsed.headers.iter())
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            body: Vec::new(),
        };
        let length = response
            .header("content-length")
            .map(|v| v.parse::<u64>().unwrap());
        if head_only || response.status < 200 {
            return response;
        }
        match length {
            Some(n) => (&mut self.reader).take(n).read_to_end(&mut response.body),
            None => self.reader.read_to_end(&mut response.body),
        }
        .unwrap();
        response
    }

    fn request(&mut self, method: &str, path: &str) -> Response {
        self.send(format!("{method} {path} HTTP/1.1\r\nHost: sim\r\n\r\n").as_bytes());
        self.response(method == "HEAD")
    }

    /// Whether the server has closed the connection (EOF on the next read).
    fn at_eof(&mut self) -> bool {
        matches!(self.reader.read(&mut [0; 1]), Ok(0))
    }
}

fn disposition(file: &FileSpec) -> String {
    format!("attachment; filename=\"{}\"", file.name)
}

#[test]
fn same_file_twice_is_identical_and_matches_expected_sha() {
    let (server, opts) = small_source(false);
    let file = FileSpec::new(&opts, 3);
    let mut client = Client::connect(&server);
    let first = client.request("GET", "/files/3");
    let second = client.request("GET", "/files/3");
    assert_eq!(first.status, 200);
    assert_eq!(first.body.len() as u64, file.size);
    assert_eq!(first.body, second.body);
    assert_eq!(
        first.sha256(),
        source::expected_sha256(opts.seed, 3, file.size)
    );
    assert_eq!(
        first.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        first.header("content-disposition"),
        Some(disposition(&file).as_str())
    );
}

#[test]
fn other_paths_serve_a_new_file_per_request_in_order() {
    let (server, opts) = small_source(false);
    let mut client = Client::connect(&server);
    for i in 0..4 {
        let response = client.request("GET", "/");
        let file = FileSpec::new(&opts, i);
        assert_eq!(
            response.header("content-disposition"),
            Some(disposition(&file).as_str())
        );
        assert_eq!(response.sha256(), file.sha256(opts.seed));
    }
    let fifth = client.request("GET", "/anything/else");
    assert_eq!(fifth.sha256(), FileSpec::new(&opts, 4).sha256(opts.seed));
}

#[test]
fn no_length_mode_is_http10_and_close_delimited() {
    let (server, opts) = small_source(true);
    let file = FileSpec::new(&opts, 1);
    let mut client = Client::connect(&server);
    let response = client.request("GET", "/files/1");
    assert_eq!((response.version, response.status), (0, 200));
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.body.len() as u64, file.size, "read to EOF");
    assert_eq!(response.sha256(), file.sha256(opts.seed));

    let forced = Client::connect(&server).request("GET", "/files/1?length=1");
    assert_eq!(forced.version, 1);
    assert_eq!(
        forced.header("content-length"),
        Some(file.size.to_string().as_str())
    );
}

#[test]
fn length_zero_query_switches_one_request_to_close_delimited() {
    let (server, opts) = small_source(false);
    let mut client = Client::connect(&server);
    let response = client.request("GET", "/files/0?length=0");
    assert_eq!(
        (response.version, response.header("content-length")),
        (0, None)
    );
    assert_eq!(response.sha256(), FileSpec::new(&opts, 0).sha256(opts.seed));
}

#[test]
fn keep_alive_serves_three_requests_on_one_connection() {
    let (server, _) = small_source(false);
    let mut client = Client::connect(&server);
    for i in 0..3 {
        assert_eq!(client.request("GET", &format!("/files/{i}")).status, 200);
    }
    assert_eq!((server.connections(), server.requests()), (1, 3));
}

#[test]
fn head_describes_the_next_file_without_using_it_up() {
    let (server, opts) = small_source(false);
    let mut client = Client::connect(&server);
    let head = client.request("HEAD", "/");
    let file = FileSpec::new(&opts, 0);
    assert_eq!(
        head.header("content-length"),
        Some(file.size.to_string().as_str())
    );
    assert_eq!(
        head.header("content-disposition"),
        Some(disposition(&file).as_str())
    );
    let get = client.request("GET", "/");
    assert_eq!(
        get.header("content-disposition"),
        Some(disposition(&file).as_str())
    );
}

#[test]
fn uploads_to_the_source_are_forbidden() {
    let (server, _) = small_source(false);
    let mut client = Client::connect(&server);
    client.send(b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    let response = client.response(false);
    assert_eq!(
        (response.status, response.body.as_slice()),
        (403, &b"Unsupported."[..])
    );
}

#[test]
fn truncate_fault_announces_the_length_then_closes_halfway() {
    let (server, opts) = small_source(false);
    let file = FileSpec::new(&opts, 5);
    let mut client = Client::connect(&server);
    client.send(b"GET /files/5?fault=truncate HTTP/1.1\r\n\r\n");
    let response = client.response(true);
    assert_eq!(
        response.header("content-length"),
        Some(file.size.to_string().as_str())
    );
    let mut body = Vec::new();
    client.reader.read_to_end(&mut body).unwrap();
    assert_eq!(body.len() as u64, file.size / 2);
}

/// Sends one GET and reads everything until the server closes.
fn raw_get(server: &Server, target: &str) -> Vec<u8> {
    let mut client = Client::connect(server);
    client.send(
        format!("GET {target} HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut raw = Vec::new();
    let _ = client.reader.read_to_end(&mut raw);
    raw
}

/// Splits a raw response into its head (as text) and its body bytes.
fn split_raw(raw: &[u8]) -> (String, &[u8]) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    (
        String::from_utf8_lossy(&raw[..end]).into_owned(),
        &raw[end + 4..],
    )
}

#[test]
fn framing_faults_put_the_promised_lies_on_the_wire() {
    let (server, opts) = small_source(false);
    let file = FileSpec::new(&opts, 1);
    let mut content = Vec::new();
    file.content(opts.seed).read_to_end(&mut content).unwrap();

    let raw = raw_get(&server, "/files/1?fault=extra");
    let (head, body) = split_raw(&raw);
    assert!(
        head.contains(&format!("Content-Length: {}", file.size)),
        "{head}"
    );
    assert_eq!(&body[..content.len()], &content[..]);
    assert_eq!(body.len(), content.len() + 1000);

    let (head, _) = split_raw(&raw_get(&server, "/files/1?fault=dup-length"));
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", file.size)),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", file.size + 1)),
        "{head}"
    );

    let (head, _) = split_raw(&raw_get(&server, "/files/1?fault=bad-length"));
    assert!(head.contains("Content-Length: 12abc"), "{head}");

    let raw = raw_get(&server, "/files/1?fault=chunked-length");
    let (head, body) = split_raw(&raw);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}", file.size / 2)),
        "{head}"
    );
    let mut decoded = Vec::new();
    chunked::ChunkedReader::new(body)
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, content);

    let raw = raw_get(&server, "/files/1?fault=chunked-cut");
    let mut cut = Vec::new();
    let err = chunked::ChunkedReader::new(split_raw(&raw).1).read_to_end(&mut cut);
    assert!(err.is_err() && cut.len() < content.len(), "{}", cut.len());

    let raw = raw_get(&server, "/files/1?fault=bad-chunk");
    assert!(raw.ends_with(b"zz\r\n"));

    let raw = raw_get(&server, "/files/1?fault=gzip");
    let (head, body) = split_raw(&raw);
    assert!(head.contains("Content-Encoding: gzip"), "{head}");
    assert_eq!(body, &content[..]);
}

#[test]
fn digest_headers_describe_the_body_unless_told_to_lie() {
    let (server, opts) = small_source(false);
    let file = FileSpec::new(&opts, 2);
    let mut client = Client::connect(&server);
    let good = client.request("GET", "/files/2?digest=sha-256");
    let sha = STANDARD.decode(
        good.header("digest")
            .and_then(|v| v.strip_prefix("SHA-256="))
            .unwrap(),
    );
    assert_eq!(digest::hex(&sha.unwrap()), file.sha256(opts.seed));
    let bad = client.request("GET", "/files/2?digest=repr&fault=bad-digest");
    let repr = bad.header("repr-digest").unwrap();
    assert!(
        repr.starts_with("sha-256=:") && repr.ends_with(':'),
        "{repr}"
    );
    let sha = STANDARD.decode(&repr[9..repr.len() - 1]).unwrap();
    assert_ne!(digest::hex(&sha), file.sha256(opts.seed));
    assert_eq!(
        bad.sha256(),
        file.sha256(opts.seed),
        "the body itself is right"
    );
}

#[test]
fn fail_times_lets_the_same_url_recover() {
    let (server, _) = small_source(false);
    let mut client = Client::connect(&server);
    let target = "/files/0?fault=status:503&fail_times=2&retry_after=4";
    let first = client.request("GET", target);
    assert_eq!(
        (first.status, first.header("retry-after")),
        (503, Some("4"))
    );
    assert_eq!(client.request("GET", target).status, 503);
    assert_eq!(client.request("GET", target).status, 200);
    assert_eq!(
        client
            .request("GET", "/files/1?fault=status:503&fail_times=2")
            .status,
        503
    );
}

#[test]
fn destination_faults_refuse_redirect_or_cut_uploads() {
    let (server, log) = destination(DestinationOptions::default());
    let mut client = Client::connect(&server);
    client.send(b"PUT /a?fault=redirect:307 HTTP/1.1\r\nHost: sim\r\nContent-Length: 5\r\n\r\n");
    let response = client.response(false);
    assert_eq!(response.status, 307);
    assert_eq!(response.header("location"), Some("http://sim/a"));

    let mut client = Client::connect(&server);
    client.send(b"PUT /b?fault=status:413 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(client.response(false).status, 413);

    let mut client = Client::connect(&server);
    client.send(b"PUT /c?fault=reset HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello");
    let mut rest = Vec::new();
    let _ = client.reader.read_to_end(&mut rest);
    assert!(rest.is_empty(), "no answer to a reset upload");
    assert!(log.wait_for(1, TIMEOUT));
    let uploads = log.uploads();
    assert_eq!(
        uploads.len(),
        1,
        "refused uploads are not recorded: {uploads:?}"
    );
    assert_eq!((uploads[0].name.as_str(), uploads[0].bytes), ("c", 5));
    assert!(!uploads[0].complete);

    let mut client = Client::connect(&server);
    client.send(
        b"PUT /d?fault=expect-417 HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(client.response(false).status, 417);
}

#[test]
fn status_fault_answers_that_status_and_keeps_the_connection() {
    let (server, _) = small_source(false);
    let mut client = Client::connect(&server);
    let response = client.request("GET", "/files/0?fault=status:503");
    assert_eq!(response.status, 503);
    assert_eq!(response.body, b"simulated 503 Service Unavailable\n");
    assert_eq!(client.request("GET", "/files/0?fault=explode").status, 400);
    assert_eq!(client.request("GET", "/files/0").status, 200);
}

#[test]
fn redirect_fault_chains_down_to_the_file() {
    let (server, opts) = small_source(false);
    let mut client = Client::connect(&server);
    let first = client.request("GET", "/files/2?x=1&fault=redirect:2");
    assert_eq!(first.status, 302);
    assert_eq!(
        first.header("location"),
        Some("http://sim/files/2?x=1&fault=redirect:1")
    );
    let second = client.request("GET", "/files/2?x=1&fault=redirect:1");
    assert_eq!(second.header("location"), Some("http://sim/files/2?x=1"));
    let last = client.request("GET", "/files/2?x=1");
    assert_eq!(last.sha256(), FileSpec::new(&opts, 2).sha256(opts.seed));
}

#[test]
fn records_a_content_length_upload_with_its_sha() {
    let (server, log) = destination(DestinationOptions::default());
    let body = vec![7u8; 100_000];
    let mut client = Client::connect(&server);
    client.send(b"PUT /dir/some%20name.bin HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    client.send(&body);
    assert_eq!(client.response(false).status, 201);
    client.send(b"POST /second HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(client.response(false).status, 200);
    let uploads = log.uploads();
    assert_eq!(uploads.len(), 2);
    let first = &uploads[0];
    assert_eq!(first.name, "dir/some name.bin");
    assert_eq!(first.path, "/dir/some%20name.bin");
    assert_eq!((first.method.as_str(), first.bytes), ("PUT", 100_000));
    assert_eq!(
        (first.declared_length, first.chunked, first.complete),
        (Some(100_000), false, true)
    );
    assert_eq!(
        first.sha256,
        digest::hex(&digest::sha256_of(body.as_slice()).unwrap())
    );
    assert_eq!(server.connections(), 1);
}

#[test]
fn records_a_chunked_upload_with_its_sha() {
    let (server, log) = destination(DestinationOptions::default());
    let mut client = Client::connect(&server);
    client.send(b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    client.send(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n");
    assert_eq!(client.response(false).status, 200);
    let upload = &log.uploads()[0];
    assert_eq!(
        (upload.bytes, upload.chunked, upload.complete),
        (11, true, true)
    );
    assert_eq!(upload.declared_length, None);
    assert_eq!(
        upload.sha256,
        digest::hex(&digest::sha256_of(&b"hello world"[..]).unwrap())
    );
}

#[test]
fn records_an_incomplete_upload_when_the_client_leaves_mid_body() {
    let (server, log) = destination(DestinationOptions::default());
    let mut client = Client::connect(&server);
    client.send(b"PUT /partial HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    client.send(&[1; 400]);
    client.reader.get_ref().shutdown(Shutdown::Both).unwrap();
    assert!(log.wait_for(1, TIMEOUT));
    let upload = &log.uploads()[0];
    assert_eq!((upload.bytes, upload.complete), (400, false));
    assert!(log.complete().is_empty());
}

#[test]
fn malformed_chunking_is_400_and_recorded_incomplete() {
    let (server, log) = destination(DestinationOptions::default());
    let mut client = Client::connect(&server);
    client.send(b"PUT /bad HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n");
    assert_eq!(client.response(true).status, 400);
    let upload = &log.uploads()[0];
    assert_eq!((upload.bytes, upload.complete), (3, false));
}

#[test]
fn require_length_answers_411_to_chunked_uploads() {
    let opts = DestinationOptions {
        require_length: true,
        ..DestinationOptions::default()
    };
    let (server, log) = destination(opts);
    let mut client = Client::connect(&server);
    client.send(b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(client.response(true).status, 411);
    assert!(log.uploads().is_empty());
}

#[test]
fn expect_100_continue_gets_continue_before_the_body() {
    let (server, log) = destination(DestinationOptions::default());
    let mut client = Client::connect(&server);
    client.send(b"PUT /e HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.response(true).status, 100);
    client.send(b"abc");
    assert_eq!(client.response(false).status, 201);
    assert_eq!(log.complete().len(), 1);
}

#[test]
fn stats_and_uploads_endpoints_report_the_log() {
    let (server, log) = destination(DestinationOptions {
        hash: false,
        ..DestinationOptions::default()
    });
    let mut client = Client::connect(&server);
    client.send(b"PUT /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
    assert_eq!(client.response(false).status, 201);
    let stats: serde_json::Value =
        serde_json::from_slice(&client.request("GET", "/_stats").body).unwrap();
    assert_eq!(
        stats,
        serde_json::json!({"uploads": 1, "complete": 1, "bytes": 4, "connections": 1})
    );
    let listed: Vec<Upload> =
        serde_json::from_slice(&client.request("GET", "/_uploads").body).unwrap();
    assert_eq!(listed, log.uploads());
    assert_eq!(listed[0].sha256, "", "hashing off");
    assert_eq!(client.request("GET", "/elsewhere").status, 404);
}

#[test]
fn log_file_gets_one_json_line_per_upload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uploads.jsonl");
    let (server, log) = destination(DestinationOptions {
        log_file: Some(path.clone()),
        ..DestinationOptions::default()
    });
    let mut client = Client::connect(&server);
    for name in ["one", "two"] {
        client.send(format!("PUT /{name} HTTP/1.1\r\nContent-Length: 1\r\n\r\nx").as_bytes());
        assert_eq!(client.response(false).status, 201);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Upload> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, log.uploads());
}

#[test]
fn drop_returns_quickly_with_clients_connected() {
    let opts = SourceOptions {
        min_size: 64 << 20,
        max_size: 64 << 20,
        ..SourceOptions::default()
    };
    let source = serve_source(local(), opts).unwrap();
    let (destination, log) = destination(DestinationOptions::default());
    let _idle = Client::connect(&source);
    let mut stalled = Client::connect(&source);
    stalled.send(b"GET /files/0 HTTP/1.1\r\n\r\n");
    assert_eq!(stalled.response(true).status, 200, "body left unread");
    let mut uploading = Client::connect(&destination);
    uploading.send(b"PUT /slow HTTP/1.1\r\nContent-Length: 1000000\r\n\r\nabc");
    thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    drop(source);
    drop(destination);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    // The connection threads have ended: the stalled download hits EOF after what
    // was already in flight, and the upload was recorded as broken.
    let mut rest = Vec::new();
    let read = stalled.reader.read_to_end(&mut rest);
    assert!(read.is_ok() || read.unwrap_err().kind() == ErrorKind::ConnectionReset);
    assert!(rest.len() < 64 << 20);
    assert!(log.wait_for(1, TIMEOUT));
    assert!(!log.uploads()[0].complete);
}

#[test]
fn closes_idle_connections_when_stopped() {
    let (server, _) = small_source(false);
    let mut client = Client::connect(&server);
    assert_eq!(client.request("GET", "/files/0").status, 200);
    server.stop();
    assert!(client.at_eof());
}

#[test]
fn ureq_copies_files_from_source_to_destination() {
    let (source, opts) = small_source(false);
    let (destination, log) = destination(DestinationOptions::default());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    for i in 0..3 {
        let mut response = agent
            .get(format!("{}/files/{i}", source.url()))
            .call()
            .unwrap();
        let mut body = response.body_mut().as_reader();
        let url = format!("{}/copy/{i}", destination.url());
        let put = agent
            .put(url)
            .send(ureq::SendBody::from_reader(&mut body))
            .unwrap();
        assert_eq!(put.status(), 201);
    }
    let uploads = log.complete();
    assert_eq!(uploads.len(), 3);
    for (i, upload) in (0..).zip(&uploads) {
        let file = FileSpec::new(&opts, i);
        assert_eq!(
            (upload.name.as_str(), upload.bytes),
            (format!("copy/{i}").as_str(), file.size)
        );
        assert_eq!(upload.sha256, file.sha256(opts.seed));
    }
    // The agent reuses its connections.
    assert_eq!((source.connections(), destination.connections()), (1, 1));
}

/// Throughput of the source: `cargo test --release -- --ignored --nocapture`.
#[test]
#[ignore = "measurement, run in release mode"]
fn measure_source_throughput() {
    const SIZE: u64 = 2 << 30;
    let opts = SourceOptions {
        min_size: SIZE,
        max_size: SIZE,
        ..SourceOptions::default()
    };
    let source = serve_source(local(), opts).unwrap();
    for streams in [1, 2, 4] {
        let started = Instant::now();
        thread::scope(|s| {
            for i in 0..streams {
                let source = &source;
                s.spawn(move || {
                    let mut client = Client::connect(source);
                    client.send(format!("GET /files/{i} HTTP/1.1\r\n\r\n").as_bytes());
                    client.response(true);
                    let mut buf = vec![0; 256 * 1024];
                    let mut left = SIZE;
                    while left > 0 {
                        let n = client.reader.read(&mut buf).unwrap();
                        assert!(n > 0);
                        left -= n as u64;
                    }
                });
            }
        });
        let secs = started.elapsed().as_secs_f64();
        let gbps = (SIZE * streams) as f64 / secs / 1e9;
        eprintln!("source: {streams} stream(s) x {SIZE} B in {secs:.2} s = {gbps:.2} GB/s");
    }
}

/// Throughput of the destination: `cargo test --release -- --ignored --nocapture`.
#[test]
#[ignore = "measurement, run in release mode"]
fn measure_destination_throughput() {
    const SIZE: u64 = 2 << 30;
    for hash in [true, false] {
        let (destination, log) = destination(DestinationOptions {
            hash,
            ..DestinationOptions::default()
        });
        for streams in [1, 2, 4] {
            let started = Instant::now();
            thread::scope(|s| {
                for _ in 0..streams {
                    let destination = &destination;
                    s.spawn(move || {
                        let mut client = Client::connect(destination);
                        client.send(
                            format!("PUT /x HTTP/1.1\r\nContent-Length: {SIZE}\r\n\r\n").as_bytes(),
                        );
                        let buf = vec![0x5a; 256 * 1024];
                        let mut left = SIZE;
                        while left > 0 {
                            let n = left.min(buf.len() as u64) as usize;
                            client.send(&buf[..n]);
                            left -= n as u64;
                        }
                        assert_eq!(client.response(false).status, 201);
                    });
                }
            });
            let secs = started.elapsed().as_secs_f64();
            let gbps = (SIZE * streams) as f64 / secs / 1e9;
            eprintln!(
                "sink (hash {hash}): {streams} stream(s) x {SIZE} B in {secs:.2} s = {gbps:.2} GB/s"
            );
        }
        assert!(log.complete().iter().all(|u| u.bytes == SIZE));
    }
}
