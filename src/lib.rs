//! ferry moves many files from one HTTP storage service to another without touching
//! local disk (except to spool bodies of unknown length, see [`spool`]).
//!
//! It is the blocking baseline of the design document in `shared/seed/`: a fixed pool of
//! OS threads, each pulling jobs from a bounded channel, each job a blocking GET whose
//! body is piped straight into a blocking POST/PUT through a bounded buffer.
//!
//! ```text
//! argv -> cli::Args -> Config -> copy::run(&Config, &Cancel) -> Summary -> ExitCode
//!   producer (main thread): job source (document mode or manifest), this shard's share
//!     of it (shard: hash of the URL mod N), minus the journal
//!     -> bounded(2 x workers) channel -> N worker threads (std::thread::scope)
//!        each: retry(policy, || transfer::attempt(job))   GET body -> buffer -> POST/PUT
//!        events -> reporter thread (the only one touching stderr and the journal)
//!        source body -> meter::Metered (per-worker atomics, shared --bwlimit bucket)
//!                       -> read by the reporter on a tick: progress bars or stats lines
//! ```
//!
//! Before a run, [`plan`] and [`dryrun`] learn names and sizes with [`probe`] requests
//! on the same pool; [`json_report`] is the `--json` object printed after it.

pub mod bwlimit;
pub mod claims;
pub mod cli;
pub mod config;
pub mod copy;
pub mod demo;
pub mod dryrun;
pub mod error;
pub mod headers;
pub mod http;
pub mod integrity;
pub mod job;
pub mod journal;
pub mod json_report;
pub mod merge;
pub mod meter;
pub mod names;
pub mod plan;
pub mod pool;
pub mod probe;
pub mod progress;
pub mod rate;
pub mod report;
pub mod retry;
pub mod shard;
pub mod signal;
pub mod sim;
pub mod spool;
pub mod template;
pub mod transfer;
pub mod upload;

use std::net::SocketAddr;

use crate::cli::Plan;
use crate::error::Exit;

/// Runs a parsed command to completion. An `Err` is a startup problem (exit code 2);
/// failed jobs are reported through the returned [`Exit`].
pub fn run(plan: Plan) -> anyhow::Result<Exit> {
    match plan {
        Plan::Copy(cfg) => {
            if matches!(cfg.http.trust, http::Trust::Insecure) {
                eprintln!("{}", http::INSECURE_WARNING);
            }
            let cancel = signal::Cancel::new();
            cancel.install()?;
            if let Some(shard) = cfg.shard.as_ref().filter(|_| !cfg.quiet) {
                eprintln!("ferry: {shard}");
            }
            if cfg.operator.dry_run {
                let listing = dryrun::run(&cfg, &cancel, &mut std::io::stdout())?;
                if !cfg.quiet {
                    eprintln!("ferry: {}", listing.describe());
                }
                return Ok(listing.exit());
            }
            let run = copy::run(&cfg, &cancel)?;
            if !cfg.quiet {
                eprintln!("ferry: {}", run.describe());
            }
            if cfg.operator.json {
                println!("{}", json_report::Report::new(&run).to_json());
            }
            Ok(run.summary.exit())
        }
        Plan::ServeSource(addr, opts) => {
            let server = sim::serve_source(addr, opts).map_err(|err| {
                anyhow::anyhow!("cannot start the source simulator on {addr}: {err}")
            })?;
            serve_until_signal("source", server.addr())
        }
        Plan::ServeDestination(addr, opts) => {
            let (server, _log) = sim::serve_destination(addr, opts).map_err(|err| {
                anyhow::anyhow!("cannot start the destination simulator on {addr}: {err}")
            })?;
            serve_until_signal("destination", server.addr())
        }
        Plan::Demo(cfg) => demo::run(&cfg),
        Plan::MergeJournals(cfg) => merge::run(&cfg, std::io::stdout().lock()),
        Plan::Estimate(cfg) => {
            let cancel = signal::Cancel::new();
            cancel.install()?;
            let totals = plan::totals(&cfg, &cancel)?;
            print!(
                "{}",
                plan::table(&totals, cfg.link, cfg.measured, &cfg.prices)
            );
            Ok(if totals.bad_lines > 0 {
                Exit::SomeFailed
            } else {
                Exit::Success
            })
        }
        Plan::Print(text) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&text)
                .and_then(|()| out.flush())
                .map_err(|err| anyhow::anyhow!("cannot write to stdout: {err}"))?;
            Ok(Exit::Success)
        }
    }
}

/// Prints where a simulator listens, then waits for ctrl-c.
fn serve_until_signal(what: &str, addr: SocketAddr) -> anyhow::Result<Exit> {
    let cancel = signal::Cancel::new();
    cancel.install()?;
    eprintln!("ferry: {what} simulator listening on http://{addr}/ (ctrl-c to stop)");
    while !cancel.stopping() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(Exit::Success)
}
