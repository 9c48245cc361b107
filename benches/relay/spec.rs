//! [`Spec`]: what one measured run does, handed from the bench driver to the child
//! process that does the relaying (as one environment variable).

use std::path::PathBuf;

/// The environment variable that makes the bench binary a relaying child.
pub const CHILD_ENV: &str = "FERRY_BENCH_CHILD";

/// One run of one implementation over one workload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// The implementation: `ferry`, `ferry-nosha`, `ferry-chunked`, `async`,
    /// `relay-rw`, `relay-splice`, `source-only`, `sink-only`, `ferry-manifest`.
    pub imp: String,
    /// Source simulator, `host:port`.
    pub src_addr: String,
    /// Destination simulator, `host:port`.
    pub dst_addr: String,
    /// Upload path prefix, unique per run.
    pub label: String,
    /// Number of files.
    pub files: u64,
    /// Size of every file.
    pub size: u64,
    /// Concurrent transfers.
    pub workers: usize,
    /// Per-worker buffer.
    pub buffer: usize,
    /// Whether the source sends `Content-Length`.
    pub length: bool,
    /// The manifest to stream (`ferry-manifest` only).
    pub manifest: Option<PathBuf>,
}

impl Spec {
    /// The one-line form passed in [`CHILD_ENV`].
    pub fn encode(&self) -> String {
        let manifest = self
            .manifest
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        [
            self.imp.clone(),
            self.src_addr.clone(),
            self.dst_addr.clone(),
            self.label.clone(),
            self.files.to_string(),
            self.size.to_string(),
            self.workers.to_string(),
            self.buffer.to_string(),
            u8::from(self.length).to_string(),
            manifest,
        ]
        .join("\t")
    }

    /// Parses [`Spec::encode`]'s output.
    pub fn decode(text: &str) -> Option<Spec> {
        let f: Vec<&str> = text.split('\t').collect();
        let [
            imp,
            src,
            dst,
            label,
            files,
            size,
            workers,
            buffer,
            length,
            manifest,
        ] = f[..]
        else {
            return None;
        };
        Some(Spec {
            imp: imp.to_owned(),
            src_addr: src.to_owned(),
            dst_addr: dst.to_owned(),
            label: label.to_owned(),
            files: files.parse().ok()?,
            size: size.parse().ok()?,
            workers: workers.parse().ok()?,
            buffer: buffer.parse().ok()?,
            length: length == "1",
            manifest: (!manifest.is_empty()).then(|| PathBuf::from(manifest)),
        })
    }
}
