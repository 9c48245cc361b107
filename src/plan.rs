//! `ferry plan`: before a migration, what it will take. Reads the job source, learns
//! each file's size (the manifest's SIZE column, else a [`probe`] in
//! parallel on the pool), and prints a table: files and bytes, files of unknown size
//! (reported, never guessed), the time at the link speed and at a measured throughput,
//! and the design document's cost question: a migration service at $/GB against a VPS,
//! either storing everything then uploading it, or streaming it with ferry.
//!
//! Money is per GB of 2^30 bytes, the way the document prices 4 TB at $4,096; a
//! storage month is 730 hours; VPS time is billed in whole hours.

use std::fmt::Write as _;
use std::time::Duration;

use crate::config::JobSource;
use crate::copy::open_jobs;
use crate::probe;
use crate::rate::Rate;
use crate::signal::Cancel;

/// Everything `ferry plan` needs.
#[derive(Clone, Debug)]
pub struct PlanConfig {
    /// Where the jobs come from.
    pub source: JobSource,
    /// Parallel probes.
    pub workers: usize,
    /// Timeout of one probe request.
    pub timeout: Duration,
    /// The link speed to plan with.
    pub link: Rate,
    /// A throughput measured on this machine (e.g. a `ferry copy --json` run's).
    pub measured: Option<Rate>,
    /// The prices.
    pub prices: Prices,
}

/// The prices of the cost comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prices {
    /// A migration service, dollars per GB moved.
    pub service_per_gb: f64,
    /// VPS storage, dollars per GB-month.
    pub vps_storage_per_gb_month: f64,
    /// VPS compute, dollars per hour.
    pub vps_per_hour: f64,
    /// Hours the VPS is rented, if fixed (else computed from the transfer time).
    pub vps_hours: Option<f64>,
}

impl Default for Prices {
    /// The design document's scenario: $1/GB, $0.08/GB-month; compute price not given.
    fn default() -> Self {
        Prices {
            service_per_gb: 1.0,
            vps_storage_per_gb_month: 0.08,
            vps_per_hour: 0.0,
            vps_hours: None,
        }
    }
}

/// What the sizes add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Jobs.
    pub files: u64,
    /// Bytes of the files whose size is known.
    pub bytes: u64,
    /// Sizes given by the manifest.
    pub from_manifest: u64,
    /// Sizes learned from the server.
    pub from_server: u64,
    /// Files of unknown size.
    pub unknown: u64,
    /// Manifest lines that could not be used.
    pub bad_lines: u64,
}

/// Reads the jobs and learns their sizes; messages about unknown sizes go to stderr.
pub fn totals(cfg: &PlanConfig, cancel: &Cancel) -> anyhow::Result<Totals> {
    let jobs = open_jobs(&cfg.source)?;
    let mut t = Totals::default();
    probe::probe_all(
        &cfg.source,
        &crate::http::HttpOptions::default(),
        jobs,
        cfg.workers,
        cfg.timeout,
        cancel,
        |item| match item {
            Ok((job, probe)) => {
                t.files += 1;
                match (job.size, probe.size) {
                    (Some(size), _) => {
                        t.from_manifest += 1;
                        t.bytes += size;
                    }
                    (None, Some(size)) => {
                        t.from_server += 1;
                        t.bytes += size;
                    }
                    (None, None) => {
                        t.unknown += 1;
                        eprintln!(
                            "ferry: size of {} unknown: {}",
                            job.src,
                            probe.error.as_deref().unwrap_or("not told")
                        );
                    }
                }
            }
            Err(err) => {
                t.bad_lines += 1;
                eprintln!("ferry: {err} (line skipped)");
            }
        },
    );
    Ok(t)
}

/// Bytes in the GB the prices are per.
const GB: f64 = (1u64 << 30) as f64;
/// Hours in a storage month.
const MONTH_HOURS: f64 = 730.0;

/// Seconds to move `bytes` at `rate`.
fn seconds(bytes: u64, rate: Rate) -> f64 {
    bytes as f64 / rate.bytes_per_second()
}

/// Whole hours billed for `secs` of work (at least one).
fn billed_hours(secs: f64) -> f64 {
    (secs / 3600.0).ceil().max(1.0)
}

/// The cost of a VPS rented `hours` that stores `gb` for that time.
fn vps_cost(prices: &Prices, hours: f64, stored_gb: f64) -> f64 {
    hours * prices.vps_per_hour + stored_gb * prices.vps_storage_per_gb_month * hours / MONTH_HOURS
}

/// The table a person reads before deciding.
pub fn table(t: &Totals, link: Rate, measured: Option<Rate>, prices: &Prices) -> String {
    let mut s = String::new();
    let gb = t.bytes as f64 / GB;
    // Writing to a String cannot fail.
    let _ = writeln!(s, "files                   {}", t.files);
    let _ = writeln!(
        s,
        "  size known            {} ({} from the manifest, {} from the server)",
        t.from_manifest + t.from_server,
        t.from_manifest,
        t.from_server
    );
    let _ = writeln!(
        s,
        "  size unknown          {}{}",
        t.unknown,
        if t.unknown > 0 {
            " (not counted below)"
        } else {
            ""
        }
    );
    if t.bad_lines > 0 {
        let _ = writeln!(s, "  unusable lines        {}", t.bad_lines);
    }
    let _ = writeln!(
        s,
        "total (known sizes)     {} ({} bytes, {gb:.2} GB)",
        bytesize::ByteSize::b(t.bytes).display().iec(),
        t.bytes
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "time to move it");
    let link_secs = seconds(t.bytes, link);
    let bits = format!("{:.1} Gbit/s", link.bytes_per_second() * 8.0 / 1e9);
    let _ = writeln!(s, "  at the link, {bits:<16} {}", duration(link_secs));
    let planned = match measured {
        Some(rate) => {
            let secs = seconds(t.bytes, rate);
            let _ = writeln!(s, "  measured, {:<19} {}", rate.to_string(), duration(secs));
            secs
        }
        None => {
            let _ = writeln!(
                s,
                "  measured              (give --measured RATE, e.g. a `ferry copy --json` run's throughput)"
            );
            link_secs
        }
    };
    let basis = if measured.is_some() {
        "measured"
    } else {
        "link"
    };
    let stream_hours = prices.vps_hours.unwrap_or_else(|| billed_hours(planned));
    let store_hours = prices
        .vps_hours
        .unwrap_or_else(|| billed_hours(2.0 * planned));
    let service = gb * prices.service_per_gb;
    let store = vps_cost(prices, store_hours, gb);
    let stream = vps_cost(prices, stream_hours, 0.0);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "cost (GB = 2^30 bytes; VPS at ${:.2}/h, storage ${:.3}/GB-month, {basis} speed)",
        prices.vps_per_hour, prices.vps_storage_per_gb_month
    );
    let rows = [
        (
            format!("migration service, ${:.2}/GB", prices.service_per_gb),
            service,
        ),
        (
            format!("VPS, download all then upload ({store_hours} h, stores {gb:.0} GB)"),
            store,
        ),
        (
            format!("VPS, streamed by ferry ({stream_hours} h, no storage)"),
            stream,
        ),
    ];
    for (label, cost) in rows {
        let _ = writeln!(s, "  {label:<52} ${cost:>12.2}");
    }
    if prices.vps_per_hour == 0.0 {
        let _ = writeln!(s, "  (VPS compute not priced: give --vps-price-per-hour)");
    }
    s
}

fn duration(secs: f64) -> String {
    humantime::format_duration(Duration::from_secs(secs.ceil() as u64)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dollars on the table's row that contains `label`.
    fn cost(table: &str, label: &str) -> f64 {
        let row = table
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{table}"));
        row.rsplit('$').next().unwrap().trim().parse().unwrap()
    }

    /// The design document's scenario: 4 TB, $1/GB, $0.08/GB-month, 10 Gbps.
    #[test]
    fn the_documents_scenario_costs_what_it_says() {
        let t = Totals {
            files: 1000,
            bytes: 4 << 40,
            from_manifest: 1000,
            ..Totals::default()
        };
        let link: Rate = "10Gbps".parse().unwrap();
        let table = table(
            &t,
            link,
            None,
            &Prices {
                vps_per_hour: 0.5,
                ..Prices::default()
            },
        );
        assert!(
            table.contains("4.0 TiB (4398046511104 bytes, 4096.00 GB)"),
            "{table}"
        );
        // 4 TiB at 1.25 GB/s is 3518.4 s: one billed hour streamed, two stored.
        assert!(table.contains("58m 39s"), "{table}");
        assert!(table.contains("at the link, 10.0 Gbit/s"), "{table}");
        assert_eq!(cost(&table, "migration service, $1.00/GB"), 4096.0);
        // Storing 4096 GB for 2 h: 4096 * 0.08 * 2/730 = 0.90, plus 2 h * 0.5.
        assert_eq!(
            cost(&table, "download all then upload (2 h, stores 4096 GB)"),
            1.90
        );
        assert_eq!(cost(&table, "streamed by ferry (1 h, no storage)"), 0.50);
        assert!(!table.contains("not priced"), "{table}");
    }

    #[test]
    fn a_month_of_storage_is_the_documents_350_dollars() {
        let month = vps_cost(&Prices::default(), MONTH_HOURS, 4096.0);
        assert!((month - 327.68).abs() < 1e-9, "{month}");
    }

    #[test]
    fn unknown_sizes_are_reported_and_measured_speed_drives_the_hours() {
        let t = Totals {
            files: 3,
            bytes: 3 * (1 << 30),
            from_server: 2,
            unknown: 1,
            ..Totals::default()
        };
        let prices = Prices {
            vps_per_hour: 1.0,
            ..Prices::default()
        };
        let slow = Rate::new(100_000.0);
        let table = table(&t, "10Gbps".parse().unwrap(), Some(slow), &prices);
        assert!(
            table.contains("size unknown          1 (not counted below)"),
            "{table}"
        );
        // 3 GiB at 100 kB/s is 32212 s = 8.9 h -> 9 h streamed, 18 h stored.
        assert_eq!(cost(&table, "streamed by ferry (9 h, no storage)"), 9.0);
        assert!(table.contains("(18 h, stores 3 GB)"), "{table}");
        let fixed = Prices {
            vps_hours: Some(24.0),
            ..prices
        };
        let table = super::table(&t, "1Gbps".parse().unwrap(), None, &fixed);
        assert_eq!(cost(&table, "streamed by ferry (24 h, no storage)"), 24.0);
    }
}
