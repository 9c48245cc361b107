//! `ferry demo`: starts the source and destination simulators on loopback ports inside
//! this process, copies a batch through them (half the files with a `Content-Length`,
//! half without, like the document's source), and checks every file at the destination
//! by name, size and SHA-256 against what the source generated.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};

use crate::config::{CopyConfig, JobSource};
use crate::error::Exit;
use crate::job::Job;
use crate::signal::Cancel;
use crate::sim::{self, DestinationOptions, FileSpec, SourceOptions};

/// What the demo moves.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Number of files.
    pub files: u64,
    /// Smallest file.
    pub min_size: u64,
    /// Largest file.
    pub max_size: u64,
    /// Concurrent transfers.
    pub workers: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            files: 16,
            min_size: 1 << 20,
            max_size: 64 << 20,
            workers: 8,
        }
    }
}

/// Runs the demo, prints what it did, and fails unless every file arrived intact.
pub fn run(cfg: &DemoConfig) -> anyhow::Result<Exit> {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let source_opts = SourceOptions {
        min_size: cfg.min_size,
        max_size: cfg.max_size,
        seed: 2026,
        no_length: false,
    };
    let source = sim::serve_source(loopback, source_opts.clone())
        .context("cannot start the source simulator on loopback")?;
    let (destination, log) = sim::serve_destination(loopback, DestinationOptions::default())
        .context("cannot start the destination simulator on loopback")?;

    // Odd files come without a Content-Length (HTTP/1.0, close-delimited), like the
    // design document's source; even ones with it.
    let jobs: Vec<Job> = (0..cfg.files)
        .map(|i| {
            let length = if i % 2 == 0 { 1 } else { 0 };
            Job::new(i, format!("{}/files/{i}?length={length}", source.url()))
        })
        .collect();
    let template = format!("{}/{{name}}", destination.url())
        .parse()
        .context("destination template")?;
    let mut copy = CopyConfig::new(JobSource::Jobs(jobs), template);
    copy.workers = cfg.workers;

    eprintln!(
        "ferry demo: {} files of {} to {} from {} to {}, {} workers",
        cfg.files,
        bytesize::ByteSize::b(cfg.min_size).display().iec(),
        bytesize::ByteSize::b(cfg.max_size).display().iec(),
        source.url(),
        destination.url(),
        cfg.workers
    );
    let cancel = Cancel::new();
    cancel.install()?;
    let run = crate::copy::run(&copy, &cancel)?;
    eprintln!("ferry demo: {}", run.describe());
    if run.summary.interrupted {
        return Ok(Exit::Interrupted);
    }

    let received = log.complete();
    let mut verified = 0;
    for i in 0..cfg.files {
        let spec = FileSpec::new(&source_opts, i);
        let expected = spec.sha256(source_opts.seed);
        let found = received
            .iter()
            .filter(|u| u.name == spec.name && u.bytes == spec.size && u.sha256 == expected)
            .count();
        if found == 1 {
            verified += 1;
        } else {
            eprintln!(
                "ferry demo: file {i} ({}, {} bytes) arrived {found} times intact, expected once",
                spec.name, spec.size
            );
        }
    }
    eprintln!(
        "ferry demo: verified {verified}/{} files at the destination by name, size and SHA-256",
        cfg.files
    );
    if verified != cfg.files || run.summary.failed > 0 {
        bail!("the demo did not move every file intact (see above)");
    }
    Ok(Exit::Success)
}
