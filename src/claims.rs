//! Which destination URL each job of a run uploads to, so that two jobs never overwrite
//! each other: [`Claims`].
//!
//! The first job whose name expands to a destination URL keeps it; a later job whose
//! name expands to the same URL is renamed `stem (1).ext`, `stem (2).ext`, ... (the first
//! free one), and the rename is reported. A job keeps its claim for the whole run, so
//! its retries keep its name (and a failed job's name is not reused by another job in
//! the same run). Claims are per run: a later run (`--resume`, `--list failed.txt`)
//! starts afresh.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The longest name ferry stores (the same cap as [`crate::names::sanitize`]).
const MAX_NAME: usize = 255;

/// The destination URLs claimed so far in this run, and by which job (its index).
#[derive(Debug, Default)]
pub struct Claims {
    taken: Mutex<HashMap<String, u64>>,
}

/// Where a job goes after [`Claims::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The name used (the one asked for, or a renamed one).
    pub name: String,
    /// The destination URL it expands to.
    pub dst: String,
    /// The name first asked for, if the job had to be renamed.
    pub renamed_from: Option<String>,
}

impl Claims {
    /// Claims a destination for job `index` named `name`; `expand` turns a name into
    /// its destination URL. Returns the name as asked if its URL is free or already
    /// this job's, else the first free `stem (k).ext`. When the name does not appear
    /// in the URL (a template with only `{index}`, or none), there is nothing to rename
    /// and the URL is shared as the template says.
    pub fn claim(&self, index: u64, name: &str, expand: impl Fn(&str) -> String) -> Claimed {
        // A panic elsewhere cannot leave the map half-updated: keep going.
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let first = expand(name);
        let mut candidate = name.to_string();
        let mut dst = first.clone();
        for k in 1.. {
            match taken.get(&dst) {
                Some(&owner) if owner != index => {}
                _ => break,
            }
            candidate = numbered(name, k);
            dst = expand(&candidate);
            if dst == first {
                // The name is not part of the URL: renaming cannot help.
                return Claimed {
                    name: name.to_string(),
                    dst,
                    renamed_from: None,
                };
            }
        }
        taken.insert(dst.clone(), index);
        let renamed_from = (candidate != name).then(|| name.to_string());
        Claimed {
            name: candidate,
            dst,
            renamed_from,
        }
    }
}
/// `name` with ` (k)` inserted before its extension: `a.tar.gz` -> `a.tar (1).gz`,
/// `.bashrc` -> `.bashrc (1)`, kept within 255 bytes.
pub fn numbered(name: &str, k: u64) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    let suffix = format!(" ({k}){ext}");
    let mut end = stem.len().min(MAX_NAME.saturating_sub(suffix.len()));
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &stem[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(name: &str) -> String {
        format!("http://h/{name}")
    }

    #[test]
    fn numbers_go_before_the_extension() {
        assert_eq!(numbered("a.bin", 1), "a (1).bin");
        assert_eq!(numbered("a.tar.gz", 2), "a.tar (2).gz");
        assert_eq!(numbered(".bashrc", 1), ".bashrc (1)");
        assert_eq!(numbered("noext", 3), "noext (3)");
        let long = "é".repeat(200);
        let got = numbered(&format!("{long}.txt"), 12);
        assert!(got.len() <= MAX_NAME && got.ends_with(" (12).txt"), "{got}");
    }

    #[test]
    fn later_jobs_get_the_first_free_number_and_a_job_keeps_its_own() {
        let claims = Claims::default();
        assert_eq!(claims.claim(0, "a.bin", url).name, "a.bin");
        let second = claims.claim(1, "a.bin", url);
        assert_eq!(second.name, "a (1).bin");
        assert_eq!(second.dst, "http://h/a (1).bin");
        assert_eq!(second.renamed_from.as_deref(), Some("a.bin"));
        assert_eq!(claims.claim(2, "a.bin", url).name, "a (2).bin");
        // Retries of job 1 land on the same name; job 0 keeps the original.
        assert_eq!(claims.claim(1, "a.bin", url).name, "a (1).bin");
        assert_eq!(claims.claim(0, "a.bin", url).renamed_from, None);
        // A file really named "a (1).bin" does not take job 1's place.
        assert_eq!(claims.claim(3, "a (1).bin", url).name, "a (1) (1).bin");
    }

    #[test]
    fn a_template_without_the_name_is_left_alone() {
        let claims = Claims::default();
        let by_index = |_: &str| "http://h/same".to_string();
        assert_eq!(claims.claim(0, "x", by_index).dst, "http://h/same");
        // The name is not in the URL: renaming cannot help, and must not loop.
        let second = claims.claim(1, "x", by_index);
        assert_eq!((second.name.as_str(), second.renamed_from), ("x", None));
    }
}
