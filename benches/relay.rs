//! `cargo bench --bench relay [-- FILTER...]`: ferry beside an async build (tokio +
//! reqwest) and a raw TCP relay (read/write and `splice`), same workloads, same run.
//!
//! The driver (this process) starts ferry's own source and destination simulators once
//! and keeps them here; every measured run is a **child process** (this same binary,
//! with [`spec::CHILD_ENV`] set) that does only the relaying. The driver reaps it with
//! `wait4(2)`, so its user+sys CPU is the relayer's alone (its peak RSS is its own
//! `VmHWM`); the simulators'
//! CPU is the driver's own `getrusage` over the run, shown apart.
//!
//! Rows are `<workload>/<impl>`; a FILTER keeps rows whose id contains it. Each row runs
//! (`=ID` keeps exactly that row) `FERRY_BENCH_ROUNDS` times (default 3), rounds interleaved, and the medians are
//! printed. `FERRY_BENCH_SCALE=0.1` shrinks file sizes (W1, W3) and counts (W2, M1) for a
//! quick smoke run. Rows of the buffer sweep (`W1/ferry-buf…`) run only when a filter
//! names them (`-- buf`). `FERRY_BENCH_WRAP="valgrind --tool=callgrind"` runs each child
//! under a profiler (its figures are then the profiler's, not the relayer's);
//! `FERRY_BENCH_BUFFER` and `FERRY_BENCH_WORKERS` override every row's buffer and pool size.

#[path = "relay/ferry_pipe.rs"]
mod ferry_pipe;
#[path = "relay/raw.rs"]
mod raw;
#[path = "relay/spec.rs"]
mod spec;
#[path = "relay/tokio_pipe.rs"]
mod tokio_pipe;

use std::fmt::Write as _;
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use ferry::sim::{self, DestinationLog, DestinationOptions, Server, SourceOptions};

use crate::spec::{CHILD_ENV, Spec};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: f64 = (1u64 << 30) as f64;

fn main() -> ExitCode {
    if let Ok(encoded) = std::env::var(CHILD_ENV) {
        return child(&encoded);
    }
    match drive() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Child mode: relay what the spec says, print `bytes seconds`.
fn child(encoded: &str) -> ExitCode {
    let Some(spec) = Spec::decode(encoded) else {
        eprintln!("bench child: cannot parse {CHILD_ENV}={encoded:?}");
        return ExitCode::FAILURE;
    };
    let started = Instant::now();
    let moved = match spec.imp.as_str() {
        "relay-rw" => raw::run(&spec, raw::Mode::ReadWrite),
        "relay-splice" => raw::run(&spec, raw::Mode::Splice),
        "source-only" => raw::run(&spec, raw::Mode::SourceOnly),
        "sink-only" => raw::run(&spec, raw::Mode::SinkOnly),
        "async" => tokio_pipe::run(&spec),
        _ => ferry_pipe::run(&spec),
    };
    match moved {
        Ok(bytes) => {
            let secs = started.elapsed().as_secs_f64();
            println!("{bytes} {secs} {}", peak_rss_kib());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench child {}: {err}", spec.imp);
            ExitCode::FAILURE
        }
    }
}

/// This process's peak resident set (`VmHWM`), in KiB. Not `ru_maxrss`: Linux carries
/// the parent's high-water mark over `fork`+`exec` into it, so the driver's own memory
/// would show up there.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One workload of the issue.
struct Workload {
    id: &'static str,
    files: u64,
    size: u64,
    workers: usize,
    length: bool,
    imps: &'static [&'static str],
}

/// Every implementation over a workload with `Content-Length`.
const WITH_LENGTH: &[&str] = &["relay-splice", "relay-rw", "async", "ferry", "ferry-nosha"];

fn workloads(scale: f64) -> Vec<Workload> {
    let size = |bytes: u64| ((bytes as f64 * scale) as u64).max(64 * KIB) / 4096 * 4096;
    let count = |n: u64| ((n as f64 * scale) as u64).max(8);
    vec![
        Workload {
            id: "W1",
            files: 32,
            size: size(64 * MIB),
            workers: 8,
            length: true,
            imps: &[
                "source-only",
                "sink-only",
                "relay-splice",
                "relay-rw",
                "async",
                "ferry",
                "ferry-nosha",
                "ferry-buf64k",
                "ferry-buf128k",
                "ferry-buf512k",
                "ferry-buf1m",
            ],
        },
        Workload {
            id: "W1-nolen",
            files: 32,
            size: size(64 * MIB),
            workers: 8,
            length: false,
            imps: &[
                "relay-splice",
                "relay-rw",
                "async",
                "ferry",
                "ferry-chunked",
            ],
        },
        Workload {
            id: "W2",
            files: count(2000),
            size: 64 * KIB,
            workers: 8,
            length: true,
            imps: WITH_LENGTH,
        },
        Workload {
            id: "W3",
            files: 4,
            size: size(512 * MIB),
            workers: 4,
            length: true,
            imps: WITH_LENGTH,
        },
        Workload {
            id: "M1",
            files: count(1_000_000),
            size: 0,
            workers: 8,
            length: true,
            imps: &["ferry-manifest"],
        },
    ]
}

/// One measured run.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    bytes: u64,
    secs: f64,
    cpu: f64,
    sys: f64,
    rss_kib: u64,
    sim_cpu: f64,
    src_conns: u64,
    dst_conns: u64,
}

/// A row: a workload, an implementation, and its samples.
struct Row<'a> {
    id: String,
    imp: &'static str,
    load: &'a Workload,
    buffer: usize,
    samples: Vec<Sample>,
}

fn drive() -> io::Result<()> {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let scale: f64 = env_or("FERRY_BENCH_SCALE", 1.0);
    let rounds: usize = env_or("FERRY_BENCH_ROUNDS", 3);
    let buffer: usize = env_or("FERRY_BENCH_BUFFER", ferry::config::DEFAULT_BUFFER);
    // An experiment knob: every row with this many workers instead of the issue's.
    let workers: Option<usize> = std::env::var("FERRY_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok());
    let loads = workloads(scale);
    let mut rows: Vec<Row> = loads
        .iter()
        .flat_map(|load| load.imps.iter().map(move |&imp| (load, imp)))
        .filter_map(|(load, imp)| {
            let id = format!("{}/{imp}", load.id);
            let sweep = imp.starts_with("ferry-buf");
            let wanted = match filters.is_empty() {
                true => !sweep,
                false => filters.iter().any(|f| match f.strip_prefix('=') {
                    Some(exact) => id == exact,
                    None => id.contains(f.as_str()),
                }),
            };
            let buffer = match imp {
                "ferry-buf64k" => 64 * 1024,
                "ferry-buf128k" => 128 * 1024,
                "ferry-buf512k" => 512 * 1024,
                "ferry-buf1m" => 1024 * 1024,
                _ => buffer,
            };
            wanted.then(|| Row {
                id,
                imp,
                load,
                buffer,
                samples: Vec::new(),
            })
        })
        .collect();
    if rows.is_empty() {
        return Err(io::Error::other(format!("no row matches {filters:?}")));
    }

    // One source per file size; one destination. The sink does not hash (raw speed).
    let local: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut sources: Vec<(u64, Server)> = Vec::new();
    for load in &loads {
        if load.size > 0 && !sources.iter().any(|(size, _)| *size == load.size) {
            let opts = SourceOptions {
                min_size: load.size,
                max_size: load.size,
                ..SourceOptions::default()
            };
            sources.push((load.size, sim::serve_source(local, opts)?));
        }
    }
    let dst_opts = DestinationOptions {
        hash: false,
        ..DestinationOptions::default()
    };
    let (dst, log) = sim::serve_destination(local, dst_opts)?;
    let manifest = rows
        .iter()
        .find(|r| r.imp == "ferry-manifest")
        .map(|r| write_manifest(r.load.files))
        .transpose()?;

    eprintln!(
        "bench: {} rows x {rounds} rounds, scale {scale}, buffer {buffer} (nproc {})",
        rows.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for round in 0..rounds {
        for (n, row) in rows.iter_mut().enumerate() {
            let source = sources
                .iter()
                .find(|(size, _)| *size == row.load.size)
                .map(|(_, s)| s);
            let spec = Spec {
                imp: row.imp.to_owned(),
                src_addr: source.map_or_else(closed_port, |s| s.addr().to_string()),
                dst_addr: dst.addr().to_string(),
                label: format!("r{round}-{n}"),
                files: row.load.files,
                size: row.load.size,
                workers: workers.unwrap_or(row.load.workers),
                buffer: row.buffer,
                length: row.load.length,
                manifest: manifest
                    .as_ref()
                    .filter(|_| row.imp == "ferry-manifest")
                    .map(|m| m.path().to_owned()),
            };
            let sample = measure(&spec, source, &dst, &log)?;
            eprintln!(
                "bench: round {}/{rounds} {:<22} {:>8.1} MB/s {:>8.1} files/s cpu {:.2}s (sys {:.2}s) rss {} KiB",
                round + 1,
                row.id,
                sample.bytes as f64 / sample.secs / 1e6,
                row.load.files as f64 / sample.secs,
                sample.cpu,
                sample.sys,
                sample.rss_kib
            );
            row.samples.push(sample);
        }
    }
    let table = table(&rows);
    let mut out = BufWriter::new(io::stdout().lock());
    out.write_all(table.as_bytes())?;
    out.flush()
}

/// Runs one child and measures it.
fn measure(
    spec: &Spec,
    source: Option<&Server>,
    dst: &Server,
    log: &DestinationLog,
) -> io::Result<Sample> {
    let uploads_before = log.uploads().len();
    let src_before = source.map_or(0, Server::connections);
    let dst_before = dst.connections();
    let sim_before = own_cpu();
    // FERRY_BENCH_WRAP="valgrind --tool=callgrind" (or strace ...) profiles the child.
    let wrap = std::env::var("FERRY_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let exe = std::env::current_exe()?;
    let mut command = match words.next() {
        Some(tool) => {
            let mut c = Command::new(tool);
            c.args(words).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let mut child = command
        .env(CHILD_ENV, spec.encode())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if spec.manifest.is_some() {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .spawn()?;
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut out)?;
    let (status, usage) = wait4(child.id())?;
    let sim_cpu = own_cpu() - sim_before;
    if status != 0 {
        return Err(io::Error::other(format!(
            "{} failed (wait status {status})",
            spec.imp
        )));
    }
    let mut fields = out.split_whitespace();
    let bytes: u64 = fields.next().and_then(|b| b.parse().ok()).unwrap_or(0);
    let secs: f64 = fields
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    let rss_kib: u64 = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    if spec.manifest.is_none() {
        let expected = spec.files * spec.size;
        if bytes != expected {
            return Err(io::Error::other(format!(
                "{} moved {bytes} bytes, expected {expected}",
                spec.imp
            )));
        }
        if spec.imp != "source-only" {
            let uploads = log.uploads();
            let new = &uploads[uploads_before..];
            let complete = new.iter().filter(|u| u.complete && u.bytes == spec.size);
            if complete.count() as u64 != spec.files {
                return Err(io::Error::other(format!(
                    "{}: the sink did not receive {} complete files of {} bytes",
                    spec.imp, spec.files, spec.size
                )));
            }
        }
    }
    Ok(Sample {
        bytes,
        secs,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        sys: tv(usage.ru_stime),
        rss_kib,
        sim_cpu,
        src_conns: source.map_or(0, Server::connections) - src_before,
        dst_conns: dst.connections() - dst_before,
    })
}

/// Reaps child `pid` and returns its wait status and resource usage.
fn wait4(pid: u32) -> io::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes only into the two out-pointers, both valid for the call.
    let got = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((status, usage))
}

/// This process's user+sys CPU seconds so far (the simulators' threads).
fn own_cpu() -> f64 {
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes only into `usage`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// A loopback address nobody listens on: its connections are refused at once.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback has a free port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .to_string()
}

/// A manifest of `lines` URLs to a closed port: every job fails at once (connection
/// refused, no retries), so the run measures the streamed job source and per-job
/// bookkeeping without moving data.
fn write_manifest(lines: u64) -> io::Result<tempfile::NamedTempFile> {
    let addr = closed_port();
    let mut file = tempfile::NamedTempFile::new()?;
    {
        let mut out = BufWriter::new(file.as_file_mut());
        for i in 0..lines {
            writeln!(out, "http://{addr}/file-{i:07}\tfile-{i:07}")?;
        }
        out.flush()?;
    }
    Ok(file)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Medians of one row.
#[derive(Clone, Copy)]
struct Figures {
    mbps: f64,
    files: f64,
    cpu_gib: f64,
    rss_mib: f64,
    sim_gib: f64,
    src_conns: u64,
    dst_conns: u64,
}

fn figures(row: &Row) -> Figures {
    let of = |f: &dyn Fn(&Sample) -> f64| median(row.samples.iter().map(f).collect());
    let per_gib = |s: &Sample, v: f64| match s.bytes {
        0 => v,
        b => v / (b as f64 / GIB),
    };
    Figures {
        mbps: of(&|s| s.bytes as f64 / s.secs / 1e6),
        files: of(&|s| row.load.files as f64 / s.secs),
        cpu_gib: of(&|s| per_gib(s, s.cpu)),
        rss_mib: of(&|s| s.rss_kib as f64 / 1024.0),
        sim_gib: of(&|s| per_gib(s, s.sim_cpu)),
        src_conns: row.samples.iter().map(|s| s.src_conns).max().unwrap_or(0),
        dst_conns: row.samples.iter().map(|s| s.dst_conns).max().unwrap_or(0),
    }
}

/// The Markdown table: medians, and ratios to the splice relay and the async build of
/// the same workload (throughput, CPU per GiB, RSS).
fn table(rows: &[Row]) -> String {
    let find = |load: &str, imp: &str| {
        rows.iter()
            .find(|r| r.load.id == load && r.imp == imp)
            .map(figures)
    };
    let mut out = String::new();
    out.push_str(
        "| row | MB/s | files/s | CPU s/GiB | peak RSS MiB | sims CPU s/GiB | conns src/dst \
         | ÷ relay-splice (MB/s, CPU, RSS) | ÷ async (MB/s, CPU, RSS) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let f = figures(row);
        let ratio = |base: Option<Figures>| match base {
            Some(b) if row.load.size > 0 => format!(
                "{:.2} / {:.2} / {:.2}",
                f.mbps / b.mbps,
                f.cpu_gib / b.cpu_gib,
                f.rss_mib / b.rss_mib
            ),
            _ => "–".to_owned(),
        };
        let (cpu, unit) = match row.load.size {
            0 => (f.cpu_gib, " s total"),
            _ => (f.cpu_gib, ""),
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.3}{unit} | {:.1} | {:.3} | {}/{} | {} | {} |",
            row.id,
            f.mbps,
            f.files,
            cpu,
            f.rss_mib,
            f.sim_gib,
            f.src_conns,
            f.dst_conns,
            ratio(find(row.load.id, "relay-splice")),
            ratio(find(row.load.id, "async")),
        );
    }
    out
}
