//! What an upload looks like on the wire: the raw body (default) or a
//! `multipart/form-data` form with the file as one field (`--form-field NAME`), and its
//! `Content-Type` (`--content-type`, `--keep-content-type`).
//!
//! The form is framed by hand rather than with ureq's `unversioned::multipart` (not
//! covered by semver, and it sends a streamed part chunked): ferry needs the exact
//! `Content-Length` before the first byte, which for one part is the head, the file's
//! length and the tail, all known in advance.

use std::io::{Cursor, Read};

use rand::Rng;
use rand::distr::Alphanumeric;

/// The upload style of a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadOptions {
    /// Send the file as this field of a `multipart/form-data` form.
    pub form_field: Option<String>,
    /// The file's content type (the request's, or the part's in a form).
    pub content_type: String,
    /// Use the source's `Content-Type` when it sends one.
    pub keep_content_type: bool,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            form_field: None,
            content_type: DEFAULT_CONTENT_TYPE.to_owned(),
            keep_content_type: false,
        }
    }
}

/// The content type of uploads unless told otherwise.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

impl UploadOptions {
    /// The file's content type, given what the source said.
    pub fn content_type<'a>(&'a self, source: Option<&'a str>) -> &'a str {
        match source {
            Some(source) if self.keep_content_type && !source.trim().is_empty() => source.trim(),
            _ => &self.content_type,
        }
    }
}

/// A one-part `multipart/form-data` frame around a file's bytes.
#[derive(Debug)]
pub struct Form {
    head: Vec<u8>,
    tail: Vec<u8>,
    /// The request's `Content-Type`, with the boundary.
    pub content_type: String,
}

impl Form {
    /// A frame for `filename` as field `field`, its part typed `part_type`, with a fresh
    /// random boundary (32 alphanumerics: the chance that a file contains it is nil).
    pub fn new(field: &str, filename: &str, part_type: &str) -> Form {
        let boundary: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        Form::with_boundary(field, filename, part_type, &format!("ferry-{boundary}"))
    }

    fn with_boundary(field: &str, filename: &str, part_type: &str, boundary: &str) -> Form {
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
             Content-Type: {part_type}\r\n\r\n",
            quote(field),
            quote(filename)
        );
        Form {
            head: head.into_bytes(),
            tail: format!("\r\n--{boundary}--\r\n").into_bytes(),
            content_type: format!("multipart/form-data; boundary={boundary}"),
        }
    }

    /// The request's length for a file of `len` bytes.
    pub fn length(&self, len: u64) -> u64 {
        (self.head.len() + self.tail.len()) as u64 + len
    }

    /// The request body: head, the file, tail.
    pub fn wrap<'a>(&'a self, file: &'a mut dyn Read) -> impl Read + 'a {
        Cursor::new(&self.head[..])
            .chain(file)
            .chain(Cursor::new(&self.tail[..]))
    }
}

/// A field name or file name inside `"..."`, escaped as the HTML standard's form
/// encoding does: `"` as `%22`, CR as `%0D`, LF as `%0A`; other bytes as they are (UTF-8).
fn quote(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut r: impl Read) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn form_length_is_exact() {
        let form = Form::new("file", "a \"b\"\r\n.txt", "text/plain");
        let mut file: &[u8] = b"hello";
        let body = read_all(form.wrap(&mut file)).unwrap();
        assert_eq!(body.len() as u64, form.length(5));
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains("name=\"file\"; filename=\"a %22b%22%0D%0A.txt\""),
            "{text}"
        );
        assert!(text.contains("Content-Type: text/plain\r\n\r\nhello\r\n--ferry-"));
        let boundary = form.content_type.split("boundary=").nth(1).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn boundaries_are_fresh() {
        assert_ne!(
            Form::new("f", "n", "t").content_type,
            Form::new("f", "n", "t").content_type
        );
    }

    #[test]
    fn content_type_follows_the_source_only_when_asked() {
        let mut opts = UploadOptions::default();
        assert_eq!(opts.content_type(Some("image/png")), DEFAULT_CONTENT_TYPE);
        opts.keep_content_type = true;
        assert_eq!(opts.content_type(Some("image/png")), "image/png");
        assert_eq!(opts.content_type(None), DEFAULT_CONTENT_TYPE);
    }
}
