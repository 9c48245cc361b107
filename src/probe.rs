//! Learning a file's name and size without moving it, for `--dry-run` and `ferry plan`:
//! a `HEAD`, and when that fails or gives no length, a `GET` with `Range: bytes=0-0`
//! whose answer is dropped unread (its `Content-Range` total, or its `Content-Length`
//! when the server ignores the range). Jobs are probed in parallel on the worker pool.

use std::thread;
use std::time::Duration;

use crossbeam_channel::unbounded;
use ureq::http::Response;
use ureq::{Agent, Body, ResponseExt};

use crate::config::JobSource;
use crate::http::{self, HttpOptions, Trust};
use crate::job::{Job, ManifestError};
use crate::pool;
use crate::signal::Cancel;

/// What a probe learned about one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The name the file would get (manifest's, else the answer's, else the URL's).
    pub name: String,
    /// Its size: the manifest's, else the server's; None when nothing told it.
    pub size: Option<u64>,
    /// Why the size is unknown, when the server was asked and failed to tell.
    pub error: Option<String>,
}

/// An agent for probes: short timeouts, statuses read by the caller, the copy's TLS
/// trust; redirects are followed by [`http::follow`], as a copy's are.
pub fn agent(workers: usize, timeout: Duration, trust: &Trust) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(http::tls_config(trust))
        .max_response_header_size(http::MAX_RESPONSE_HEADER)
        .max_idle_connections_per_host(workers * 2)
        .timeout_connect(Some(timeout))
        .timeout_recv_response(Some(timeout))
        .accept_encoding("")
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Probes one job. With `ranged_get` false only `HEAD` is sent (document mode: a GET
/// of the counter URL would use up a file).
pub fn probe(agent: &Agent, opts: &HttpOptions, job: &Job, ranged_get: bool) -> Probe {
    if let Some(size) = job.size
        && let Some(name) = &job.name
    {
        return Probe {
            name: name.clone(),
            size: Some(size),
            error: None,
        };
    }
    let mut error = None;
    let mut found: Option<(String, Option<u64>)> = None;
    match http::follow(agent, opts, &job.src, |agent, url| agent.head(url)) {
        Ok(response) if response.status().is_success() => {
            let length = header_u64(&response, "content-length");
            found = Some((name_of(job, &response), length));
        }
        Ok(response) => error = Some(format!("HEAD answered HTTP {}", response.status().as_u16())),
        Err(err) => error = Some(format!("HEAD failed: {err}")),
    }
    let needs_get = found.as_ref().is_none_or(|(_, size)| size.is_none());
    if ranged_get && needs_get && job.size.is_none() {
        let ranged = |agent: &Agent, url: &str| agent.get(url).header("range", "bytes=0-0");
        match http::follow(agent, opts, &job.src, ranged) {
            // The body is never read: dropping the response closes its connection.
            Ok(response) if response.status().as_u16() == 206 => {
                let total = response
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(range_total);
                found = Some((name_of(job, &response), total));
            }
            Ok(response) if response.status().is_success() => {
                let length = header_u64(&response, "content-length");
                found = Some((name_of(job, &response), length));
            }
            Ok(response) => {
                error = Some(format!(
                    "{}ranged GET answered HTTP {}",
                    error.map(|e| e + "; ").unwrap_or_default(),
                    response.status().as_u16()
                ))
            }
            Err(err) => {
                error = Some(format!(
                    "{}ranged GET failed: {err}",
                    error.map(|e| e + "; ").unwrap_or_default()
                ))
            }
        }
    }
    let (name, size) = found.unwrap_or_else(|| {
        let name = job
            .name
            .clone()
            .unwrap_or_else(|| crate::names::resolve(None, &job.src, job.index));
        (name, None)
    });
    let size = job.size.or(size);
    Probe {
        error: if size.is_none() {
            Some(error.unwrap_or_else(|| "the server sent no length".into()))
        } else {
            None
        },
        name,
        size,
    }
}

fn name_of(job: &Job, response: &Response<Body>) -> String {
    if let Some(name) = &job.name {
        return name.clone();
    }
    // Lossy, like the copy: a raw UTF-8 filename keeps its name.
    let disposition = response
        .headers()
        .get("content-disposition")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    crate::names::resolve(
        disposition.as_deref(),
        &response.get_uri().to_string(),
        job.index,
    )
}

fn header_u64(response: &Response<Body>, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The complete length in a `Content-Range: bytes 0-0/12345` (None for `*`).
fn range_total(value: &str) -> Option<u64> {
    value.rsplit_once('/')?.1.trim().parse().ok()
}

/// Probes every job of `jobs` (read from `source`) on `workers` threads, each request
/// allowed `timeout`; `seen` gets each job with its probe (or a manifest error) on one
/// thread, in completion order. In document mode only HEAD is sent (a GET of the
/// counter URL would use up a file).
pub fn probe_all<I>(
    source: &JobSource,
    opts: &HttpOptions,
    jobs: I,
    workers: usize,
    timeout: Duration,
    cancel: &Cancel,
    mut seen: impl FnMut(Result<(Job, Probe), ManifestError>) + Send,
) where
    I: Iterator<Item = Result<Job, ManifestError>> + Send,
{
    let agent = &agent(workers, timeout, &opts.trust);
    let ranged_get = !matches!(source, JobSource::Document { .. });
    let (tx, rx) = unbounded();
    thread::scope(|scope| {
        let printer = scope.spawn(move || {
            for item in rx {
                seen(item);
            }
        });
        let bad = tx.clone();
        let queue = jobs.filter_map(|job| match job {
            Ok(job) => Some(job),
            Err(err) => {
                let _ = bad.send(Err(err));
                None
            }
        });
        pool::run(workers, queue, cancel, Duration::ZERO, |rx| {
            for job in rx {
                if cancel.stopping() {
                    break;
                }
                let probe = probe(agent, opts, &job, ranged_get);
                let _ = tx.send(Ok((job, probe)));
            }
        });
        drop(bad);
        drop(tx);
        // The printer only panics if `seen` does; pass it on.
        printer.join().expect("probe printer panicked");
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A server that refuses HEAD and answers a ranged GET with one byte: serves two
    /// connections, returns the request lines it saw.
    fn refuses_head() -> (String, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/dir/file", listener.local_addr().unwrap());
        let handle = thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    head.push_str(&line.to_ascii_lowercase());
                }
                let answer = if head.starts_with("head") {
                    "HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                } else {
                    "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-0/987654\r\n\
                     content-length: 1\r\ncontent-disposition: attachment; filename=\"big.iso\"\r\n\
                     connection: close\r\n\r\nX"
                };
                (&stream).write_all(answer.as_bytes()).unwrap();
                seen.push(head);
            }
            seen
        });
        (url, handle)
    }

    #[test]
    fn a_refused_head_falls_back_to_a_one_byte_ranged_get() {
        let (url, server) = refuses_head();
        let agent = agent(1, Duration::from_secs(5), &Trust::default());
        let probe = probe(&agent, &HttpOptions::default(), &Job::new(0, url), true);
        assert_eq!(probe.size, Some(987654));
        assert_eq!(probe.name, "big.iso");
        assert_eq!(probe.error, None);
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("head "), "{seen:?}");
        assert!(
            seen[1].starts_with("get ") && seen[1].contains("range: bytes=0-0"),
            "{seen:?}"
        );
    }

    #[test]
    fn manifest_sizes_and_names_need_no_request() {
        let agent = agent(1, Duration::from_secs(1), &Trust::default());
        let mut job = Job::new(3, "http://127.0.0.1:1/never");
        job.size = Some(42);
        job.name = Some("n".into());
        let probe = probe(&agent, &HttpOptions::default(), &job, true);
        assert_eq!((probe.name.as_str(), probe.size), ("n", Some(42)));
    }

    #[test]
    fn content_range_gives_the_total() {
        assert_eq!(range_total("bytes 0-0/12345"), Some(12345));
        assert_eq!(range_total("bytes 0-0/*"), None);
        assert_eq!(range_total("nonsense"), None);
    }
}
