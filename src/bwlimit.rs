//! `--bwlimit`: one token bucket that every worker pays into, lock-free.
//!
//! The bucket is a GCRA ("virtual scheduling"): a single atomic holds the theoretical
//! time at which everything taken so far would have gone out at the configured rate.
//! Taking `n` bytes pushes that time forward by `n / rate` with one compare-and-swap, and
//! the taker waits for however far it lies beyond now plus the burst allowance. So the
//! long-run rate is exact whatever the number of workers, idle time earns at most one
//! burst of credit, and no lock is taken per chunk. Time comes from a [`Clock`], so the
//! arithmetic is tested without the wall clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::rate::Rate;

/// Where the bucket reads the time: nanoseconds since some fixed start.
pub trait Clock: Send + Sync {
    /// Nanoseconds since this clock's start.
    fn now_ns(&self) -> u64;
}

/// The real, monotonic clock.
#[derive(Debug)]
pub struct Monotonic(Instant);

impl Default for Monotonic {
    fn default() -> Self {
        Monotonic(Instant::now())
    }
}

impl Clock for Monotonic {
    fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// A token bucket shared by all workers.
#[derive(Debug)]
pub struct Bucket<C: Clock = Monotonic> {
    rate: Rate,
    ns_per_byte: f64,
    burst_ns: u64,
    /// The theoretical time (clock nanoseconds) at which all bytes taken so far are paid.
    paid_until: AtomicU64,
    clock: C,
}

/// Credit an idle bucket may accumulate: this much time at the full rate.
pub const BURST: Duration = Duration::from_millis(100);

impl Bucket<Monotonic> {
    /// A bucket limiting to `rate`, on the real clock.
    pub fn new(rate: Rate) -> Self {
        Bucket::with_clock(rate, BURST, Monotonic::default())
    }
}

impl<C: Clock> Bucket<C> {
    /// A bucket limiting to `rate` with `burst` of credit, reading time from `clock`.
    pub fn with_clock(rate: Rate, burst: Duration, clock: C) -> Self {
        Bucket {
            rate,
            ns_per_byte: 1e9 / rate.bytes_per_second(),
            burst_ns: burst.as_nanos() as u64,
            paid_until: AtomicU64::new(0),
            clock,
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The largest read worth making at once: a tenth of a second of the rate (at least
    /// 4 KiB), so that one worker's wait stays short and the rate stays smooth.
    pub fn chunk(&self) -> usize {
        ((self.rate.bytes_per_second() / 10.0) as usize).max(4096)
    }

    /// Takes `n` bytes from the bucket and returns how long the caller must wait before
    /// letting them go on (zero while there is credit).
    pub fn take(&self, n: u64) -> Duration {
        let now = self.clock.now_ns();
        let cost = (n as f64 * self.ns_per_byte) as u64;
        let step = |paid: u64| paid.max(now).saturating_add(cost);
        let previous = self
            .paid_until
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |paid| Some(step(paid)))
            // The closure always returns Some, so the update cannot fail.
            .unwrap_or_else(|paid| paid);
        let paid = step(previous);
        Duration::from_nanos(paid.saturating_sub(now.saturating_add(self.burst_ns)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A clock that moves only when told.
    #[derive(Clone, Default)]
    struct Manual(Arc<AtomicU64>);

    impl Manual {
        fn advance(&self, d: Duration) {
            self.0.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
        }
    }

    impl Clock for Manual {
        fn now_ns(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn bucket(bytes_per_second: f64, burst: Duration) -> (Bucket<Manual>, Manual) {
        let clock = Manual::default();
        let bucket = Bucket::with_clock(Rate::new(bytes_per_second), burst, clock.clone());
        (bucket, clock)
    }

    #[test]
    fn a_fresh_bucket_lends_one_burst_then_charges_the_rate() {
        let (bucket, clock) = bucket(1000.0, Duration::from_millis(100));
        clock.advance(Duration::from_secs(5));
        // 100 bytes = 100 ms, exactly the burst: no wait.
        assert_eq!(bucket.take(100), Duration::ZERO);
        // The next 500 bytes are 500 ms beyond the burst.
        assert_eq!(bucket.take(500), Duration::from_millis(500));
    }

    #[test]
    fn idle_time_earns_at_most_one_burst() {
        let (bucket, clock) = bucket(1000.0, Duration::from_millis(100));
        assert_eq!(bucket.take(1000), Duration::from_millis(900));
        clock.advance(Duration::from_secs(60));
        assert_eq!(bucket.take(100), Duration::ZERO);
        assert_eq!(bucket.take(100), Duration::from_millis(100));
    }

    /// Simulates workers that each take a chunk, sleep what they are told (on the
    /// manual clock), and repeat: the bytes moved over 10 simulated seconds match the
    /// rate within 2%, whatever the number of workers.
    #[test]
    fn many_takers_share_the_rate_over_ten_seconds() {
        for workers in [1usize, 3, 8] {
            let rate = 50.0 * 1024.0 * 1024.0;
            let (bucket, clock) = bucket(rate, BURST);
            let chunk = bucket.chunk() as u64;
            // Each worker's next wake-up time (ns) and the bytes it releases then.
            let mut wake = vec![0u64; workers];
            let mut pending = vec![0u64; workers];
            let mut released = 0u64;
            let end = Duration::from_secs(10).as_nanos() as u64;
            loop {
                let (w, &at) = wake.iter().enumerate().min_by_key(|(_, t)| **t).unwrap();
                if at > end {
                    break;
                }
                let now = clock.now_ns();
                clock.advance(Duration::from_nanos(at.saturating_sub(now)));
                released += pending[w];
                let wait = bucket.take(chunk);
                pending[w] = chunk;
                wake[w] = clock.now_ns() + wait.as_nanos() as u64;
            }
            let moved = released;
            let expected = rate * 10.0 + rate * BURST.as_secs_f64();
            let error = (moved as f64 - expected).abs() / expected;
            assert!(
                error < 0.02,
                "{workers} workers moved {moved}, expected {expected}"
            );
        }
    }

    #[test]
    fn chunks_are_a_tenth_of_a_second() {
        let (fast, _) = bucket(10.0 * 1024.0 * 1024.0, BURST);
        assert_eq!(fast.chunk(), 1024 * 1024);
        let (slow, _) = bucket(100.0, BURST);
        assert_eq!(slow.chunk(), 4096);
    }
}
