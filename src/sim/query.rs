//! The simulators' per-request knobs, parsed from the query string: fault injection
//! (`fault=<kind>`, a [`SourceFault`] or a [`DestinationFault`]), how often it strikes
//! (`fail_times=K`), what `Retry-After` to send (`retry_after=S` or
//! `retry_after=date:S`), and, on the source, framing (`length=0|1`) and digest headers
//! (`digest=<kind>`).
//!
//! `fail_times=K` makes a fault strike only the first K requests for the same
//! request-target (path and query), then the request is served normally: so a retry of
//! the same URL sees the server recover ([`FaultGate`]).
//!
//! `one_in=N` makes a fault strike only about one path in N (those whose FNV-1a hash is
//! a multiple of N), and `fault=a,b,c` lists several kinds, one picked per path by the
//! same hash: so one destination template such as
//! `http://dst/{name}?fault=reset,status:500&fail_times=1&one_in=10` injects mixed
//! faults into a tenth of the uploads, always the same ones.
//!
//! To add a fault: a variant, its arm in `parse` and `Display`, and its arm in the
//! side's dispatch (`source::handle` or `destination::receive`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use percent_encoding::percent_decode_str;

/// A misbehaviour the source can be asked for, with `?fault=<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceFault {
    /// `truncate`: announce the full `Content-Length`, send half the body, close.
    Truncate,
    /// `reset`: announce the full `Content-Length`, send half the body, reset (RST).
    Reset,
    /// `extra`: announce the `Content-Length`, send the body and 1000 more bytes, close.
    Extra,
    /// `dup-length`: two different `Content-Length` headers (the size and size + 1).
    DupLength,
    /// `bad-length`: an invalid `Content-Length` (`12abc`).
    BadLength,
    /// `chunked-length`: `Transfer-Encoding: chunked` and a (wrong, half) `Content-Length`.
    ChunkedLength,
    /// `chunked-cut`: a chunked body that stops, connection closed, before its last chunk.
    ChunkedCut,
    /// `bad-chunk`: a chunked body whose second chunk-size line is not hex.
    BadChunk,
    /// `gzip`: the file's bytes as they are, labelled `Content-Encoding: gzip`.
    Gzip,
    /// `silence`: the response head, then nothing (the connection is held open).
    Silence,
    /// `no-head`: read the request, answer nothing (the connection is held open).
    NoHead,
    /// `trickle`: the response head, then 16 bytes of body every 100 ms.
    Trickle,
    /// `status:<code>`: answer with that status (200..=599) and a short text body.
    Status(u16),
    /// `redirect:<n>`: answer 302 to the same URL with `redirect:<n-1>`; `redirect:0`
    /// serves the file.
    Redirect(u32),
    /// `redirect-loop`: answer 302 to the very same URL, forever.
    RedirectLoop,
    /// `no-location`: answer 302 without a `Location`.
    NoLocation,
    /// `bad-scheme`: answer 302 to an `ftp://` URL.
    BadScheme,
    /// `bad-digest`: send the `digest=<kind>` header with a wrong value.
    BadDigest,
}

/// A misbehaviour the destination can be asked for, with `?fault=<kind>` on the upload URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DestinationFault {
    /// `require-length`: 411 Length Required unless the upload has a `Content-Length`.
    RequireLength,
    /// `status:<code>`: answer that status (200..=599) *before* reading the body, then
    /// discard the body for a moment (lingering close), like a server that refuses it.
    Status(u16),
    /// `reset`: read half the body (64 KiB of a chunked one), then reset the connection.
    Reset,
    /// `no-read`: read the request head, then neither read the body nor answer.
    NoRead,
    /// `slow-read`: read the body 16 KiB every 20 ms.
    SlowRead,
    /// `expect-ignore`: never send `100 Continue`, even when asked.
    ExpectIgnore,
    /// `expect-417`: answer 417 Expectation Failed to a request with `Expect: 100-continue`.
    Expect417,
    /// `redirect:<code>`: answer that 3xx (301, 302, 303, 307, 308) before reading the
    /// body, with `Location` the same path without the fault.
    Redirect(u16),
}

/// What a side's fault enum provides to [`Query::parse`].
pub(crate) trait FaultKind: Sized + Copy + fmt::Display {
    /// Parses a decoded `fault` value, or says what is wrong with it.
    fn parse(value: &str) -> Result<Self, String>;
}

/// Splits `kind:arg` (`arg` empty if there is no `:`).
fn split(value: &str) -> (&str, &str) {
    value.split_once(':').unwrap_or((value, ""))
}

/// A fault that takes no argument: `fault` if `arg` is empty.
fn plain<F>(kind: &str, arg: &str, fault: F) -> Result<F, String> {
    match arg {
        "" => Ok(fault),
        _ => Err(format!("fault {kind} takes no argument")),
    }
}

/// Parses a fault's numeric argument, with a message naming the fault.
fn number(kind: &str, arg: &str, what: &str) -> Result<u32, String> {
    arg.parse::<u32>()
        .map_err(|_| format!("fault {kind} needs a {what}, e.g. {kind}:3"))
}

fn status_code(kind: &str, arg: &str) -> Result<u16, String> {
    match number(kind, arg, "status code")? {
        code @ 200..=599 => Ok(code as u16),
        code => Err(format!("fault {kind}:{code}: code must be in 200..=599")),
    }
}

impl FaultKind for SourceFault {
    fn parse(value: &str) -> Result<SourceFault, String> {
        let (kind, arg) = split(value);
        let plain = |fault| plain(kind, arg, fault);
        match kind {
            "truncate" => plain(SourceFault::Truncate),
            "reset" => plain(SourceFault::Reset),
            "extra" => plain(SourceFault::Extra),
            "dup-length" => plain(SourceFault::DupLength),
            "bad-length" => plain(SourceFault::BadLength),
            "chunked-length" => plain(SourceFault::ChunkedLength),
            "chunked-cut" => plain(SourceFault::ChunkedCut),
            "bad-chunk" => plain(SourceFault::BadChunk),
            "gzip" => plain(SourceFault::Gzip),
            "silence" => plain(SourceFault::Silence),
            "no-head" => plain(SourceFault::NoHead),
            "trickle" => plain(SourceFault::Trickle),
            "redirect-loop" => plain(SourceFault::RedirectLoop),
            "no-location" => plain(SourceFault::NoLocation),
            "bad-scheme" => plain(SourceFault::BadScheme),
            "bad-digest" => plain(SourceFault::BadDigest),
            "status" => Ok(SourceFault::Status(status_code(kind, arg)?)),
            "redirect" => Ok(SourceFault::Redirect(number(kind, arg, "hop count")?)),
            _ => Err(format!(
                "unknown source fault {value:?}: try truncate, reset, extra, dup-length, \
                 bad-length, chunked-length, chunked-cut, bad-chunk, gzip, silence, no-head, \
                 trickle, status:<code>, redirect:<n>, redirect-loop, no-location, bad-scheme \
                 or bad-digest"
            )),
        }
    }
}

impl fmt::Display for SourceFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            SourceFault::Truncate => "truncate",
            SourceFault::Reset => "reset",
            SourceFault::Extra => "extra",
            SourceFault::DupLength => "dup-length",
            SourceFault::BadLength => "bad-length",
            SourceFault::ChunkedLength => "chunked-length",
            SourceFault::ChunkedCut => "chunked-cut",
            SourceFault::BadChunk => "bad-chunk",
            SourceFault::Gzip => "gzip",
            SourceFault::Silence => "silence",
            SourceFault::NoHead => "no-head",
            SourceFault::Trickle => "trickle",
            SourceFault::RedirectLoop => "redirect-loop",
            SourceFault::NoLocation => "no-location",
            SourceFault::BadScheme => "bad-scheme",
            SourceFault::BadDigest => "bad-digest",
            SourceFault::Status(code) => return write!(f, "status:{code}"),
            SourceFault::Redirect(hops) => return write!(f, "redirect:{hops}"),
        };
        f.write_str(name)
    }
}

impl FaultKind for DestinationFault {
    fn parse(value: &str) -> Result<DestinationFault, String> {
        let (kind, arg) = split(value);
        let plain = |fault| plain(kind, arg, fault);
        match kind {
            "require-length" => plain(DestinationFault::RequireLength),
            "reset" => plain(DestinationFault::Reset),
            "no-read" => plain(DestinationFault::NoRead),
            "slow-read" => plain(DestinationFault::SlowRead),
            "expect-ignore" => plain(DestinationFault::ExpectIgnore),
            "expect-417" => plain(DestinationFault::Expect417),
            "status" => Ok(DestinationFault::Status(status_code(kind, arg)?)),
            "redirect" => match status_code(kind, arg)? {
                code @ (301 | 302 | 303 | 307 | 308) => Ok(DestinationFault::Redirect(code)),
                code => Err(format!(
                    "fault redirect:{code}: use 301, 302, 303, 307 or 308"
                )),
            },
            _ => Err(format!(
                "unknown destination fault {value:?}: try require-length, status:<code>, \
                 reset, no-read, slow-read, expect-ignore, expect-417 or redirect:<code>"
            )),
        }
    }
}

impl fmt::Display for DestinationFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            DestinationFault::RequireLength => "require-length",
            DestinationFault::Reset => "reset",
            DestinationFault::NoRead => "no-read",
            DestinationFault::SlowRead => "slow-read",
            DestinationFault::ExpectIgnore => "expect-ignore",
            DestinationFault::Expect417 => "expect-417",
            DestinationFault::Status(code) => return write!(f, "status:{code}"),
            DestinationFault::Redirect(code) => return write!(f, "redirect:{code}"),
        };
        f.write_str(name)
    }
}

/// The `Retry-After` a `status:<code>` fault sends, from `retry_after=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryAfter {
    /// `retry_after=S`: delay-seconds.
    Seconds(u64),
    /// `retry_after=date:S`: an HTTP-date S seconds from the time of the answer.
    Date(u64),
}

impl RetryAfter {
    fn parse(value: &str) -> Result<RetryAfter, String> {
        let bad = || format!("retry_after={value}: use retry_after=<seconds> or date:<seconds>");
        match value.strip_prefix("date:") {
            Some(secs) => secs.parse().map(RetryAfter::Date).map_err(|_| bad()),
            None => value.parse().map(RetryAfter::Seconds).map_err(|_| bad()),
        }
    }

    /// The header value to send now.
    pub(crate) fn header_value(self) -> String {
        match self {
            RetryAfter::Seconds(secs) => secs.to_string(),
            // An HTTP-date has whole seconds: round up so the wait is at least S.
            RetryAfter::Date(secs) => {
                httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(secs) + SUBSEC)
            }
        }
    }
}

/// Added to a `Retry-After` date so that truncating it to whole seconds never makes the
/// wait shorter than asked.
const SUBSEC: Duration = Duration::from_millis(999);

/// Which integrity header the source sends with a file (`digest=<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestHeader {
    /// `digest=content-md5`: `Content-MD5: <base64 MD5>` (RFC 1864).
    ContentMd5,
    /// `digest=md5`: `Digest: MD5=<base64>` (RFC 3230).
    DigestMd5,
    /// `digest=sha-256`: `Digest: SHA-256=<base64>` (RFC 3230).
    DigestSha256,
    /// `digest=repr`: `Repr-Digest: sha-256=:<base64>:` (RFC 9530).
    Repr,
    /// `digest=content`: `Content-Digest: sha-256=:<base64>:` (RFC 9530).
    Content,
}

impl DigestHeader {
    fn parse(value: &str) -> Result<DigestHeader, String> {
        Ok(match value {
            "content-md5" => DigestHeader::ContentMd5,
            "md5" => DigestHeader::DigestMd5,
            "sha-256" => DigestHeader::DigestSha256,
            "repr" => DigestHeader::Repr,
            "content" => DigestHeader::Content,
            _ => {
                return Err(format!(
                    "digest={value}: use content-md5, md5, sha-256, repr or content"
                ));
            }
        })
    }
}

/// The knobs of one request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Query<F> {
    /// `length=1` forces a `Content-Length`, `length=0` forbids it (HTTP/1.0,
    /// close-delimited); `None` follows `SourceOptions::no_length`. Source only.
    pub length: Option<bool>,
    /// The fault to inject, if any (the first of `fault=a,b,c`).
    pub fault: Option<F>,
    /// Every kind `fault=` lists.
    pub faults: Vec<F>,
    /// Strike only about one path in N (`one_in=N`).
    pub one_in: Option<u64>,
    /// Strike only the first K requests for this request-target (`None`: every one).
    pub fail_times: Option<u32>,
    /// The `Retry-After` to send with a `status:<code>` fault.
    pub retry_after: Option<RetryAfter>,
    /// The integrity header to send with the file. Source only.
    pub digest: Option<DigestHeader>,
    /// The raw parameters other than `fault`, in order (kept for redirects).
    rest: Vec<String>,
}

impl<F> Default for Query<F> {
    fn default() -> Self {
        Query {
            length: None,
            fault: None,
            faults: Vec::new(),
            one_in: None,
            fail_times: None,
            retry_after: None,
            digest: None,
            rest: Vec::new(),
        }
    }
}

impl<F: FaultKind> Query<F> {
    /// Parses a raw query string (without `?`). Unknown parameters are kept and
    /// ignored; a bad known value is an error message for a 400.
    pub(crate) fn parse(query: &str) -> Result<Query<F>, String> {
        let mut parsed = Query::default();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let value = percent_decode_str(value).decode_utf8_lossy();
            match key {
                "fault" => {
                    parsed.faults = value.split(',').map(F::parse).collect::<Result<_, _>>()?;
                    parsed.fault = parsed.faults.first().copied();
                    continue;
                }
                "one_in" => match value.parse() {
                    Ok(n) if n > 0 => parsed.one_in = Some(n),
                    _ => return Err(format!("one_in={value}: use a count above 0, e.g. 10")),
                },
                "length" => {
                    parsed.length = Some(match &*value {
                        "0" => false,
                        "1" => true,
                        _ => return Err(format!("length={value}: use length=0 or length=1")),
                    });
                }
                "fail_times" => {
                    let n = value
                        .parse()
                        .map_err(|_| format!("fail_times={value}: use a count, e.g. 2"))?;
                    parsed.fail_times = Some(n);
                }
                "retry_after" => parsed.retry_after = Some(RetryAfter::parse(&value)?),
                "digest" => parsed.digest = Some(DigestHeader::parse(&value)?),
                _ => {}
            }
            parsed.rest.push(param.to_owned());
        }
        Ok(parsed)
    }

    /// The fault that strikes this request to `target` (whose path is `path`), if any:
    /// picked by `one_in` and the path's hash, then let through by the `gate`.
    pub(crate) fn fault_for(&self, path: &str, target: &str, gate: &FaultGate) -> Option<F> {
        let hash = fnv1a(path.as_bytes());
        let fault = match self.one_in {
            None => self.fault?,
            Some(n) if hash.is_multiple_of(n) => {
                let k = (hash / n) % self.faults.len().max(1) as u64;
                *self.faults.get(k as usize)?
            }
            Some(_) => return None,
        };
        gate.strikes(target, self.fail_times).then_some(fault)
    }

    /// The query string (without `?`) with the same parameters but `fault` replaced.
    pub(crate) fn with_fault(&self, fault: Option<F>) -> String {
        let fault = fault.map(|f| format!("fault={f}"));
        let params: Vec<&str> = self
            .rest
            .iter()
            .map(String::as_str)
            .chain(fault.as_deref())
            .collect();
        params.join("&")
    }
}

/// FNV-1a, 64 bits: a stable hash of a path (std's hasher is seeded per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Counts the requests each fault has struck, per request-target, for `fail_times`.
#[derive(Debug, Default)]
pub(crate) struct FaultGate {
    struck: Mutex<HashMap<String, u32>>,
}

impl FaultGate {
    /// Whether the fault of a request to `target` strikes this time: always without
    /// `fail_times`, else for the first `fail_times` requests to that target.
    pub(crate) fn strikes(&self, target: &str, fail_times: Option<u32>) -> bool {
        let Some(limit) = fail_times else {
            return true;
        };
        // A panic elsewhere cannot leave a counter half-written: keep going.
        let mut struck = self.struck.lock().unwrap_or_else(PoisonError::into_inner);
        let count = struck.entry(target.to_owned()).or_default();
        if *count < limit {
            *count += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Src = Query<SourceFault>;
    type Dst = Query<DestinationFault>;

    #[test]
    fn parses_length_and_faults() {
        let q = Src::parse("length=0&fault=status%3A503&x=y").unwrap();
        assert_eq!(q.length, Some(false));
        assert_eq!(q.fault, Some(SourceFault::Status(503)));
        assert_eq!(
            Src::parse("fault=truncate").unwrap().fault,
            Some(SourceFault::Truncate)
        );
        assert_eq!(
            Src::parse("fault=redirect:2").unwrap().fault,
            Some(SourceFault::Redirect(2))
        );
        assert_eq!(Src::parse("").unwrap(), Src::default());
        let q = Dst::parse("fault=status:503&fail_times=2&retry_after=date:3").unwrap();
        assert_eq!(q.fault, Some(DestinationFault::Status(503)));
        assert_eq!(q.fail_times, Some(2));
        assert_eq!(q.retry_after, Some(RetryAfter::Date(3)));
        assert_eq!(
            Src::parse("digest=repr").unwrap().digest,
            Some(DigestHeader::Repr)
        );
    }

    #[test]
    fn every_fault_name_parses_back_to_itself() {
        for name in [
            "truncate",
            "reset",
            "extra",
            "dup-length",
            "bad-length",
            "chunked-length",
            "chunked-cut",
            "bad-chunk",
            "gzip",
            "silence",
            "no-head",
            "trickle",
            "status:429",
            "redirect:3",
            "redirect-loop",
            "no-location",
            "bad-scheme",
            "bad-digest",
        ] {
            assert_eq!(SourceFault::parse(name).unwrap().to_string(), name);
        }
        for name in [
            "require-length",
            "status:413",
            "reset",
            "no-read",
            "slow-read",
            "expect-ignore",
            "expect-417",
            "redirect:307",
        ] {
            assert_eq!(DestinationFault::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn rejects_unknown_or_malformed_values() {
        for bad in [
            "fault=explode",
            "fault=status:99",
            "fault=status:x",
            "fault=redirect",
            "fault=truncate:1",
            "length=2",
            "fail_times=x",
            "retry_after=soon",
            "digest=crc",
        ] {
            assert!(Src::parse(bad).is_err(), "{bad}");
        }
        assert!(Dst::parse("fault=redirect:300").is_err());
        assert!(Dst::parse("fault=gzip").is_err());
    }

    #[test]
    fn with_fault_keeps_other_parameters() {
        let q = Src::parse("a=1&fault=redirect:3&length=1").unwrap();
        assert_eq!(
            q.with_fault(Some(SourceFault::Redirect(2))),
            "a=1&length=1&fault=redirect:2"
        );
        assert_eq!(q.with_fault(None), "a=1&length=1");
    }

    #[test]
    fn the_gate_strikes_k_times_per_target() {
        let gate = FaultGate::default();
        let hits: Vec<bool> = (0..4).map(|_| gate.strikes("/a", Some(2))).collect();
        assert_eq!(hits, [true, true, false, false]);
        assert!(gate.strikes("/b", Some(1)));
        assert!(gate.strikes("/c", None) && gate.strikes("/c", None));
    }

    #[test]
    fn one_in_picks_a_stable_share_of_paths_and_mixes_kinds() {
        let q = Dst::parse("fault=reset,status:500&one_in=10").unwrap();
        let gate = FaultGate::default();
        let picked: Vec<_> = (0..2000)
            .map(|i| format!("/f{i}"))
            .filter_map(|p| q.fault_for(&p, &p, &gate))
            .collect();
        assert!((100..300).contains(&picked.len()), "{}", picked.len());
        assert!(picked.contains(&DestinationFault::Reset));
        assert!(picked.contains(&DestinationFault::Status(500)));
        let again = (0..2000)
            .map(|i| format!("/f{i}"))
            .filter_map(|p| q.fault_for(&p, &p, &gate))
            .count();
        assert_eq!(again, picked.len(), "the same paths every time");
        assert!(Dst::parse("one_in=0").is_err());
        assert!(Dst::parse("fault=reset,bogus").is_err());
    }

    #[test]
    fn retry_after_dates_are_http_dates_in_the_future() {
        let value = RetryAfter::Date(5).header_value();
        let when = httpdate::parse_http_date(&value).unwrap();
        let ahead = when.duration_since(SystemTime::now()).unwrap();
        assert!(ahead >= Duration::from_secs(4), "{value}");
        assert_eq!(RetryAfter::Seconds(7).header_value(), "7");
    }
}
