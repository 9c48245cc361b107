//! The digests a source promises for a body, and checking them: `Content-MD5`
//! (RFC 1864), `Digest` (RFC 3230: `MD5=`, `SHA-256=`), `Repr-Digest` and
//! `Content-Digest` (RFC 9530: `sha-256=:…:`, `md5=:…:`).
//!
//! ferry copies the stored bytes as they are (no content decoding), so every one of
//! these describes exactly the bytes ferry moves. Algorithms ferry does not compute
//! (SHA-512, CRC32C, ...) are ignored; a header that does not parse is ignored too (it
//! promises nothing ferry can check), while a well-formed digest that does not match
//! fails the job.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ureq::http::HeaderMap;

/// What the source's headers promise about the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Promises {
    /// Expected MD5, and the header that said so.
    pub md5: Option<([u8; 16], &'static str)>,
    /// Expected SHA-256, and the header that said so.
    pub sha256: Option<([u8; 32], &'static str)>,
}

impl Promises {
    /// Reads every integrity header of a response.
    pub fn from_headers(headers: &HeaderMap) -> Promises {
        let mut promises = Promises::default();
        let values = |name: &'static str| {
            headers
                .get_all(name)
                .into_iter()
                .filter_map(|v| v.to_str().ok())
                .map(move |v| (name, v))
        };
        for (name, value) in values("content-md5") {
            promises.add(name, "md5", value.trim());
        }
        for (name, value) in values("digest") {
            // RFC 3230: `alg=base64` members, comma-separated.
            for member in value.split(',') {
                if let Some((alg, b64)) = member.split_once('=') {
                    promises.add(name, alg.trim(), b64.trim());
                }
            }
        }
        for (name, value) in values("repr-digest").chain(values("content-digest")) {
            // An RFC 8941 dictionary of `key=:byte-sequence:` members. Hand-split: only
            // that one member form is meaningful here, and base64 cannot contain `,`.
            for member in value.split(',') {
                if let Some((alg, seq)) = member.split_once('=')
                    && let Some(b64) = seq
                        .trim()
                        .strip_prefix(':')
                        .and_then(|s| s.strip_suffix(':'))
                {
                    promises.add(name, alg.trim(), b64);
                }
            }
        }
        promises
    }

    /// Records one `alg` digest (base64) from `header`, if ferry can check it.
    fn add(&mut self, header: &'static str, alg: &str, b64: &str) {
        let Ok(bytes) = STANDARD.decode(b64) else {
            return;
        };
        if alg.eq_ignore_ascii_case("md5") {
            if let Ok(md5) = bytes.try_into() {
                self.md5.get_or_insert((md5, header));
            }
        } else if alg.eq_ignore_ascii_case("sha-256")
            && let Ok(sha) = bytes.try_into()
        {
            self.sha256.get_or_insert((sha, header));
        }
    }

    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        self.md5.is_none() && self.sha256.is_none()
    }

    /// Compares the digests of the bytes received with the promises; the error says
    /// which header did not match.
    pub fn check(&self, md5: Option<&[u8]>, sha256: Option<&[u8]>) -> Result<(), String> {
        let pairs = [
            (self.md5.as_ref().map(|(d, h)| (&d[..], *h)), md5, "MD5"),
            (
                self.sha256.as_ref().map(|(d, h)| (&d[..], *h)),
                sha256,
                "SHA-256",
            ),
        ];
        for (promised, got, alg) in pairs {
            if let (Some((want, header)), Some(got)) = (promised, got)
                && want != got
            {
                return Err(format!(
                    "{alg} digest of the body is {} but the {header} header says {}",
                    STANDARD.encode(got),
                    STANDARD.encode(want)
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    // MD5 and SHA-256 of "hello".
    const MD5: &str = "XUFAKrxLKna5cZ2REBfFkg==";
    const SHA: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    #[test]
    fn reads_every_header_form() {
        for (name, value) in [
            ("content-md5", MD5.to_string()),
            ("digest", format!("MD5={MD5}")),
            ("digest", format!("SHA-256={SHA},UNIXsum=30637")),
            ("repr-digest", format!("sha-512=:AAAA:, sha-256=:{SHA}:")),
            ("content-digest", format!("md5=:{MD5}:")),
        ] {
            let p = Promises::from_headers(&headers(&[(name, &value)]));
            assert!(!p.is_empty(), "{name}: {value}");
            assert_eq!(
                p.md5.map(|(_, h)| h).or(p.sha256.map(|(_, h)| h)),
                Some(name)
            );
        }
    }

    #[test]
    fn ignores_what_it_cannot_check() {
        let p = Promises::from_headers(&headers(&[
            ("digest", "SHA-512=AAAA, crc32c=xyz"),
            ("content-md5", "not base64!"),
            ("repr-digest", "sha-256=notabytesequence"),
        ]));
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn checks_and_names_the_header_that_lied() {
        let p = Promises::from_headers(&headers(&[("repr-digest", &format!("sha-256=:{SHA}:"))]));
        let good = STANDARD.decode(SHA).unwrap();
        assert_eq!(p.check(None, Some(&good)), Ok(()));
        let err = p.check(None, Some(&[0; 32])).unwrap_err();
        assert!(err.contains("repr-digest"), "{err}");
    }
}
