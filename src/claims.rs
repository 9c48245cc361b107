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
    /// in the URL (a template with only `{src_path}`, say) and another job of the run
    /// already holds that URL, renaming cannot help: the job gets a [`Conflict`]
    /// instead of silently overwriting the other one's file.
    pub fn claim(
        &self,
        index: u64,
        name: &str,
        expand: impl Fn(&str) -> String,
    ) -> Result<Claimed, Conflict> {
        // A panic elsewhere cannot leave the map half-updated: keep going.
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let first = expand(name);
        let mut candidate = name.to_string();
        let mut dst = first.clone();
        for k in 1.. {
            let owner = match taken.get(&dst) {
                Some(&owner) if owner != index => owner,
                _ => break,
            };
            candidate = numbered(name, k);
            dst = expand(&candidate);
            if dst == first {
                return Err(Conflict { dst, owner });
            }
        }
        taken.insert(dst.clone(), index);
        let renamed_from = (candidate != name).then(|| name.to_string());
        Ok(Claimed {
            name: candidate,
            dst,
            renamed_from,
        })
    }
}

/// Two jobs of one run expand to the same destination URL and the name is not part of
/// it, so no rename can separate them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The contested destination URL.
    pub dst: String,
    /// The index of the job that holds it.
    pub owner: u64,
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
        let claim = |index, name| claims.claim(index, name, url).unwrap();
        assert_eq!(claim(0, "a.bin").name, "a.bin");
        let second = claim(1, "a.bin");
        assert_eq!(second.name, "a (1).bin");
        assert_eq!(second.dst, "http://h/a (1).bin");
        assert_eq!(second.renamed_from.as_deref(), Some("a.bin"));
        assert_eq!(claim(2, "a.bin").name, "a (2).bin");
        // Retries of job 1 land on the same name; job 0 keeps the original.
        assert_eq!(claim(1, "a.bin").name, "a (1).bin");
        assert_eq!(claim(0, "a.bin").renamed_from, None);
        // A file really named "a (1).bin" does not take job 1's place.
        assert_eq!(claim(3, "a (1).bin").name, "a (1) (1).bin");
    }

    #[test]
    fn one_url_for_two_jobs_without_the_name_in_it_is_a_conflict() {
        let claims = Claims::default();
        let by_path = |_: &str| "http://h/same".to_string();
        assert_eq!(claims.claim(0, "x", by_path).unwrap().dst, "http://h/same");
        // The name is not in the URL: renaming cannot help, and must not loop.
        assert_eq!(
            claims.claim(1, "y", by_path),
            Err(Conflict {
                dst: "http://h/same".into(),
                owner: 0
            })
        );
        // The holder's retries still get it.
        assert!(claims.claim(0, "x", by_path).is_ok());
    }
}
