//! Retrying a failed attempt: exponential backoff with full jitter, capped, honouring
//! the server's `Retry-After`, and cut short by ctrl-c.

use std::time::{Duration, Instant, SystemTime};

use crate::error::TransferError;
use crate::signal::Cancel;

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Attempts after the first one.
    pub retries: u32,
    /// The first delay; each later one doubles.
    pub initial: Duration,
    /// No delay (not even a `Retry-After`) is longer than this.
    pub max: Duration,
}

impl Policy {
    /// The delay before retry number `retry` (0 for the first retry): a random point in
    /// `[cap/2, cap]` where `cap = min(max, initial * 2^retry)`, so retries from many
    /// workers spread out; a `Retry-After` raises it (never above `max`).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        let cap = self
            .initial
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        let jittered = cap.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
        match retry_after {
            Some(asked) => jittered.max(asked.min(self.max)),
            None => jittered,
        }
    }
}

/// The result of [`run`]: the last attempt's outcome and how many attempts were made.
pub struct Attempts<T> {
    /// What the last attempt returned.
    pub result: Result<T, TransferError>,
    /// 1 + the number of retries made.
    pub attempts: u32,
}

/// Calls `attempt` until it succeeds, fails with a non-retryable error, the retries run
/// out, or a stop is requested (then no new attempt starts).
pub fn run<T>(
    policy: &Policy,
    cancel: &Cancel,
    mut attempt: impl FnMut(u32) -> Result<T, TransferError>,
    mut on_retry: impl FnMut(&TransferError, Duration),
) -> Attempts<T> {
    let mut retry = 0;
    loop {
        let result = attempt(retry + 1);
        let err = match result {
            Ok(value) => {
                return Attempts {
                    result: Ok(value),
                    attempts: retry + 1,
                };
            }
            Err(err) => err,
        };
        if !err.is_retryable() || retry >= policy.retries || cancel.stopping() {
            return Attempts {
                result: Err(err),
                attempts: retry + 1,
            };
        }
        let delay = policy.delay(retry, err.retry_after(), rand::random());
        on_retry(&err, delay);
        if !cancel.sleep(delay) {
            return Attempts {
                result: Err(err),
                attempts: retry + 1,
            };
        }
        retry += 1;
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (IMF-fixdate, and the
/// obsolete RFC 850 and asctime forms, via `httpdate`). A date in the past is no wait.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// When the current attempt must give up, if `--max-time` is set.
pub fn deadline(max_time: Option<Duration>) -> Option<Instant> {
    max_time.map(|d| Instant::now() + d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        retries: 5,
        initial: Duration::from_millis(500),
        max: Duration::from_secs(30),
    };

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        for retry in 0..40 {
            let cap = Duration::from_millis(500)
                .saturating_mul(2u32.saturating_pow(retry))
                .min(POLICY.max);
            let low = POLICY.delay(retry, None, 0.0);
            let high = POLICY.delay(retry, None, 1.0);
            assert_eq!(high, cap, "retry {retry}");
            assert_eq!(low, cap / 2, "retry {retry}");
            assert!(POLICY.delay(retry, None, 0.3) <= POLICY.max);
        }
    }

    #[test]
    fn retry_after_raises_the_delay_but_not_past_the_cap() {
        let d = POLICY.delay(0, Some(Duration::from_secs(3)), 0.0);
        assert_eq!(d, Duration::from_secs(3));
        let d = POLICY.delay(0, Some(Duration::from_secs(3600)), 0.0);
        assert_eq!(d, POLICY.max);
    }

    #[test]
    fn parses_both_retry_after_forms() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let future = SystemTime::now() + Duration::from_secs(120);
        let got = parse_retry_after(&httpdate::fmt_http_date(future)).unwrap();
        assert!(
            got > Duration::from_secs(100) && got <= Duration::from_secs(120),
            "{got:?}"
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn stops_at_non_retryable_errors_and_after_the_retries() {
        let cancel = Cancel::new();
        let fast = Policy {
            retries: 3,
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
        };
        let mut calls = 0;
        let out: Attempts<()> = run(
            &fast,
            &cancel,
            |_| {
                calls += 1;
                Err(TransferError::Truncated {
                    url: "u".into(),
                    expected: 2,
                    got: 1,
                })
            },
            |_, _| {},
        );
        assert_eq!((calls, out.attempts), (4, 4));

        let out: Attempts<()> = run(
            &fast,
            &cancel,
            |_| Err(TransferError::UnknownLength { url: "u".into() }),
            |_, _| {},
        );
        assert_eq!(out.attempts, 1);

        let out = run(
            &fast,
            &cancel,
            |n| {
                if n < 3 {
                    Err(TransferError::Truncated {
                        url: "u".into(),
                        expected: 2,
                        got: 1,
                    })
                } else {
                    Ok(n)
                }
            },
            |_, _| {},
        );
        assert_eq!(out.result.unwrap(), 3);
    }
}
