//! The destination URL template: validating it once, then expanding it for each file.
//!
//! A template is a URL such as `http://host/upload/{name}` with placeholders:
//!
//! - `{name}`: the file's name (from [`crate::names::resolve`]), percent-encoded so that
//!   it is always exactly one path segment;
//! - `{index}`: the job's index, in decimal;
//! - `{src_path}`: the source URL's path without its leading `/`, each segment
//!   percent-decoded once and re-encoded like `{name}`, so a tree can be mirrored
//!   (`http://src/a/b%20c.txt` gives `a/b%20c.txt`). Empty segments are dropped; a
//!   `.` or `..` segment (also as `%2E`) is refused ([`SrcPathError`]), so a source
//!   URL can never climb out of the template's directory.
//!
//! # Rules checked when parsing
//!
//! - it starts with `http://` or `https://` (the scheme in any case) and has a non-empty
//!   host and, if given, a numeric port;
//! - `{name}`, `{index}` and `{src_path}` are the only placeholders; any other `{...}`, or a `{` or `}`
//!   without its partner, is an error (a literal brace is written `%7B` / `%7D`);
//! - placeholders appear only in the path or the query: never in the authority
//!   (`user@host:port`), so a file name can never choose the server, and never in the
//!   fragment, which is not sent;
//! - with the placeholders filled in, the whole is a valid URI for the HTTP client.
//!
//! A template without placeholders is valid too: every file goes to the same URL
//! ([`Template::is_per_file`] is then false).

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use ureq::http::Uri;

/// What `{name}` expands through: everything except RFC 3986 `unreserved`
/// (`ALPHA / DIGIT / "-" / "." / "_" / "~"`) is `%XX`-encoded, so no character of a
/// name can end its segment (`/`), start a query (`?`) or fragment (`#`), or forge an
/// escape (`%`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A validated destination template such as `http://host/upload/{name}`.
///
/// Built with [`str::parse`]; see the [module documentation](self) for the rules.
///
/// ```
/// # use ferry::template::Template;
/// let template: Template = "http://host/upload/{index}-{name}".parse()?;
/// assert_eq!(template.expand("a b/c.txt", 7), "http://host/upload/7-a%20b%2Fc.txt");
/// # Ok::<(), ferry::template::TemplateError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Template {
    /// The template as the user wrote it.
    text: String,
    /// `text` split into literals and placeholders, in order.
    parts: Vec<Part>,
}

/// A piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Name,
    Index,
    SrcPath,
}

impl Part {
    /// The placeholder as written in a template, for error messages.
    fn placeholder(&self) -> &'static str {
        match self {
            Part::Name => "{name}",
            Part::Index => "{index}",
            Part::SrcPath => "{src_path}",
            Part::Literal(_) => "",
        }
    }
}

/// Why a destination template was rejected. Every variant carries the template as given.
#[derive(Debug)]
pub enum TemplateError {
    /// It does not start with `http://` or `https://`.
    Scheme {
        /// The template as given.
        template: String,
    },
    /// The authority has no host, as in `http:///x` or `http://:80/x`.
    NoHost {
        /// The template as given.
        template: String,
    },
    /// With placeholders filled in, it is still not a URI the HTTP client accepts.
    InvalidUrl {
        /// The template as given.
        template: String,
        /// What the URI parser (or the port check) objected to.
        reason: String,
    },
    /// A `{...}` other than `{name}` or `{index}`.
    UnknownPlaceholder {
        /// The template as given.
        template: String,
        /// The offending placeholder, braces included.
        placeholder: String,
    },
    /// A `{` without a closing `}`, or a `}` without an opening `{`.
    UnmatchedBrace {
        /// The template as given.
        template: String,
        /// The brace, `{` or `}`.
        brace: char,
        /// Its byte offset in the template.
        offset: usize,
    },
    /// A placeholder in the authority (`user@host:port`), where it could choose the server.
    PlaceholderInAuthority {
        /// The template as given.
        template: String,
        /// `{name}` or `{index}`.
        placeholder: &'static str,
    },
    /// A placeholder in the fragment (after `#`), which is never sent to the server.
    PlaceholderInFragment {
        /// The template as given.
        template: String,
        /// `{name}` or `{index}`.
        placeholder: &'static str,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Scheme { template } => write!(
                f,
                "destination template `{template}` must start with http:// or https://; \
                 write a full URL such as http://host/upload/{{name}}"
            ),
            TemplateError::NoHost { template } => write!(
                f,
                "destination template `{template}` has no host; \
                 write it as http://HOST[:PORT]/path/{{name}}"
            ),
            TemplateError::InvalidUrl { template, reason } => write!(
                f,
                "destination template `{template}` is not a valid URL ({reason}); \
                 check it and percent-encode spaces and other special characters"
            ),
            TemplateError::UnknownPlaceholder {
                template,
                placeholder,
            } => write!(
                f,
                "unknown placeholder `{placeholder}` in destination template `{template}`; \
                 the placeholders are {{name}}, {{index}} and {{src_path}}"
            ),
            TemplateError::UnmatchedBrace {
                template,
                brace,
                offset,
            } => write!(
                f,
                "unmatched `{brace}` at byte {offset} of destination template `{template}`; \
                 the placeholders are {{name}} and {{index}}, and a literal brace is written \
                 {}",
                if *brace == '{' { "%7B" } else { "%7D" }
            ),
            TemplateError::PlaceholderInAuthority {
                template,
                placeholder,
            } => write!(
                f,
                "placeholder {placeholder} is in the host part of destination template \
                 `{template}`; move it into the path or query, a file must never choose the server"
            ),
            TemplateError::PlaceholderInFragment {
                template,
                placeholder,
            } => write!(
                f,
                "placeholder {placeholder} is in the fragment of destination template \
                 `{template}`, which is never sent to the server; move it into the path or query"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

impl FromStr for Template {
    type Err = TemplateError;

    /// Parses and validates a template; see the [module documentation](self) for the rules.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let template = || text.to_owned();
        let scheme_len = ["http://", "https://"]
            .into_iter()
            .find(|scheme| {
                text.as_bytes()
                    .get(..scheme.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(scheme.as_bytes()))
            })
            .map(str::len)
            .ok_or_else(|| TemplateError::Scheme {
                template: template(),
            })?;

        let placed = split_placeholders(text)?;

        // The authority runs from after `://` to the first `/`, `?` or `#`, as in RFC 3986;
        // none of those can occur in a placeholder, so the split is the same after expansion.
        let authority_end = text[scheme_len..]
            .find(['/', '?', '#'])
            .map_or(text.len(), |i| scheme_len + i);
        let fragment_start = text[authority_end..]
            .find('#')
            .map_or(text.len(), |i| authority_end + i);
        for (offset, part) in &placed {
            if !matches!(part, Part::Literal(_)) {
                if *offset < authority_end {
                    return Err(TemplateError::PlaceholderInAuthority {
                        template: template(),
                        placeholder: part.placeholder(),
                    });
                }
                if *offset > fragment_start {
                    return Err(TemplateError::PlaceholderInFragment {
                        template: template(),
                        placeholder: part.placeholder(),
                    });
                }
            }
        }
        let parts: Vec<Part> = placed.into_iter().map(|(_, part)| part).collect();
        // `http:///x` fails the URI parser as "invalid format"; say what is missing.
        let authority = &text[scheme_len..authority_end];
        let host_part = authority.rsplit('@').next().unwrap_or(authority);
        if host_part.is_empty() || host_part.starts_with(':') {
            return Err(TemplateError::NoHost {
                template: template(),
            });
        }

        // Validate the URL as the client will see it, with a plain stand-in for each placeholder.
        let sample = expand_parts(&parts, "x", 0, "x");
        let uri: Uri =
            sample
                .parse()
                .map_err(|e: ureq::http::uri::InvalidUri| TemplateError::InvalidUrl {
                    template: template(),
                    reason: e.to_string(),
                })?;
        let host = uri.host().unwrap_or_default();
        if host.is_empty() {
            return Err(TemplateError::NoHost {
                template: template(),
            });
        }
        // The URI parser accepts any text after `host:`; the client needs a port number.
        let authority = uri.authority().map_or("", |a| a.as_str());
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        if let Some(port) = host_port
            .strip_prefix(host)
            .and_then(|p| p.strip_prefix(':'))
            && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok())
        {
            return Err(TemplateError::InvalidUrl {
                template: template(),
                reason: format!("port `{port}` is not a number from 0 to 65535"),
            });
        }

        Ok(Template {
            text: text.to_owned(),
            parts,
        })
    }
}

impl Template {
    /// Does the template contain a per-file placeholder ({name}, {index} or {src_path})?
    pub fn is_per_file(&self) -> bool {
        self.parts
            .iter()
            .any(|part| !matches!(part, Part::Literal(_)))
    }

    /// Does it contain {name} or {index}, which differ between the files of one source
    /// URL (document mode, where {src_path} is the same for every file)?
    pub fn names_each_file(&self) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Name | Part::Index))
    }

    /// Expands for one file: `{name}` -> name percent-encoded as exactly one path segment
    /// (everything except RFC 3986 unreserved ALPHA/DIGIT/-._~ is %XX-encoded, so `/`, `?`,
    /// `#`, `%` can never escape the segment), `{index}` -> decimal.
    ///
    /// A name that is exactly `.` or `..` has its dots encoded too (`%2E`), so it does not
    /// read as a dot-segment; [`crate::names::resolve`] never returns such a name, nor an
    /// empty one, which would leave an empty segment.
    ///
    /// `{src_path}` expands to nothing here: use [`Template::expand_for`] when the
    /// template may contain it.
    pub fn expand(&self, name: &str, index: u64) -> String {
        expand_parts(&self.parts, name, index, "")
    }

    /// [`Template::expand`], with `{src_path}` taken from the source URL `src`.
    pub fn expand_for(&self, name: &str, index: u64, src: &str) -> Result<String, SrcPathError> {
        Ok(self.expand_with(name, index, &self.src_path_of(src)?))
    }

    /// What `{src_path}` becomes for the source URL `src` ([`src_path`]), or an empty
    /// string when the template does not use it (then any `src` will do).
    pub fn src_path_of(&self, src: &str) -> Result<String, SrcPathError> {
        if self.parts.contains(&Part::SrcPath) {
            src_path(src)
        } else {
            Ok(String::new())
        }
    }

    /// [`Template::expand`], with `{src_path}` as `src_path` (from [`Template::src_path_of`]).
    pub fn expand_with(&self, name: &str, index: u64, src_path: &str) -> String {
        expand_parts(&self.parts, name, index, src_path)
    }

    /// The template as it was parsed, placeholders unexpanded.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Why `{src_path}` could not be filled in from a source URL.
#[derive(Debug, PartialEq, Eq)]
pub struct SrcPathError {
    /// The source URL.
    pub url: String,
    /// What is wrong with its path.
    pub reason: &'static str,
}

impl fmt::Display for SrcPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "source {}: {} so {{src_path}} cannot be used; use {{name}} for this file",
            crate::headers::redact_url(&self.url),
            self.reason
        )
    }
}

impl std::error::Error for SrcPathError {}

/// `{src_path}` of the source URL `src`: its path's non-empty segments, each decoded
/// once and re-encoded as one segment, joined by `/`.
pub fn src_path(src: &str) -> Result<String, SrcPathError> {
    let fail = |reason| SrcPathError {
        url: src.to_owned(),
        reason,
    };
    let uri: Uri = src.parse().map_err(|_| fail("the URL does not parse"))?;
    let mut out = String::new();
    for segment in uri.path().split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded == "." || decoded == ".." {
            return Err(fail("the path has a `.` or `..` segment"));
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.extend(utf8_percent_encode(&decoded, SEGMENT));
    }
    if out.is_empty() {
        return Err(fail("the URL has no path"));
    }
    Ok(out)
}

/// Concatenates `parts`, with `name` encoded as one segment, `index` in decimal, and
/// `src_path` (already encoded) as it is.
fn expand_parts(parts: &[Part], name: &str, index: u64, src_path: &str) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(literal) => out.push_str(literal),
            Part::SrcPath => out.push_str(src_path),
            Part::Name if name == "." || name == ".." => {
                out.extend(name.chars().map(|_| "%2E"));
            }
            Part::Name => out.extend(utf8_percent_encode(name, SEGMENT)),
            Part::Index => out.push_str(&index.to_string()),
        }
    }
    out
}

/// Splits `text` into literals and placeholders, each with its byte offset.
fn split_placeholders(text: &str) -> Result<Vec<(usize, Part)>, TemplateError> {
    let mut parts = Vec::new();
    let mut literal_start = 0;
    let mut pos = 0;
    // Braces are ASCII, so every offset found here is a char boundary.
    while let Some(found) = text[pos..].find(['{', '}']) {
        let open = pos + found;
        if text[open..].starts_with('}') {
            return Err(TemplateError::UnmatchedBrace {
                template: text.to_owned(),
                brace: '}',
                offset: open,
            });
        }
        let unmatched = || TemplateError::UnmatchedBrace {
            template: text.to_owned(),
            brace: '{',
            offset: open,
        };
        let inner = text[open + 1..].find(['{', '}']).ok_or_else(unmatched)?;
        let close = open + 1 + inner;
        if !text[close..].starts_with('}') {
            return Err(unmatched());
        }
        let part = match &text[open..=close] {
            "{name}" => Part::Name,
            "{index}" => Part::Index,
            "{src_path}" => Part::SrcPath,
            other => {
                return Err(TemplateError::UnknownPlaceholder {
                    template: text.to_owned(),
                    placeholder: other.to_owned(),
                });
            }
        };
        if literal_start < open {
            parts.push((
                literal_start,
                Part::Literal(text[literal_start..open].to_owned()),
            ));
        }
        parts.push((open, part));
        pos = close + 1;
        literal_start = pos;
    }
    if literal_start < text.len() {
        parts.push((
            literal_start,
            Part::Literal(text[literal_start..].to_owned()),
        ));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::percent_decode_str;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Template, TemplateError> {
        text.parse()
    }

    fn ok(text: &str) -> Template {
        parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    #[test]
    fn accepts_http_and_https_in_any_case() {
        for text in [
            "http://host/upload/{name}",
            "https://host/upload/{name}",
            "HTTP://host/{name}",
            "HttpS://host/{name}",
            "http://127.0.0.1:8080/a/{index}/{name}?overwrite=1",
            "http://[::1]:9000/{name}",
            "http://user:secret@host/{name}",
            "http://host",
            "http://host/fixed/endpoint",
            "http://host/q?file={name}&n={index}",
            "http://host/{name}#top",
        ] {
            let template = ok(text);
            assert_eq!(template.as_str(), text);
        }
    }

    #[test]
    fn rejects_other_schemes() {
        for text in [
            "ftp://host/{name}",
            "host/{name}",
            "http:/host/{name}",
            "",
            "/upload/{name}",
            "httpx://h/",
        ] {
            let err = parse(text).expect_err(text);
            assert!(
                matches!(err, TemplateError::Scheme { .. }),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_missing_host() {
        for text in [
            "http://:80/{name}",
            "http://u@:80/{name}",
            "http:///{name}",
            "http://user@/{name}",
        ] {
            let err = parse(text).expect_err(text);
            assert!(
                matches!(err, TemplateError::NoHost { .. }),
                "{text}: {err:?}"
            );
        }
        for text in [
            "http://",
            "http:///{name}",
            "https://?x={name}",
            "http://user@/{name}",
        ] {
            let err = parse(text).expect_err(text);
            assert!(
                matches!(
                    err,
                    TemplateError::NoHost { .. } | TemplateError::InvalidUrl { .. }
                ),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_invalid_urls() {
        for text in [
            "http://host/a b/{name}",
            "http://ho st/{name}",
            "http://ho\\st/{name}",
            "http://host:abc/{name}",
            "http://host:99999/{name}",
            "http://host:-1/",
        ] {
            let err = parse(text).expect_err(text);
            assert!(
                matches!(err, TemplateError::InvalidUrl { .. }),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_unknown_placeholders_naming_them() {
        for (text, placeholder) in [
            ("http://host/{file}", "{file}"),
            ("http://host/{Name}", "{Name}"),
            ("http://host/{}", "{}"),
            ("http://host/{name }", "{name }"),
            ("http://host/{name}/{idx}", "{idx}"),
        ] {
            match parse(text) {
                Err(TemplateError::UnknownPlaceholder { placeholder: p, .. }) => {
                    assert_eq!(p, placeholder)
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_lone_braces_with_their_offset() {
        for (text, brace, offset) in [
            ("http://host/{name", '{', 12),
            ("http://host/name}", '}', 16),
            ("http://host/{{name}}", '{', 12),
            ("http://host/{name}}", '}', 18),
            ("http://host/a{b{name}", '{', 13),
            ("http://host/}{name}", '}', 12),
        ] {
            match parse(text) {
                Err(TemplateError::UnmatchedBrace {
                    brace: b,
                    offset: o,
                    ..
                }) => {
                    assert_eq!((b, o), (brace, offset), "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_placeholders_in_the_authority() {
        for (text, placeholder) in [
            ("http://{name}/upload", "{name}"),
            ("http://{name}", "{name}"),
            ("http://host.{name}/x", "{name}"),
            ("http://{name}@host/x", "{name}"),
            ("http://host:{index}/x", "{index}"),
            ("https://{index}.example/x", "{index}"),
        ] {
            match parse(text) {
                Err(TemplateError::PlaceholderInAuthority { placeholder: p, .. }) => {
                    assert_eq!(p, placeholder, "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_placeholders_in_the_fragment() {
        for text in ["http://host/x#{name}", "http://host/x?q=1#a{index}"] {
            let err = parse(text).expect_err(text);
            assert!(
                matches!(err, TemplateError::PlaceholderInFragment { .. }),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn error_messages_are_lowercase_name_the_template_and_say_what_to_do() {
        for text in [
            "ftp://h/{name}",
            "http://:1/{name}",
            "http://h/a b",
            "http://h/{x}",
            "http://h/{name",
            "http://h/}",
            "http://{name}/",
            "http://h/#{name}",
        ] {
            let message = parse(text).expect_err(text).to_string();
            assert!(message.contains(text), "{message}");
            assert!(message.contains("; "), "{message}");
            assert!(!message.ends_with('.'), "{message}");
            assert!(
                message.starts_with(|c: char| !c.is_uppercase()),
                "{message}"
            );
        }
    }

    #[test]
    fn src_path_mirrors_the_source_tree() {
        let template = ok("http://d/mirror/{src_path}");
        let expand = |src: &str| template.expand_for("ignored", 0, src);
        assert_eq!(
            expand("http://s/a/b/c.txt").unwrap(),
            "http://d/mirror/a/b/c.txt"
        );
        assert_eq!(
            expand("http://s/a%20b/%C3%A9?q=1").unwrap(),
            "http://d/mirror/a%20b/%C3%A9"
        );
        assert_eq!(expand("http://s//a//b").unwrap(), "http://d/mirror/a/b");
        assert_eq!(expand("http://s/a%2Fb").unwrap(), "http://d/mirror/a%2Fb");
        for bad in [
            "http://s/a/../b",
            "http://s/./b",
            "http://s/a/%2e%2E/b",
            "http://s/%2E",
            "http://s/",
            "http://s",
        ] {
            let err = expand(bad).expect_err(bad);
            assert!(err.to_string().contains("{src_path}"), "{err}");
        }
        assert!(template.is_per_file());
        assert!(!template.names_each_file());
        // Templates without it ignore the source URL.
        assert_eq!(
            ok("http://d/{name}")
                .expand_for("n", 0, "http://s/")
                .unwrap(),
            "http://d/n"
        );
    }

    #[test]
    fn per_file_means_a_placeholder_is_present() {
        assert!(ok("http://h/{name}").is_per_file());
        assert!(ok("http://h/{index}").is_per_file());
        assert!(ok("http://h/x?n={name}").is_per_file());
        assert!(!ok("http://h/upload").is_per_file());
        assert!(!ok("http://h").is_per_file());
    }

    #[test]
    fn expands_name_and_index() {
        let template = ok("http://h/up/{index}/{name}?n={name}&i={index}");
        assert_eq!(
            template.expand("a.txt", 42),
            "http://h/up/42/a.txt?n=a.txt&i=42"
        );
        assert_eq!(ok("http://h/fixed").expand("a.txt", 1), "http://h/fixed");
    }

    #[test]
    fn name_cannot_escape_its_segment() {
        let template = ok("http://h/up/{name}");
        assert_eq!(template.expand("a/b", 0), "http://h/up/a%2Fb");
        assert_eq!(template.expand("a?b#c%d", 0), "http://h/up/a%3Fb%23c%25d");
        assert_eq!(template.expand("../../etc", 0), "http://h/up/..%2F..%2Fetc");
        assert_eq!(template.expand("a\\b", 0), "http://h/up/a%5Cb");
        assert_eq!(
            template.expand("a b+c&d=e;f", 0),
            "http://h/up/a%20b%2Bc%26d%3De%3Bf"
        );
        assert_eq!(template.expand("AZaz09-._~", 0), "http://h/up/AZaz09-._~");
    }

    #[test]
    fn dot_segments_are_encoded() {
        let template = ok("http://h/up/{name}");
        assert_eq!(template.expand(".", 0), "http://h/up/%2E");
        assert_eq!(template.expand("..", 0), "http://h/up/%2E%2E");
        assert_eq!(template.expand("...", 0), "http://h/up/...");
    }

    #[test]
    fn unicode_names_are_utf8_percent_encoded() {
        let template = ok("http://h/{name}");
        assert_eq!(template.expand("é", 0), "http://h/%C3%A9");
        assert_eq!(template.expand("📄", 0), "http://h/%F0%9F%93%84");
    }

    /// Path of a URL: from the first `/` after `scheme://authority` up to `?` or `#`.
    fn path_of(url: &str) -> &str {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let Some(start) = after_scheme.find(['/', '?', '#']) else {
            return "";
        };
        let path = &after_scheme[start..];
        path.find(['?', '#']).map_or(path, |end| &path[..end])
    }

    /// Templates with `{name}` somewhere in the path or query, among literals and `{index}`.
    fn templates() -> impl Strategy<Value = String> {
        let segment = prop_oneof![
            "[a-z0-9._~-]{0,6}",
            Just("{name}".to_owned()),
            Just("{index}".to_owned()),
            Just("v{index}-{name}.bin".to_owned()),
            Just("%7Bx%7D".to_owned()),
        ];
        (
            prop_oneof![Just("http"), Just("HTTPS")],
            prop_oneof![
                Just("h"),
                Just("127.0.0.1:8080"),
                Just("[::1]"),
                Just("u:p@host.example")
            ],
            proptest::collection::vec(segment, 0..5),
            prop_oneof![
                Just(""),
                Just("?f={name}&i={index}"),
                Just("?x=1"),
                Just("#frag")
            ],
        )
            .prop_map(|(scheme, host, segments, tail)| {
                format!("{scheme}://{host}/{}/{{name}}{tail}", segments.join("/"))
            })
    }

    proptest! {
        #[test]
        fn expanded_path_keeps_the_template_segment_count(
            text in templates(),
            name in any::<String>(),
            index in any::<u64>(),
        ) {
            let template = ok(&text);
            let url = template.expand(&name, index);
            let segments = |s: &str| path_of(s).matches('/').count();
            prop_assert_eq!(segments(&url), segments(&text), "{} -> {}", text, url);
            prop_assert_eq!(url.matches('?').count(), text.matches('?').count());
            prop_assert_eq!(url.matches('#').count(), text.matches('#').count());

            // It starts with what precedes the first `{name}`, `{index}` filled in.
            let before = &text[..text.find("{name}").expect("templates() always has {name}")];
            let prefix = before.replace("{index}", &index.to_string());
            prop_assert!(url.starts_with(&prefix), "{} does not start with {}", url, prefix);

            // And the client sees the template's host, whatever the name.
            let uri: Uri = url.parse().map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
            let sample: Uri = template.expand("x", 0).parse().expect("validated at parse");
            prop_assert_eq!(uri.authority(), sample.authority());
        }

        #[test]
        fn name_round_trips_through_its_segment(name in any::<String>()) {
            let url = ok("http://h/up/{name}").expand(&name, 0);
            let segment = url.strip_prefix("http://h/up/").expect("literal prefix");
            prop_assert!(!segment.contains(['/', '?', '#']));
            let decoded = percent_decode_str(segment).decode_utf8().expect("encoded from UTF-8");
            prop_assert_eq!(decoded, name);
        }

        #[test]
        fn src_path_never_climbs_out(
            path in proptest::collection::vec(
                prop_oneof![
                    Just("/"), Just("."), Just(".."), Just("%2e"), Just("%2E%2e"), Just("%2F"),
                    Just("%"), Just("%zz"), Just("a"), Just("é"), Just("%C3%A9"), Just("?q"),
                    Just("#f"), Just("\\"), Just("%5C"), Just("%00"), Just(" "),
                ],
                0..16,
            ),
            name in any::<String>(),
        ) {
            let template = ok("http://d/base/{src_path}");
            let src = format!("http://s/{}", path.concat());
            if let Ok(url) = template.expand_for(&name, 0, &src) {
                let rest = url.strip_prefix("http://d/base/").expect("literal prefix");
                prop_assert!(!rest.contains(['?', '#']), "{}", url);
                for segment in rest.split('/') {
                    let decoded = percent_decode_str(segment).decode_utf8_lossy();
                    prop_assert!(!segment.is_empty(), "{}", url);
                    prop_assert!(decoded != "." && decoded != "..", "{}", url);
                }
                let uri: Uri = url.parse().map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
                prop_assert_eq!(uri.host(), Some("d"));
            }
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_template_like_input(
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just("http://"), Just("{"), Just("}"), Just("{name}"), Just("{index}"),
                    Just("/"), Just("?"), Just("#"), Just("@"), Just(":"), Just("h"), Just("é"),
                    Just("["), Just("]"), Just("80"),
                ],
                0..12,
            )
        ) {
            let _ = parse(&pieces.concat());
        }
    }
}
