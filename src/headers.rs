//! Extra request headers per side (`--src-header`, `--dst-header`) and keeping secrets
//! out of everything ferry prints or writes.
//!
//! A header is given as `Name: value`. The value can also come from the environment
//! (`Name: env:VAR`) or from a file (`Name: @path`, trailing newline removed), so a
//! token never has to be on the command line, where `ps` and shell history see it.
//!
//! Header values are never printed: [`Header`]'s `Debug` shows the name only, every
//! value is marked sensitive for the HTTP client, and parse errors name the header but
//! not its value. [`redact_url`] hides the password of a URL's userinfo in messages and
//! the journal.

use std::borrow::Cow;
use std::fmt;

use ureq::http::{HeaderName, HeaderValue};

/// One extra request header, value kept secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    name: HeaderName,
    value: HeaderValue,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: <redacted>", self.name)
    }
}

impl Header {
    /// Parses `Name: value`, `Name: env:VAR` or `Name: @path`, looking variables up with
    /// `env` (the process environment in [`Header::parse`]). The error text never
    /// contains the value.
    pub fn parse_with(
        arg: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Header, HeaderError> {
        let (name, value) = arg.split_once(':').ok_or(HeaderError::NoColon)?;
        let name = name.trim();
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HeaderError::BadName(name.to_owned()))?;
        let value = value.trim();
        let named = |what| HeaderError::Value {
            name: name.to_string(),
            what,
        };
        let text = if let Some(var) = value.strip_prefix("env:") {
            env(var).ok_or_else(|| named(format!("environment variable {var} is not set")))?
        } else if let Some(path) = value.strip_prefix('@') {
            let text = std::fs::read_to_string(path)
                .map_err(|err| named(format!("cannot read {path}: {err}")))?;
            text.trim_end_matches(['\r', '\n']).to_owned()
        } else {
            value.to_owned()
        };
        let mut value = HeaderValue::from_str(text.trim())
            .map_err(|_| named("the value has a control character or a line break".into()))?;
        value.set_sensitive(true);
        if is_hop_by_hop(&name) {
            return Err(HeaderError::Reserved(name.to_string()));
        }
        Ok(Header { name, value })
    }

    /// [`Header::parse_with`] the process environment.
    pub fn parse(arg: &str) -> Result<Header, HeaderError> {
        Header::parse_with(arg, |var| std::env::var(var).ok())
    }

    /// The header's name (lowercase).
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The header's value (marked sensitive).
    pub fn value(&self) -> &HeaderValue {
        &self.value
    }

    /// Is this a header that carries credentials, dropped on any redirect that leaves
    /// the origin? ferry drops every extra header then; these three go even when the
    /// HTTP client itself would add them.
    pub fn is_credential(name: &HeaderName) -> bool {
        CREDENTIALS.contains(&name.as_str())
    }
}

/// Headers that carry credentials: dropped on a redirect to another origin.
pub const CREDENTIALS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Headers ferry computes itself (framing, connection management): refused as extras.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length" | "transfer-encoding" | "connection" | "host" | "te" | "upgrade"
    )
}

/// Why a `--src-header`/`--dst-header` was refused. Never holds the header's value.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// No `:` between name and value.
    NoColon,
    /// The name is not a valid header name.
    BadName(String),
    /// A header ferry sets itself.
    Reserved(String),
    /// The value could not be had (missing variable, unreadable file) or is invalid.
    Value {
        /// The header's name.
        name: String,
        /// What went wrong.
        what: String,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::NoColon => f.write_str(
                "a header has no `:`; write it as 'Name: value', 'Name: env:VAR' or 'Name: @file'",
            ),
            HeaderError::BadName(name) => write!(
                f,
                "`{name}` is not a valid header name; write the header as 'Name: value'"
            ),
            HeaderError::Reserved(name) => write!(
                f,
                "header {name} is set by ferry itself and cannot be given; leave it out"
            ),
            HeaderError::Value { name, what } => write!(
                f,
                "header {name}: {what}; the value is text, env:VAR or @FILE"
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

/// `url` with the password of its userinfo replaced by `***` (a user name alone, which
/// may be a token, is replaced too), for messages and the journal.
///
/// ```
/// # use ferry::headers::redact_url;
/// assert_eq!(redact_url("https://me:pw@h/x"), "https://me:***@h/x");
/// assert_eq!(redact_url("https://token@h/x"), "https://***@h/x");
/// assert_eq!(redact_url("https://h/x?a=b@c"), "https://h/x?a=b@c");
/// ```
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(url);
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end].rfind('@') else {
        return Cow::Borrowed(url);
    };
    let userinfo = &url[scheme_end..scheme_end + at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_owned(),
    };
    Cow::Owned(format!(
        "{}{shown}{}",
        &url[..scheme_end],
        &url[scheme_end + at..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        (var == "TOKEN").then(|| "Bearer s3cret".to_owned())
    }

    #[test]
    fn parses_literal_env_and_file_values() {
        let h = Header::parse_with("X-Thing:  a b ", env).unwrap();
        assert_eq!(h.name().as_str(), "x-thing");
        assert_eq!(h.value().to_str().unwrap(), "a b");

        let h = Header::parse_with("Authorization: env:TOKEN", env).unwrap();
        assert_eq!(h.value().to_str().unwrap(), "Bearer s3cret");
        assert!(h.value().is_sensitive());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "Bearer from-file\n").unwrap();
        let h = Header::parse_with(&format!("Authorization: @{}", path.display()), env).unwrap();
        assert_eq!(h.value().to_str().unwrap(), "Bearer from-file");
    }

    #[test]
    fn errors_never_show_the_value() {
        for (arg, expected) in [
            ("Authorization Bearer s3cret", HeaderError::NoColon),
            ("Bad Name: s3cret", HeaderError::BadName("Bad Name".into())),
            (
                "Content-Length: 5",
                HeaderError::Reserved("content-length".into()),
            ),
        ] {
            let err = Header::parse_with(arg, env).unwrap_err();
            assert_eq!(err, expected);
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
        let err = Header::parse_with("Authorization: env:MISSING", env).unwrap_err();
        assert!(err.to_string().contains("MISSING is not set"), "{err}");
        let err = Header::parse_with("Authorization: @/nonexistent/token", env).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/token"), "{err}");
        let err = Header::parse_with("X: a\u{1}s3cret", env).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn debug_hides_the_value() {
        let h = Header::parse_with("Authorization: env:TOKEN", env).unwrap();
        let shown = format!("{h:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("authorization"), "{shown}");
    }

    #[test]
    fn redacts_userinfo_only() {
        for (url, shown) in [
            ("http://u:p@h:1/x", "http://u:***@h:1/x"),
            ("http://u@h/", "http://***@h/"),
            ("http://h/a@b", "http://h/a@b"),
            ("http://h", "http://h"),
            ("http://a:b@c@h/", "http://a:***@h/"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
