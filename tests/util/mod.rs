//! Test support: running the binary with a time bound, starting servers that stop on
//! Drop, reading journals.

#![allow(dead_code)]

pub mod external;
pub mod recorder;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ferry::sim::{self, DestinationLog, DestinationOptions, FileSpec, Server, SourceOptions};
use serde_json::Value;

/// The variables a scheduler sets that make ferry pick a shard by itself.
pub const SCHEDULER_VARS: [&str; 6] = [
    "JOB_COMPLETION_INDEX",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
];

/// A `ferry` command, without the scheduler's variables (should the tests themselves
/// run in a Kubernetes Indexed Job or a Slurm array).
pub fn ferry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.stdin(Stdio::null());
    for var in SCHEDULER_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Starts `cmd` with stdout and stderr piped, for [`finish`].
pub fn start(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start ferry")
}

/// What a finished command did.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub described: String,
}

impl Ran {
    /// Asserts the exit code, printing everything on failure.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n{}",
            self.described
        );
        self
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.described)
    }
}

/// Runs `cmd` to the end, killing it after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Ran {
    let child = start(cmd);
    finish(child, cmd, limit)
}

/// Waits for a spawned child (stdout/stderr piped), killing it after `limit`.
pub fn finish(mut child: Child, cmd: &Command, limit: Duration) -> Ran {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    let code = status.and_then(|s| s.code());
    let described = format!(
        "command: {cmd:?}\nexit: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        match status {
            Some(s) => format!("{s}"),
            None => format!("killed after {limit:?}"),
        }
    );
    Ran {
        code,
        stdout,
        stderr,
        described,
    }
}

/// Ferry's own simulators on loopback, stopped on Drop.
pub struct Sims {
    pub source: Server,
    pub source_opts: SourceOptions,
    pub destination: Server,
    pub log: DestinationLog,
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

impl Sims {
    pub fn start(source_opts: SourceOptions, dest_opts: DestinationOptions) -> Self {
        let source = sim::serve_source(loopback(), source_opts.clone()).unwrap();
        let (destination, log) = sim::serve_destination(loopback(), dest_opts).unwrap();
        Sims {
            source,
            source_opts,
            destination,
            log,
        }
    }

    /// Small files (`min..=max` bytes), seed 7, default destination.
    pub fn small(min: u64, max: u64) -> Self {
        Self::start(
            SourceOptions {
                min_size: min,
                max_size: max,
                seed: 7,
                no_length: false,
            },
            DestinationOptions::default(),
        )
    }

    pub fn template(&self) -> String {
        format!("{}/{{name}}", self.destination.url())
    }

    pub fn spec(&self, i: u64) -> FileSpec {
        FileSpec::new(&self.source_opts, i)
    }

    /// Asserts files `0..n` each arrived exactly once, complete, with the right bytes.
    pub fn assert_received(&self, n: u64) {
        let uploads = self.log.uploads();
        let mut by_name: HashMap<&str, Vec<&sim::Upload>> = HashMap::new();
        for u in &uploads {
            by_name.entry(u.name.as_str()).or_default().push(u);
        }
        for i in 0..n {
            let spec = self.spec(i);
            let got = by_name.get(spec.name.as_str()).cloned().unwrap_or_default();
            let complete: Vec<_> = got.iter().filter(|u| u.complete).collect();
            assert_eq!(
                complete.len(),
                1,
                "file {i} ({}) arrived complete {} times: {got:?}",
                spec.name,
                complete.len()
            );
            assert_eq!(complete[0].bytes, spec.size, "file {i} size");
            assert_eq!(
                complete[0].sha256,
                spec.sha256(self.source_opts.seed),
                "file {i} sha256"
            );
        }
    }
}

/// Reads a journal into JSON values.
pub fn journal(path: &Path) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(file)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).expect("journal line is JSON"))
        .collect()
}

/// Counts journal lines by status.
pub fn count_status(lines: &[Value], status: &str) -> usize {
    lines.iter().filter(|l| l["status"] == status).count()
}

/// A temporary directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes a manifest with lines for files `range` of the source.
pub fn manifest(dir: &Path, sims: &Sims, range: std::ops::Range<u64>, query: &str) -> PathBuf {
    let path = dir.join("manifest.txt");
    let text: String = range
        .map(|i| format!("{}/files/{i}{query}\n", sims.source.url()))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// A child process (e.g. a Python server) killed on Drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`.
pub fn wait_listening(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port} after {limit:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs ferry with `args`, expecting exit 2 and a message that mentions `says`.
pub fn expect_usage_error(args: &[&str], says: &str) -> Ran {
    let ran = run(ferry().args(args), LIMIT);
    ran.expect_code(2);
    assert!(
        ran.stderr.to_lowercase().contains(&says.to_lowercase()),
        "stderr should mention {says:?}\n{ran:?}"
    );
    assert!(!ran.stderr.contains("panicked"), "{ran:?}");
    ran
}

pub const LIMIT: Duration = Duration::from_secs(60);

/// Options that keep a fault test fast and bounded: short stall and connect timeouts,
/// millisecond backoff, two retries (so a job makes at most 3 attempts).
pub const FAST: &[&str] = &[
    "--stall-timeout",
    "300ms",
    "--connect-timeout",
    "1s",
    "--initial-backoff",
    "10ms",
    "--max-backoff",
    "50ms",
    "--retries",
    "2",
];

/// [`FAST`] minus the options `extra` sets itself (clap refuses a repeated option).
pub fn fast_without(extra: &[&str]) -> Vec<&'static str> {
    FAST.chunks(2)
        .filter(|pair| !extra.contains(&pair[0]))
        .flatten()
        .copied()
        .collect()
}

/// A finished `ferry copy` and its journal.
pub struct Copied {
    pub ran: Ran,
    pub lines: Vec<Value>,
}

impl Copied {
    /// The one journal line of a one-job run.
    pub fn only(&self) -> &Value {
        assert_eq!(self.lines.len(), 1, "{:?}\n{:?}", self.lines, self.ran);
        &self.lines[0]
    }

    /// Asserts the one job failed after `attempts` attempts with an error containing
    /// `reason`.
    pub fn failed(&self, attempts: u64, reason: &str) -> &Self {
        self.ran.expect_code(1);
        let line = self.only();
        assert_eq!(line["status"], "failed", "{:?}", self.ran);
        let error = line["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason),
            "error {error:?} lacks {reason:?}\n{:?}",
            self.ran
        );
        assert_eq!(line["attempts"], attempts, "{:?}", self.ran);
        self
    }
}

impl Sims {
    /// The URL of source file `i` with a query (`""` or `"?fault=..."`).
    pub fn file_url(&self, i: u64, query: &str) -> String {
        format!("{}/files/{i}{query}", self.source.url())
    }

    /// The destination template with a query (`""` or `"?fault=..."`).
    pub fn template_with(&self, query: &str) -> String {
        format!("{}/{{name}}{query}", self.destination.url())
    }

    /// Runs `ferry copy` over a manifest of `lines` to `template`, with [`FAST`] then
    /// `extra` options, and a journal.
    pub fn copy(&self, lines: &[String], template: &str, extra: &[&str]) -> Copied {
        let dir = tempdir();
        let list = dir.path().join("m.txt");
        std::fs::write(
            &list,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        let journal_path = dir.path().join("j.jsonl");
        let ran = run(
            ferry()
                .args(["copy", "--list"])
                .arg(&list)
                .args(["--to", template, "--journal"])
                .arg(&journal_path)
                .args(fast_without(extra))
                .args(extra),
            LIMIT,
        );
        let lines = if journal_path.exists() {
            journal(&journal_path)
        } else {
            Vec::new()
        };
        Copied { ran, lines }
    }

    /// Copies source file `i` with `query` to the plain template.
    pub fn copy_one(&self, i: u64, query: &str, extra: &[&str]) -> Copied {
        self.copy(&[self.file_url(i, query)], &self.template(), extra)
    }

    /// Asserts file `i` arrived complete exactly once with the right bytes, and that
    /// the journal line says done with its size and SHA-256.
    pub fn assert_done(&self, copied: &Copied, i: u64) {
        copied.ran.expect_code(0);
        let line = copied.only();
        let spec = self.spec(i);
        assert_eq!(line["status"], "done", "{:?}", copied.ran);
        assert_eq!(line["bytes"], spec.size, "{:?}", copied.ran);
        assert_eq!(line["sha256"], spec.sha256(self.source_opts.seed));
        let complete: Vec<_> = self
            .log
            .complete()
            .into_iter()
            .filter(|u| u.name == spec.name)
            .collect();
        assert_eq!(complete.len(), 1, "{complete:?}\n{:?}", copied.ran);
        assert_eq!(complete[0].bytes, spec.size);
        assert_eq!(complete[0].sha256, spec.sha256(self.source_opts.seed));
    }

    /// Asserts nothing arrived complete at the destination.
    pub fn assert_nothing_complete(&self) {
        let complete = self.log.complete();
        assert!(complete.is_empty(), "complete uploads: {complete:?}");
    }
}
