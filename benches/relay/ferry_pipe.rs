//! ferry itself, through its library entry point `ferry::copy::run`, exactly as
//! `ferry copy` runs it (same pool, pipe, checks and reporter), with jobs built in memory
//! or, for `ferry-manifest`, streamed from a manifest file.

use std::io;

use ferry::config::{CopyConfig, JobSource, UnknownLength};
use ferry::job::Job;
use ferry::signal::Cancel;
use ferry::template::Template;

use crate::spec::Spec;

/// Runs every file of `spec` through ferry; returns the body bytes moved.
pub fn run(spec: &Spec) -> io::Result<u64> {
    let query = if spec.length { "" } else { "?length=0" };
    let source = match &spec.manifest {
        Some(path) => JobSource::Manifest(path.clone()),
        None => JobSource::Jobs(
            (0..spec.files)
                .map(|i| Job::new(i, format!("http://{}/files/{i}{query}", spec.src_addr)))
                .collect(),
        ),
    };
    let template: Template = format!("http://{}/{}-{{index}}", spec.dst_addr, spec.label)
        .parse()
        .map_err(io::Error::other)?;
    let mut cfg = CopyConfig::new(source, template);
    cfg.workers = spec.workers;
    cfg.buffer = spec.buffer;
    cfg.quiet = true;
    match spec.imp.as_str() {
        "ferry-nosha" => cfg.checksum = false,
        "ferry-chunked" => cfg.unknown_length = UnknownLength::Chunked,
        "ferry-manifest" => cfg.retries = 0,
        _ => {}
    }
    let run = ferry::copy::run(&cfg, &Cancel::new()).map_err(io::Error::other)?;
    let summary = run.summary;
    let expected_done = if spec.manifest.is_some() {
        0
    } else {
        spec.files
    };
    if summary.done != expected_done || summary.done + summary.failed != spec.files {
        return Err(io::Error::other(format!(
            "ferry finished {} done, {} failed; expected {expected_done} done of {}",
            summary.done, summary.failed, spec.files
        )));
    }
    Ok(summary.bytes)
}
