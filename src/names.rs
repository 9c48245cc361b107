//! Choosing the file name a transfer is stored under at the destination.
//!
//! The name comes from the source, and the source may be hostile: this module owns the
//! rules that keep a name from steering the upload. [`resolve`] is the one entry point
//! the rest of ferry uses; it tries, in order:
//!
//! 1. the `Content-Disposition` response header ([`from_content_disposition`]),
//! 2. the last segment of the source URL's path ([`from_url`]),
//! 3. `file-{index}`, the job's index in its source,
//!
//! taking the first candidate that survives [`sanitize`]. So a name is never empty and
//! never chooses a directory, whatever the source sends.
//!
//! # Content-Disposition
//!
//! The header is read per RFC 6266, with the `filename*` ext-value of RFC 8187:
//!
//! - a disposition type, then `;`-separated `name=value` parameters; parameter names are
//!   case-insensitive and whitespace around `;` and `=` is ignored;
//! - `filename=token`, or `filename="quoted string"` where `\"` and `\\` (any `\x`) stand
//!   for the escaped character; a `;` inside a quoted string does not end the parameter;
//! - `filename*=UTF-8'lang'percent%20encoded`, charset `UTF-8` or `ISO-8859-1` in any
//!   case, language tag optional; it wins over `filename` wherever it appears. A
//!   `filename*` that does not decode (bad `%XX`, invalid UTF-8, other charset) is
//!   ignored and `filename` is used instead;
//! - other parameters, quoted or not, are skipped;
//! - lazy servers are tolerated: an unquoted value runs to the next `;` and is trimmed
//!   (`filename=foo bar.txt` is `foo bar.txt`), an unterminated quoted string runs to the
//!   end of the header, and a header without a disposition type is read as parameters.
//!
//! RFC 2231 continuations (`filename*0=`) are not part of HTTP (RFC 6266 section 4.3) and
//! are skipped like any unknown parameter.
//!
//! The parser is hand-written, about a hundred lines. The crates looked at did not fit:
//! `content_disposition` follows mail rules (RFC 2231/2047) and pulls in `encoding_rs` for
//! one header; `parse-net` validates strictly, so a malformed header is an error where
//! ferry must still salvage a name from a lazy server.
//!
//! # Sanitizing
//!
//! [`sanitize`] makes a raw name safe as exactly one path segment:
//!
//! 1. leading and trailing whitespace is trimmed;
//! 2. `/`, `\` and every control character (C0 `U+0000..=U+001F`, DEL `U+007F`, C1
//!    `U+0080..=U+009F`) become `_`; nothing is removed, so `../../etc/passwd` becomes
//!    `.._.._etc_passwd`, a harmless name, rather than a different path;
//! 3. the name is cut to at most 255 bytes, at a character boundary, and trailing
//!    whitespace the cut exposed is trimmed;
//! 4. a name that is then empty, `.` or `..` is rejected (`None`), so the caller falls
//!    back to the next candidate.
//!
//! The result is still arbitrary Unicode (spaces, `?`, `#`, `%`, ...):
//! [`crate::template::Template::expand`] percent-encodes it into the destination URL.

use percent_encoding::percent_decode_str;

/// Longest name [`sanitize`] returns, in bytes: the usual file-system limit for one path
/// component.
const MAX_NAME_BYTES: usize = 255;

/// Filename from a Content-Disposition header value, if it carries one.
///
/// `filename*` (RFC 8187) is preferred over `filename` wherever it appears; an empty or
/// undecodable value counts as absent. The name is returned as sent, not yet sanitized:
/// pass it through [`sanitize`] (or use [`resolve`]) before using it.
///
/// ```
/// # use ferry::names::from_content_disposition;
/// let cd = "attachment; filename=\"EURO rates.txt\"; filename*=utf-8''%e2%82%ac%20rates.txt";
/// assert_eq!(from_content_disposition(cd).as_deref(), Some("\u{20ac} rates.txt"));
/// ```
pub fn from_content_disposition(value: &str) -> Option<String> {
    let mut plain: Option<String> = None;
    let mut extended: Option<String> = None;
    for (name, value) in Params::new(value) {
        if name.eq_ignore_ascii_case("filename*") {
            if extended.is_none() {
                extended = decode_ext_value(&value).filter(|v| !v.is_empty());
            }
        } else if name.eq_ignore_ascii_case("filename") && plain.is_none() && !value.is_empty() {
            plain = Some(value);
        }
    }
    extended.or(plain)
}

/// Last segment of a URL's path, percent-decoded once (lossy UTF-8), query and fragment
/// dropped.
///
/// `None` when the path is empty or ends in `/`. The segment is returned as decoded, not
/// yet sanitized: `%2F` decodes to `/`, which [`sanitize`] then turns into `_`.
///
/// ```
/// # use ferry::names::from_url;
/// assert_eq!(from_url("http://h/a/b/report%20Q1.pdf?x=1#f").as_deref(), Some("report Q1.pdf"));
/// assert_eq!(from_url("http://h/dir/"), None);
/// ```
pub fn from_url(url: &str) -> Option<String> {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let url = url.split_once('?').map_or(url, |(before, _)| before);
    let path = match url.split_once("://") {
        // `scheme://authority/path`: the path starts at the first `/` after the authority.
        Some((scheme, after)) if !scheme.contains('/') => &after[after.find('/')?..],
        // No scheme: the whole text is a path.
        _ => url,
    };
    let last = path.rsplit('/').next().unwrap_or(path);
    if last.is_empty() {
        return None;
    }
    Some(percent_decode_str(last).decode_utf8_lossy().into_owned())
}

/// Makes `raw` safe as one path segment, or None if nothing usable remains.
///
/// The rules are in the [module documentation](self#sanitizing): whitespace trimmed, `/`,
/// `\` and control characters replaced by `_`, at most 255 bytes, never empty, `.` or `..`.
///
/// ```
/// # use ferry::names::sanitize;
/// assert_eq!(sanitize("../../etc/passwd").as_deref(), Some(".._.._etc_passwd"));
/// assert_eq!(sanitize(" .. "), None);
/// ```
pub fn sanitize(raw: &str) -> Option<String> {
    let mut name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    name.truncate(name.floor_char_boundary(MAX_NAME_BYTES));
    let kept = name.trim_end().len();
    name.truncate(kept);
    match name.as_str() {
        "" | "." | ".." => None,
        _ => Some(name),
    }
}

/// The name ferry uses: Content-Disposition, else the URL's last segment, else
/// `file-{index}`; always sanitized.
///
/// A candidate that [`sanitize`] rejects is skipped, so the result is never empty, `.` or
/// `..`, and never contains `/`, `\` or a control character.
///
/// ```
/// # use ferry::names::resolve;
/// assert_eq!(resolve(Some("attachment; filename=\"a.txt\""), "http://h/b.bin", 7), "a.txt");
/// assert_eq!(resolve(None, "http://h/b.bin", 7), "b.bin");
/// assert_eq!(resolve(Some("attachment; filename=\"..\""), "http://h/", 7), "file-7");
/// ```
pub fn resolve(content_disposition: Option<&str>, url: &str, index: u64) -> String {
    content_disposition
        .and_then(from_content_disposition)
        .and_then(|name| sanitize(&name))
        .or_else(|| from_url(url).and_then(|name| sanitize(&name)))
        .unwrap_or_else(|| format!("file-{index}"))
}

/// Decodes an RFC 8187 ext-value `charset'[language]'value-chars`.
///
/// `None` for an unsupported charset, a missing `'`, a `%` not followed by two hex
/// digits, bytes that are not valid in the charset, or (for ISO-8859-1) a raw non-ASCII
/// character. Raw characters other than `%XX` are otherwise accepted as sent.
fn decode_ext_value(value: &str) -> Option<String> {
    let (charset, rest) = value.split_once('\'')?;
    let (_language, encoded) = rest.split_once('\'')?;
    if !is_valid_percent_encoding(encoded) {
        return None;
    }
    let bytes: Vec<u8> = percent_decode_str(encoded).collect();
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") && encoded.is_ascii() {
        // ISO-8859-1 maps each byte to the code point of the same value.
        Some(bytes.into_iter().map(char::from).collect())
    } else {
        None
    }
}

/// Is every `%` in `s` followed by two hex digits?
fn is_valid_percent_encoding(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
            )
    })
}

/// The `name=value` parameters of a Content-Disposition value, in order, values unquoted.
///
/// Elements without `=` (the disposition type, stray tokens) are skipped.
struct Params<'a> {
    rest: &'a str,
}

impl<'a> Params<'a> {
    fn new(header: &'a str) -> Self {
        Params { rest: header }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, String);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            // Delimiters are ASCII, so every index found below is a char boundary.
            let Some(eq) = self
                .rest
                .find(['=', ';'])
                .filter(|&i| self.rest[i..].starts_with('='))
            else {
                // An element without `=`: skip it up to and including the next `;`.
                self.rest = self.rest.split_once(';').map_or("", |(_, after)| after);
                continue;
            };
            let name = self.rest[..eq].trim();
            let after = self.rest[eq + 1..].trim_start_matches([' ', '\t']);
            let value = if let Some(quoted) = after.strip_prefix('"') {
                let (value, consumed) = unquote(quoted);
                // Anything between the closing quote and the next `;` is ignored.
                let tail = &quoted[consumed..];
                self.rest = tail.split_once(';').map_or("", |(_, after)| after);
                value
            } else {
                let (value, tail) = after.split_once(';').unwrap_or((after, ""));
                self.rest = tail;
                value.trim().to_owned()
            };
            return Some((name, value));
        }
    }
}

/// Reads a quoted-string body (the opening `"` already consumed): returns the unescaped
/// content and how many bytes of `s` it used, closing quote included. An unterminated
/// string runs to the end of `s`.
fn unquote(s: &str) -> (String, usize) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, i + 1),
            // quoted-pair: the next character stands for itself; a lone trailing `\` is dropped.
            '\\' => out.extend(chars.next().map(|(_, escaped)| escaped)),
            _ => out.push(c),
        }
    }
    (out, s.len())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cd(value: &str) -> Option<String> {
        from_content_disposition(value)
    }

    #[test]
    fn reads_quoted_filename() {
        assert_eq!(
            cd("attachment; filename=\"AbCdEfGhIj\"").as_deref(),
            Some("AbCdEfGhIj")
        );
    }

    #[test]
    fn reads_token_filename() {
        assert_eq!(
            cd("attachment; filename=report.pdf").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(cd("inline;filename=a.txt").as_deref(), Some("a.txt"));
    }

    #[test]
    fn param_names_are_case_insensitive_and_whitespace_is_tolerated() {
        assert_eq!(
            cd("Attachment ;  FileName = \"a.txt\" ").as_deref(),
            Some("a.txt")
        );
        assert_eq!(
            cd("attachment;\tFILENAME*=utf-8''b.txt").as_deref(),
            Some("b.txt")
        );
    }

    #[test]
    fn quoted_string_unescapes_backslash_pairs() {
        assert_eq!(
            cd(r#"attachment; filename="a \"b\" c.txt""#).as_deref(),
            Some(r#"a "b" c.txt"#)
        );
        assert_eq!(
            cd(r#"attachment; filename="back\\slash""#).as_deref(),
            Some(r"back\slash")
        );
        assert_eq!(cd(r#"attachment; filename="\a\b""#).as_deref(), Some("ab"));
    }

    #[test]
    fn semicolon_inside_quoted_string_does_not_split() {
        assert_eq!(
            cd(r#"attachment; filename="a;b.txt"; size=3"#).as_deref(),
            Some("a;b.txt")
        );
    }

    #[test]
    fn skips_other_params_including_quoted_ones_with_semicolons() {
        let value = concat!(
            r#"attachment; size=1234; "#,
            r#"creation-date="Wed, 12 Feb 1997 16:29:51 -0500; filename=evil"; "#,
            r#"filename="good.txt""#,
        );
        assert_eq!(cd(value).as_deref(), Some("good.txt"));
        let value = r#"attachment; modification-date="x;filename*=UTF-8''evil"; filename=ok.bin"#;
        assert_eq!(cd(value).as_deref(), Some("ok.bin"));
    }

    #[test]
    fn ext_value_utf8_is_percent_decoded() {
        assert_eq!(
            cd("attachment; filename*=UTF-8''percent%20encoded").as_deref(),
            Some("percent encoded")
        );
        assert_eq!(
            cd("attachment; filename*=utf-8''%E2%82%AC%20rates.txt").as_deref(),
            Some("\u{20ac} rates.txt")
        );
    }

    #[test]
    fn ext_value_language_tag_is_ignored() {
        assert_eq!(
            cd("attachment; filename*=UTF-8'en-US'a%20b.txt").as_deref(),
            Some("a b.txt")
        );
    }

    #[test]
    fn ext_value_iso_8859_1_is_decoded() {
        assert_eq!(
            cd("attachment; filename*=iso-8859-1'de'M%FCller.txt").as_deref(),
            Some("M\u{fc}ller.txt")
        );
        assert_eq!(
            cd("attachment; filename*=ISO-8859-1''%A3%20rates").as_deref(),
            Some("\u{a3} rates")
        );
    }

    #[test]
    fn ext_value_wins_wherever_it_appears() {
        let before = "attachment; filename*=UTF-8''ext.txt; filename=plain.txt";
        let after = "attachment; filename=plain.txt; filename*=UTF-8''ext.txt";
        assert_eq!(cd(before).as_deref(), Some("ext.txt"));
        assert_eq!(cd(after).as_deref(), Some("ext.txt"));
    }

    #[test]
    fn invalid_ext_value_falls_back_to_filename() {
        for bad in [
            "UTF-8''bad%zzname",
            "UTF-8''trailing%2",
            "UTF-8''%",
            "UTF-8''%FF%FE",         // not UTF-8
            "Shift_JIS''%82%A0",     // unsupported charset
            "no-quotes-at-all",      // not an ext-value
            "UTF-8'only-one-quote",  // missing second quote
            "ISO-8859-1''raw\u{e9}", // raw non-ASCII in ISO-8859-1
            "UTF-8''",               // empty
        ] {
            let value = format!("attachment; filename*={bad}; filename=\"fallback.txt\"");
            assert_eq!(cd(&value).as_deref(), Some("fallback.txt"), "{value}");
        }
        assert_eq!(cd("attachment; filename*=UTF-8''bad%zz"), None);
    }

    #[test]
    fn quoted_ext_value_is_tolerated() {
        assert_eq!(
            cd("attachment; filename*=\"UTF-8''a%20b\"").as_deref(),
            Some("a b")
        );
    }

    #[test]
    fn unquoted_value_with_spaces_runs_to_the_semicolon() {
        assert_eq!(
            cd("attachment; filename=foo bar.txt").as_deref(),
            Some("foo bar.txt")
        );
        assert_eq!(
            cd("attachment; filename= foo bar.txt ; size=3").as_deref(),
            Some("foo bar.txt")
        );
    }

    #[test]
    fn unterminated_quote_runs_to_the_end() {
        assert_eq!(
            cd("attachment; filename=\"open.txt").as_deref(),
            Some("open.txt")
        );
        assert_eq!(cd("attachment; filename=\"a\\").as_deref(), Some("a"));
    }

    #[test]
    fn header_without_disposition_type_is_read_as_params() {
        assert_eq!(cd("filename=\"x.bin\"").as_deref(), Some("x.bin"));
    }

    #[test]
    fn first_filename_wins_and_empty_ones_are_absent() {
        assert_eq!(
            cd("attachment; filename=a; filename=b").as_deref(),
            Some("a")
        );
        assert_eq!(
            cd("attachment; filename=\"\"; filename=b").as_deref(),
            Some("b")
        );
        assert_eq!(cd("attachment; filename="), None);
        assert_eq!(cd("attachment; filename=\"\""), None);
    }

    #[test]
    fn no_filename_is_none() {
        for value in [
            "",
            "attachment",
            "inline; size=3",
            ";;;",
            "=",
            "attachment; filenam=x",
            "attachment; filename*0=x",
        ] {
            assert_eq!(cd(value), None, "{value:?}");
        }
    }

    #[test]
    fn garbage_after_closing_quote_is_ignored() {
        assert_eq!(
            cd("attachment; filename=\"a.txt\"junk; size=1").as_deref(),
            Some("a.txt")
        );
    }

    #[test]
    fn from_url_takes_last_segment_decoded_once() {
        assert_eq!(
            from_url("http://h/a/b/report%20Q1.pdf?x=1#f").as_deref(),
            Some("report Q1.pdf")
        );
        assert_eq!(
            from_url("https://h:8080/x.tar.gz").as_deref(),
            Some("x.tar.gz")
        );
        assert_eq!(from_url("http://h/%2541").as_deref(), Some("%41"));
        assert_eq!(from_url("http://h/a%FFb").as_deref(), Some("a\u{fffd}b"));
        assert_eq!(from_url("http://h/a#frag/with?q").as_deref(), Some("a"));
    }

    #[test]
    fn from_url_empty_path_or_trailing_slash_is_none() {
        assert_eq!(from_url("http://h/"), None);
        assert_eq!(from_url("http://h"), None);
        assert_eq!(from_url("http://h?x=/y.txt"), None);
        assert_eq!(from_url("http://h#/y.txt"), None);
        assert_eq!(from_url("http://h/dir/"), None);
        assert_eq!(from_url(""), None);
    }

    #[test]
    fn from_url_encoded_slash_is_sanitized_not_followed() {
        assert_eq!(from_url("http://h/a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(resolve(None, "http://h/a%2Fb", 0), "a_b");
    }

    #[test]
    fn traversal_attempts_stay_one_segment() {
        assert_eq!(sanitize("../x").as_deref(), Some(".._x"));
        assert_eq!(sanitize("..\\x").as_deref(), Some(".._x"));
        assert_eq!(sanitize("/etc/passwd").as_deref(), Some("_etc_passwd"));
        assert_eq!(
            sanitize("../../etc/passwd").as_deref(),
            Some(".._.._etc_passwd")
        );
        assert_eq!(resolve(None, "http://h/a/%2e%2e%2f", 3), ".._");
        assert_eq!(resolve(None, "http://h/a/%2e%2e", 3), "file-3");
        assert_eq!(
            resolve(Some("attachment; filename=\"../../x\""), "http://h/y", 0),
            ".._.._x"
        );
        assert_eq!(
            resolve(
                Some("attachment; filename*=UTF-8''..%2F..%2Fx"),
                "http://h/y",
                0
            ),
            ".._.._x"
        );
    }

    #[test]
    fn control_characters_become_underscores() {
        assert_eq!(sanitize("a\r\nb").as_deref(), Some("a__b"));
        assert_eq!(sanitize("a\u{7f}b").as_deref(), Some("a_b"));
        assert_eq!(sanitize("a\u{85}b").as_deref(), Some("a_b"));
        assert_eq!(sanitize("a\u{0}b\u{1b}[31m").as_deref(), Some("a_b_[31m"));
        assert_eq!(sanitize("a\u{9f}").as_deref(), Some("a_"));
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(sanitize("  a b.txt \t\r\n").as_deref(), Some("a b.txt"));
    }

    #[test]
    fn empty_dot_and_dotdot_are_rejected() {
        for raw in ["", " ", "\t\n", ".", "..", " . ", " .. "] {
            assert_eq!(sanitize(raw), None, "{raw:?}");
        }
        assert_eq!(sanitize("...").as_deref(), Some("..."));
        assert_eq!(sanitize(".hidden").as_deref(), Some(".hidden"));
    }

    #[test]
    fn rejected_candidates_fall_back_in_order() {
        assert_eq!(
            resolve(Some("attachment; filename=\"..\""), "http://h/u.bin", 9),
            "u.bin"
        );
        assert_eq!(resolve(Some("attachment"), "http://h/u.bin", 9), "u.bin");
        assert_eq!(
            resolve(Some("attachment; filename=\"..\""), "http://h/..", 9),
            "file-9"
        );
        assert_eq!(
            resolve(None, "http://h/", u64::MAX),
            format!("file-{}", u64::MAX)
        );
    }

    #[test]
    fn long_names_are_cut_to_255_bytes_at_a_char_boundary() {
        let ascii = "a".repeat(1000);
        assert_eq!(sanitize(&ascii).map(|n| n.len()), Some(255));
        // 'é' is two bytes: 255 is not a boundary, so the cut lands on 254.
        let accented = "é".repeat(200);
        let cut = sanitize(&accented).expect("non-empty");
        assert_eq!(cut.len(), 254);
        assert!(cut.chars().all(|c| c == 'é'));
        // A cut that exposes whitespace trims it, and may leave `..`, which is rejected.
        let spaced = format!("..{}x", " ".repeat(300));
        assert_eq!(sanitize(&spaced), None);
        assert_eq!(
            resolve(None, &format!("http://h/{}", "%C3%A9".repeat(300)), 0).len(),
            254
        );
    }

    #[test]
    fn unicode_names_pass_through() {
        assert_eq!(
            sanitize("résumé 履歴書 📄.pdf").as_deref(),
            Some("résumé 履歴書 📄.pdf")
        );
        assert_eq!(
            resolve(
                Some("attachment; filename*=UTF-8''%E5%B1%A5%E6%AD%B4.pdf"),
                "http://h/x",
                0
            ),
            "履歴.pdf"
        );
        assert_eq!(resolve(None, "http://h/%F0%9F%93%84.txt", 0), "📄.txt");
    }

    /// Something a hostile header might plausibly contain, to exercise the parser beyond
    /// uniformly random strings.
    fn header_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(";".to_owned()),
            Just("=".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("'".to_owned()),
            Just("%".to_owned()),
            Just(" ".to_owned()),
            Just("filename".to_owned()),
            Just("filename*".to_owned()),
            Just("UTF-8''".to_owned()),
            Just("iso-8859-1'".to_owned()),
            Just("..".to_owned()),
            Just("/".to_owned()),
            "%[0-9a-fA-FgG]{0,2}",
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    /// Panics unless `name` obeys the name rules (the module documentation's list).
    pub(crate) fn assert_safe(name: &str) {
        assert!(!name.is_empty());
        assert!(name != "." && name != "..", "{name:?}");
        assert!(!name.contains(['/', '\\']), "{name:?}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(name.len() <= MAX_NAME_BYTES, "{name:?}");
    }

    /// Pieces of a hostile URL path: encoded dots, slashes, backslashes, C0 and C1 controls.
    const URL_PIECE: &str =
        r"(%[0-9a-fA-F]{2}|\.|/|\\|[a-z]|%2[eEfF]|%5[cC]|%0[0-9aA]|%[cC]2%8[0-9])";

    proptest! {
        #[test]
        fn from_content_disposition_never_panics(value in header_like()) {
            let _ = from_content_disposition(&value);
        }

        #[test]
        fn from_content_disposition_never_panics_on_any_string(value in any::<String>()) {
            let _ = from_content_disposition(&value);
        }

        #[test]
        fn sanitize_output_is_safe(raw in any::<String>()) {
            if let Some(name) = sanitize(&raw) {
                assert_safe(&name);
                // Sanitizing is idempotent.
                prop_assert_eq!(sanitize(&name), Some(name.clone()));
            }
        }

        #[test]
        fn resolve_is_always_safe(
            header in proptest::option::of(header_like()),
            url in any::<String>(),
            index in any::<u64>(),
        ) {
            assert_safe(&resolve(header.as_deref(), &url, index));
        }

        #[test]
        fn resolve_is_safe_for_url_like_input(
            path in proptest::collection::vec(URL_PIECE, 0..20),
            index in any::<u64>(),
        ) {
            let url = format!("http://h/{}", path.concat());
            assert_safe(&resolve(None, &url, index));
        }
    }
}
