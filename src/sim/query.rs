//! The source's per-request knobs, parsed from the query string: a framing override
//! (`length=0|1`) and fault injection (`fault=<kind>`).
//!
//! To add a fault: a [`Fault`] variant, its arm in [`Fault::parse`] and `Display`,
//! and its arm in the source's dispatch (`source::handle`).

use std::fmt;

use percent_encoding::percent_decode_str;

/// A misbehaviour the source can be asked for, with `?fault=<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// `truncate`: announce the full `Content-Length`, send half the body, close.
    Truncate,
    /// `status:<code>`: answer with that status (200..=599) and a short text body.
    Status(u16),
    /// `redirect:<n>`: answer 302 to the same URL with `redirect:<n-1>`; `redirect:0`
    /// serves the file.
    Redirect(u32),
}

impl Fault {
    /// Parses a decoded `fault` value.
    fn parse(value: &str) -> Result<Fault, String> {
        let (kind, arg) = value.split_once(':').unwrap_or((value, ""));
        let number = |what: &str| {
            arg.parse::<u32>()
                .map_err(|_| format!("fault {kind} needs a {what}, e.g. {kind}:3"))
        };
        match kind {
            "truncate" if arg.is_empty() => Ok(Fault::Truncate),
            "status" => match number("status code")? {
                code @ 200..=599 => Ok(Fault::Status(code as u16)),
                code => Err(format!("fault status:{code}: code must be in 200..=599")),
            },
            "redirect" => Ok(Fault::Redirect(number("hop count")?)),
            _ => Err(format!(
                "unknown fault {value:?}: try truncate, status:<code> or redirect:<n>"
            )),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Truncate => write!(f, "truncate"),
            Fault::Status(code) => write!(f, "status:{code}"),
            Fault::Redirect(hops) => write!(f, "redirect:{hops}"),
        }
    }
}

/// The knobs of one source request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Query {
    /// `length=1` forces a `Content-Length`, `length=0` forbids it (HTTP/1.0,
    /// close-delimited); `None` follows `SourceOptions::no_length`.
    pub length: Option<bool>,
    /// The fault to inject, if any.
    pub fault: Option<Fault>,
    /// The raw parameters other than `fault`, in order (kept for redirects).
    rest: Vec<String>,
}

impl Query {
    /// Parses a raw query string (without `?`). Unknown parameters are kept and
    /// ignored; a bad `length` or `fault` value is an error message for a 400.
    pub(crate) fn parse(query: &str) -> Result<Query, String> {
        let mut parsed = Query::default();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let value = percent_decode_str(value).decode_utf8_lossy();
            match key {
                "fault" => {
                    parsed.fault = Some(Fault::parse(&value)?);
                    continue;
                }
                "length" => {
                    parsed.length = Some(match &*value {
                        "0" => false,
                        "1" => true,
                        _ => return Err(format!("length={value}: use length=0 or length=1")),
                    });
                }
                _ => {}
            }
            parsed.rest.push(param.to_owned());
        }
        Ok(parsed)
    }

    /// The query string (without `?`) with the same parameters but `fault` replaced.
    pub(crate) fn with_fault(&self, fault: Option<Fault>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_length_and_faults() {
        let q = Query::parse("length=0&fault=status%3A503&x=y").unwrap();
        assert_eq!(q.length, Some(false));
        assert_eq!(q.fault, Some(Fault::Status(503)));
        assert_eq!(
            Query::parse("fault=truncate").unwrap().fault,
            Some(Fault::Truncate)
        );
        assert_eq!(
            Query::parse("fault=redirect:2").unwrap().fault,
            Some(Fault::Redirect(2))
        );
        assert_eq!(Query::parse("").unwrap(), Query::default());
    }

    #[test]
    fn rejects_unknown_or_malformed_values() {
        for bad in [
            "fault=explode",
            "fault=status:99",
            "fault=status:x",
            "fault=redirect",
            "length=2",
        ] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn with_fault_keeps_other_parameters() {
        let q = Query::parse("a=1&fault=redirect:3&length=1").unwrap();
        assert_eq!(
            q.with_fault(Some(Fault::Redirect(2))),
            "a=1&length=1&fault=redirect:2"
        );
        assert_eq!(q.with_fault(None), "a=1&length=1");
    }
}
