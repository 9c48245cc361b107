//! Rates with units, as the command line gives them (`--bwlimit 50MiB/s`, `--link 10Gbps`,
//! `--measured 400MB/s`), and their display.
//!
//! The byte part (`50MiB`, `10M`, `1.5GB`) is parsed by `bytesize`, like every size ferry
//! takes; only the rate suffixes are handled here: `/s` or `ps` is optional, and a
//! lowercase `bps` or `bit`/`bit/s` means bits, so `10Gbps` is 1.25 GB/s.

use std::fmt;

/// A rate in bytes per second (never zero).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(f64);

impl Rate {
    /// A rate of `bytes_per_second` (clamped to at least one byte per second).
    pub fn new(bytes_per_second: f64) -> Self {
        Rate(bytes_per_second.max(1.0))
    }

    /// Bytes per second.
    pub fn bytes_per_second(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/s",
            bytesize::ByteSize::b(self.0 as u64).display().si()
        )
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a rate; use e.g. 50MiB/s, 10M (bytes per second) or 10Gbps (bits)"
            )
        };
        let t = text.trim();
        let t = t.strip_suffix("/s").unwrap_or(t);
        let (number, bits) = if let Some(rest) = t.strip_suffix("bps") {
            (rest.to_string(), true)
        } else if let Some(rest) = t.strip_suffix("bit") {
            (rest.to_string(), true)
        } else if let Some(rest) = t.strip_suffix("Bps") {
            (format!("{rest}B"), false)
        } else {
            (t.to_string(), false)
        };
        let number = number.trim();
        // "10G" as bits: bytesize reads the prefix, the unit is then bits.
        let size = number
            .parse::<bytesize::ByteSize>()
            .map_err(|_| bad())?
            .as_u64() as f64;
        let per_second = if bits { size / 8.0 } else { size };
        if per_second < 1.0 {
            return Err(format!("{text:?} is less than one byte per second"));
        }
        Ok(Rate(per_second))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> f64 {
        text.parse::<Rate>().unwrap().bytes_per_second()
    }

    #[test]
    fn parses_bytes_and_bits_with_units() {
        assert_eq!(rate("50MiB/s"), 50.0 * 1024.0 * 1024.0);
        assert_eq!(rate("10M"), 10e6);
        assert_eq!(rate("1.5GB/s"), 1.5e9);
        assert_eq!(rate("10Gbps"), 1.25e9);
        assert_eq!(rate("100Mbit/s"), 12.5e6);
        assert_eq!(rate("20MBps"), 20e6);
        assert_eq!(rate("4096"), 4096.0);
    }

    #[test]
    fn rejects_what_is_not_a_rate() {
        for text in ["", "fast", "0", "10Q", "-5M", "0bps"] {
            assert!(text.parse::<Rate>().is_err(), "{text:?} was accepted");
        }
    }
}
