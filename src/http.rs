//! How ferry talks HTTP beyond one transfer's logic: TLS trust (`--ca-cert`,
//! `--insecure`), the extra headers of each side, and following the source's redirects
//! without letting them carry credentials anywhere.
//!
//! # Redirects
//!
//! ureq would follow redirects itself, but it keeps every custom header except
//! `Authorization` and `Cookie` (so an `X-Api-Key` or a `Proxy-Authorization` would
//! travel to whatever host a source names), drops `Authorization` even on the same
//! origin, and does not compare ports. So [`get`] follows them by hand, each hop a
//! request with redirects off:
//!
//! - `Location` is resolved against the URL that answered (RFC 3986 / WHATWG, by the
//!   `url` crate), so `//other/x` is another host and `/x` the same one;
//! - when the resolved URL's origin (scheme, host, port) differs from the first URL's,
//!   the extra `--src-header`s (and with them any `Authorization`, `Cookie`,
//!   `Proxy-Authorization`) are no longer sent, for this hop and every later one,
//!   even if a later hop comes back;
//! - https → http is refused unless `--allow-downgrade`;
//! - at most [`MAX_REDIRECTS`] hops, then the job fails (not retried).
//!
//! The destination never follows redirects (see `transfer`).

use std::io::{self, Read};
use std::path::Path;

use ureq::http::Response;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::typestate::WithoutBody;
use ureq::{Agent, Body, RequestBuilder};
use url::Url;

use crate::headers::Header;

/// Redirects followed on the source side before giving up.
pub const MAX_REDIRECTS: u32 = 10;

/// The largest response header block accepted (status line and headers), in bytes.
pub const MAX_RESPONSE_HEADER: usize = 64 * 1024;

/// Bytes of an error or redirect body read (and thrown away) so the connection can be
/// reused; the rest is never read.
pub const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// Which certificates an HTTPS server must chain to.
#[derive(Clone, Debug, Default)]
pub enum Trust {
    /// Mozilla's root store (webpki-roots, built in).
    #[default]
    WebPki,
    /// Only these roots (`--ca-cert FILE`), like curl's `--cacert`.
    Roots(Vec<Certificate<'static>>),
    /// No verification at all (`--insecure`).
    Insecure,
}

/// HTTP settings of a copy, both sides.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// Extra headers on every source request (until a redirect leaves the origin).
    pub src_headers: Vec<Header>,
    /// Extra headers on every upload.
    pub dst_headers: Vec<Header>,
    /// TLS certificate verification.
    pub trust: Trust,
    /// Follow a source redirect from https to http.
    pub allow_downgrade: bool,
}

/// The TLS settings for [`Trust`].
pub fn tls_config(trust: &Trust) -> TlsConfig {
    let builder = TlsConfig::builder();
    match trust {
        Trust::WebPki => builder.root_certs(RootCerts::WebPki),
        Trust::Roots(certs) => builder.root_certs(RootCerts::new_with_certs(certs)),
        Trust::Insecure => builder.disable_verification(true),
    }
    .build()
}

/// Reads the PEM certificates of `--ca-cert FILE`. An error says which file and why.
pub fn load_ca(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(err) => return Err(format!("{} is not valid PEM: {err}", path.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The warning `--insecure` prints on every run.
pub const INSECURE_WARNING: &str = "ferry: warning: --insecure: TLS certificates are NOT verified; \
     anyone on the network path can read and change the files and steal the credentials";

/// Is this HTTP client error text a TLS certificate that did not verify? (rustls
/// reports it through an I/O error, so the text is all there is to go on.)
pub fn is_certificate_error(message: &str) -> bool {
    message.contains("invalid peer certificate") || message.contains("UnknownIssuer")
}

/// What to do about a certificate that did not verify, appended to its message.
pub const CERTIFICATE_HINT: &str =
    "the server's TLS certificate is not trusted: for a private CA pass --ca-cert FILE";

/// Adds `headers` to a request.
pub fn with_headers<B>(mut request: RequestBuilder<B>, headers: &[Header]) -> RequestBuilder<B> {
    for header in headers {
        request = request.header(header.name().clone(), header.value().clone());
    }
    request
}

/// Why [`get`] gave up.
#[derive(Debug)]
pub enum GetError {
    /// The HTTP client failed (connect, TLS, timeout, protocol).
    Http(ureq::Error),
    /// A redirect ferry will not follow; the text says why and what to do.
    Redirect(String),
}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::Http(err) if is_certificate_error(&err.to_string()) => {
                write!(f, "{err} ({CERTIFICATE_HINT})")
            }
            GetError::Http(err) => write!(f, "{err}"),
            GetError::Redirect(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for GetError {}

/// GETs `url` with the source's extra headers, following redirects as the
/// [module documentation](self) says. The response is the first that is not a
/// followed redirect; its `get_uri` is the URL that gave it.
pub fn get(agent: &Agent, opts: &HttpOptions, url: &str) -> Result<Response<Body>, GetError> {
    follow(agent, opts, url, |agent, url| agent.get(url))
}

/// [`get`] with another request: `start` makes each hop's request (a `HEAD`, a ranged
/// `GET`) for a URL; the source's headers and the redirect rules are added here.
pub fn follow(
    agent: &Agent,
    opts: &HttpOptions,
    url: &str,
    start: impl Fn(&Agent, &str) -> RequestBuilder<WithoutBody>,
) -> Result<Response<Body>, GetError> {
    let mut current = url.to_owned();
    let origin = Url::parse(url).ok().map(|u| u.origin());
    let mut trusted = true;
    for hop in 0..=MAX_REDIRECTS {
        let mut request = start(agent, &current).config().max_redirects(0).build();
        if trusted {
            request = with_headers(request, &opts.src_headers);
        }
        let mut response = request.call().map_err(GetError::Http)?;
        if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
            return Ok(response);
        }
        if hop == MAX_REDIRECTS {
            break;
        }
        let status = response.status().as_u16();
        let next = next_hop(&current, &response, status, opts.allow_downgrade)?;
        // Read a little of the redirect's body so the connection can be reused.
        let _ = io::copy(
            &mut response.body_mut().as_reader().take(ERROR_BODY_LIMIT),
            &mut io::sink(),
        );
        if origin.as_ref() != Some(&next.origin()) {
            trusted = false;
        }
        current = next.into();
    }
    Err(GetError::Redirect(format!(
        "too many redirects (more than {MAX_REDIRECTS})"
    )))
}

/// Where a redirect from `from` leads, if ferry may follow it.
fn next_hop(
    from: &str,
    response: &Response<Body>,
    status: u16,
    allow_downgrade: bool,
) -> Result<Url, GetError> {
    let refuse = |why: String| GetError::Redirect(why);
    let location = response
        .headers()
        .get("location")
        .ok_or_else(|| refuse(format!("answered HTTP {status} without a Location header")))?;
    let location = location.to_str().map_err(|_| {
        refuse(format!(
            "answered HTTP {status} with a Location that is not text"
        ))
    })?;
    let base = Url::parse(from)
        .map_err(|err| refuse(format!("cannot resolve a redirect from {from}: {err}")))?;
    let next = base.join(location).map_err(|err| {
        refuse(format!(
            "redirected to `{location}`, which is not a URL ({err})"
        ))
    })?;
    match (base.scheme(), next.scheme()) {
        ("https", "http") if !allow_downgrade => Err(refuse(format!(
            "redirected from https to {}; ferry refuses to downgrade to plain http \
             (pass --allow-downgrade to follow it)",
            crate::headers::redact_url(next.as_str())
        ))),
        (_, "http" | "https") => Ok(next),
        (_, other) => Err(refuse(format!(
            "redirected to a {other}: URL; ferry follows only http and https"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(a: &str) -> url::Origin {
        Url::parse(a).unwrap().origin()
    }

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        let base = Url::parse("http://127.0.0.1:8000/a/b").unwrap();
        let same = |loc: &str| base.join(loc).unwrap().origin() == base.origin();
        assert!(same("/x"));
        assert!(same("x"));
        assert!(same("http://127.0.0.1:8000/y"));
        assert!(!same("//127.0.0.2:8000/x"));
        assert!(!same("http://127.0.0.1:8001/x"));
        assert!(!same("https://127.0.0.1:8000/x"));
        assert!(!same("//evil.example/x"));
        // The default port is the same port.
        assert_eq!(origin("http://h/"), origin("http://h:80/"));
    }

    #[test]
    fn load_ca_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not pem").unwrap();
        let err = load_ca(&path).unwrap_err();
        assert!(err.contains("ca.pem"), "{err}");
        let err = load_ca(&dir.path().join("missing.pem")).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }
}
