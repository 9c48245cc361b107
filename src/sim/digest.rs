//! Digest helpers shared by the source (expected digests, integrity headers) and the
//! destination (digests of what arrived): hashing a reader, lowercase hex, and the
//! `Content-MD5` / `Digest` / `Repr-Digest` / `Content-Digest` headers.

use std::io::{self, Read};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use sha2::{Digest, Sha256};

use super::http::BUF_SIZE;
use super::query::DigestHeader;

/// Hashes everything `reader` yields with `D`.
fn digest_of<D: Digest>(mut reader: impl Read) -> io::Result<Vec<u8>> {
    let mut hasher = D::new();
    let mut buf = vec![0; BUF_SIZE];
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(hasher.finalize().to_vec()),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// The integrity header of `kind` for the bytes `content` yields, as (name, value);
/// with `wrong`, the digest of something else.
pub(crate) fn header(
    kind: DigestHeader,
    content: impl Read,
    wrong: bool,
) -> io::Result<(String, String)> {
    let content: Box<dyn Read> = match wrong {
        true => Box::new(content.chain(&b"not the file"[..])),
        false => Box::new(content),
    };
    let b64 = |digest: Vec<u8>| STANDARD.encode(digest);
    Ok(match kind {
        DigestHeader::ContentMd5 => ("Content-MD5".into(), b64(digest_of::<Md5>(content)?)),
        DigestHeader::DigestMd5 => (
            "Digest".into(),
            format!("MD5={}", b64(digest_of::<Md5>(content)?)),
        ),
        DigestHeader::DigestSha256 => (
            "Digest".into(),
            format!("SHA-256={}", b64(digest_of::<Sha256>(content)?)),
        ),
        DigestHeader::Repr => (
            "Repr-Digest".into(),
            format!("sha-256=:{}:", b64(digest_of::<Sha256>(content)?)),
        ),
        DigestHeader::Content => (
            "Content-Digest".into(),
            format!("sha-256=:{}:", b64(digest_of::<Sha256>(content)?)),
        ),
    })
}

/// Hashes everything `reader` yields.
pub(crate) fn sha256_of(reader: impl Read) -> io::Result<[u8; 32]> {
    let digest = digest_of::<Sha256>(reader)?;
    Ok(digest
        .try_into()
        .expect("a SHA-256 digest is always 32 bytes"))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input_is_the_known_digest() {
        let digest = sha256_of(io::empty()).unwrap();
        assert_eq!(
            hex(&digest),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
