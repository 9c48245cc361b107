//! Sharding: one migration split over N independent ferry processes (machines, pods,
//! Slurm array tasks) with no coordination but the manifest.
//!
//! A [`Shard`] `K/N` is numbered **from 0**: the shards of a 4-way split are `0/4`,
//! `1/4`, `2/4` and `3/4` (the Kubernetes `JOB_COMPLETION_INDEX` convention). A shard
//! takes a manifest job when the first 8 bytes of the SHA-256 of its source URL, read as
//! a big-endian `u64`, are `K` modulo `N` ([`shard_of_url`]); in document mode, where
//! every job has the same URL, it takes the jobs whose index is `K` modulo `N`. SHA-256
//! is fixed by FIPS 180-4, so the split is the same on every machine, every ferry version
//! and every rerun (std's `DefaultHasher` promises none of that), and the N shards cover
//! every job exactly once. Two manifest lines with the same URL land in the same shard.
//!
//! When `--shard` is absent, [`detect`] looks at the environment a scheduler sets:
//! a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with `--shards N`) or a Slurm job
//! array (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_MIN`/`MAX`/`STEP`/`COUNT`).
//! This module is the only place ferry reads those variables, and it reads them through
//! a closure, so tests never touch the process environment.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::config::JobSource;
use crate::job::{Job, ManifestError};

/// One shard of an N-way split: `index` in `0..count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` of `count` (from 0). Fails unless `index < count`.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err(format!(
                "{index}/{count}: the number of shards must be at least 1"
            ));
        }
        if index >= count {
            let hint = if index == count {
                format!(" (1-based {index}/{count} is {}/{count} here)", index - 1)
            } else {
                String::new()
            };
            return Err(format!(
                "{index}/{count}: shards are numbered from 0, so K must be 0 to {}{hint}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's number, from 0.
    pub fn index(self) -> u64 {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Does this shard take the manifest job with source URL `url`?
    pub fn takes_url(self, url: &str) -> bool {
        shard_of_url(url, self.count) == self.index
    }

    /// Does this shard take the job numbered `index` (document mode)?
    pub fn takes_index(self, index: u64) -> bool {
        index % self.count == self.index
    }

    /// Does this shard take `item`, a job or an unusable manifest line, from a source
    /// split `by`? An unusable line belongs to one shard too (by its line number), so
    /// the N shards report it once between them.
    pub fn takes(self, item: &Result<Job, ManifestError>, by: SplitBy) -> bool {
        match (item, by) {
            (Ok(job), SplitBy::Url) => self.takes_url(&job.src),
            (Ok(job), SplitBy::Index) => self.takes_index(job.index),
            (Err(err), _) => self.takes_index(err.line),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Parses `K/N`. Hand-written: two integers around a `/` need no parser crate.
impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not K/N; use e.g. 0/4 (shards are numbered from 0)");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k = k.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n)
    }
}

/// The shard (in `0..count`) that takes the manifest job with source URL `url`: the
/// first 8 bytes of SHA-256(`url`), big-endian, modulo `count`. `count` must be > 0.
///
/// The URL is hashed as the journal shows it ([`crate::headers::redact_url`]: without a
/// userinfo password), so `ferry journal merge` finds the same shard from a journal line.
pub fn shard_of_url(url: &str, count: u64) -> u64 {
    let digest = Sha256::digest(crate::headers::redact_url(url).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % count
}

/// How a job source is split between shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitBy {
    /// By the hash of the source URL (manifests, in-memory job lists).
    Url,
    /// By the job number (document mode: every job has the same URL).
    Index,
}

impl SplitBy {
    /// How `source` is split.
    pub fn of(source: &JobSource) -> SplitBy {
        match source {
            JobSource::Document { .. } => SplitBy::Index,
            JobSource::Manifest(_) | JobSource::Jobs(_) => SplitBy::Url,
        }
    }
}

/// This process's shard and how it was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The shard.
    pub shard: Shard,
    /// Where it came from, e.g. `--shard 1/4` or `SLURM_ARRAY_TASK_ID=3 ...`.
    pub reason: String,
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shard {} (numbered from 0), from {}",
            self.shard, self.reason
        )
    }
}

/// Keeps only the items of `jobs` that `shard` takes (all of them without a shard).
pub fn filter<'a, I>(
    jobs: I,
    shard: Option<Shard>,
    by: SplitBy,
) -> Box<dyn Iterator<Item = Result<Job, ManifestError>> + Send + 'a>
where
    I: Iterator<Item = Result<Job, ManifestError>> + Send + 'a,
{
    match shard {
        Some(shard) => Box::new(jobs.filter(move |item| shard.takes(item, by))),
        None => Box::new(jobs),
    }
}

/// Chooses this process's shard from the process environment; see [`detect`].
pub fn detect_from_process(
    explicit: Option<Shard>,
    shards: Option<u64>,
) -> Result<Option<Assignment>, String> {
    detect(explicit, shards, |name| std::env::var(name).ok())
}

/// Chooses this process's shard: `explicit` (`--shard K/N`) if given; else a Kubernetes
/// Indexed Job (`JOB_COMPLETION_INDEX`, which needs `shards`, the Job's `completions`);
/// else a Slurm job array (`SLURM_ARRAY_TASK_ID`: the shard is its position in the
/// array's `MIN..=MAX` range, by `STEP`); else no shard (the process takes every job).
/// `env` looks a variable up. Errors are messages for the user.
pub fn detect(
    explicit: Option<Shard>,
    shards: Option<u64>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Assignment>, String> {
    if let Some(shard) = explicit {
        return Ok(Some(Assignment {
            shard,
            reason: format!("--shard {shard}"),
        }));
    }
    if let Some(index) = env("JOB_COMPLETION_INDEX") {
        let index = number("JOB_COMPLETION_INDEX", &index)?;
        let Some(count) = shards else {
            return Err(format!(
                "JOB_COMPLETION_INDEX={index} is set (a Kubernetes Indexed Job) but --shards \
                 is not: pass --shards N with the Job's completions count, or --shard K/N"
            ));
        };
        let shard = Shard::new(index, count)
            .map_err(|err| format!("JOB_COMPLETION_INDEX and --shards: {err}"))?;
        return Ok(Some(Assignment {
            shard,
            reason: format!(
                "JOB_COMPLETION_INDEX={index} and --shards {count} (Kubernetes Indexed Job)"
            ),
        }));
    }
    if let Some(id) = env("SLURM_ARRAY_TASK_ID") {
        return slurm(&id, shards, &env).map(Some);
    }
    match shards {
        Some(count) => Err(format!(
            "--shards {count} was given but neither JOB_COMPLETION_INDEX (Kubernetes Indexed \
             Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set; use --shard K/N to pick the \
             shard by hand"
        )),
        None => Ok(None),
    }
}

/// The shard of a Slurm array task: its position in `MIN..=MAX` by `STEP`.
fn slurm(
    id: &str,
    shards: Option<u64>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Assignment, String> {
    let id = number("SLURM_ARRAY_TASK_ID", id)?;
    let var = |name: &str| -> Result<Option<u64>, String> {
        env(name).map(|value| number(name, &value)).transpose()
    };
    let (Some(min), Some(max)) = (var("SLURM_ARRAY_TASK_MIN")?, var("SLURM_ARRAY_TASK_MAX")?)
    else {
        return Err(format!(
            "SLURM_ARRAY_TASK_ID={id} is set but SLURM_ARRAY_TASK_MIN or _MAX is not; \
             pass --shard K/N"
        ));
    };
    let step = var("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
    if min > max || id < min || id > max || (id - min) % step != 0 {
        return Err(format!(
            "SLURM_ARRAY_TASK_ID={id} is not in the array {min}-{max}:{step}; pass --shard K/N"
        ));
    }
    let count = (max - min) / step + 1;
    if let Some(tasks) = var("SLURM_ARRAY_TASK_COUNT")?
        && tasks != count
    {
        return Err(format!(
            "the Slurm array has {tasks} tasks but spans {min}-{max}:{step} ({count} slots): \
             a list like --array=1,4,9 cannot be split evenly; use a range (--array=0-{}) \
             or pass --shard K/N",
            tasks - 1
        ));
    }
    if let Some(given) = shards
        && given != count
    {
        return Err(format!(
            "--shards {given} disagrees with the Slurm array {min}-{max}:{step} ({count} tasks); \
             to rerun some tasks of an array, pass --shard K/N to each"
        ));
    }
    if count == 1 && shards.is_none() {
        // Most likely `sbatch --array=5` to rerun one task: as shard 0/1 it would take
        // every job of the manifest, including the other shards'.
        return Err(format!(
            "the Slurm array {min}-{max} has a single task, so it cannot say which shard \
             this is; to rerun one task of a larger array pass --shard K/N (or --shards 1 \
             to take every job)"
        ));
    }
    // id is in range and on the step, so the position is below count.
    let shard = Shard::new((id - min) / step, count)?;
    Ok(Assignment {
        shard,
        reason: format!(
            "SLURM_ARRAY_TASK_ID={id} in the array {min}-{max}{} (Slurm job array)",
            if step > 1 {
                format!(":{step}")
            } else {
                String::new()
            }
        ),
    })
}

fn number(name: &str, value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name}={value:?} is not a non-negative integer"))
}

/// Replaces `{shard}` in a path (e.g. `--journal 'shard-{shard}.jsonl'`) with the
/// shard's number. A path with `{shard}` but no shard is an error.
pub fn expand_path(path: &Path, shard: Option<Shard>) -> Result<PathBuf, String> {
    let Some(text) = path.to_str().filter(|t| t.contains("{shard}")) else {
        return Ok(path.to_path_buf());
    };
    match shard {
        Some(shard) => Ok(PathBuf::from(
            text.replace("{shard}", &shard.index.to_string()),
        )),
        None => Err(format!(
            "{} contains {{shard}} but this process is not a shard; add --shard K/N \
             (or run under a Kubernetes Indexed Job or a Slurm array)",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn url(i: u64) -> String {
        format!("https://files.example.com/bucket/dir/file-{i:05}.bin")
    }

    #[test]
    fn known_urls_keep_their_shards() {
        // Pinned: these must never change, or a rerun after an upgrade would move
        // files twice. Checked independently with
        // `printf %s URL | sha256sum` (first 16 hex digits, as an integer, mod N).
        let pinned: [(&str, u64, u64); 6] = [
            ("http://127.0.0.1:8000/files/0", 1, 5),
            ("http://127.0.0.1:8000/files/1", 2, 2),
            ("https://files.example.com/a.bin", 0, 6),
            ("https://files.example.com/b.bin", 0, 0),
            ("https://files.example.com/dir/c d.bin", 1, 5),
            ("", 0, 1),
        ];
        for (url, n4, n7) in pinned {
            assert_eq!(
                (shard_of_url(url, 4), shard_of_url(url, 7)),
                (n4, n7),
                "{url:?}"
            );
        }
    }

    #[test]
    fn ten_thousand_urls_split_evenly() {
        for n in [2, 3, 4, 5, 8, 10, 16, 32] {
            let mut sizes = vec![0u64; n as usize];
            for i in 0..10_000 {
                sizes[shard_of_url(&url(i), n) as usize] += 1;
            }
            let mean = 10_000.0 / n as f64;
            let max = *sizes.iter().max().unwrap() as f64;
            assert!(max <= 1.3 * mean, "N={n}: {sizes:?}");
        }
    }

    #[test]
    fn every_job_lands_in_exactly_one_shard() {
        for n in 1..=9 {
            let shards: Vec<Shard> = (0..n).map(|k| Shard::new(k, n).unwrap()).collect();
            for i in 0..2_000 {
                let u = url(i);
                assert_eq!(shards.iter().filter(|s| s.takes_url(&u)).count(), 1);
                assert_eq!(shards.iter().filter(|s| s.takes_index(i)).count(), 1);
            }
        }
    }

    proptest! {
        #[test]
        fn any_url_has_one_shard(url in ".*", n in 1u64..1000) {
            let owners = (0..n).filter(|&k| Shard::new(k, n).unwrap().takes_url(&url)).count();
            prop_assert_eq!(owners, 1);
        }
    }

    #[test]
    fn filter_splits_jobs_and_bad_lines_between_shards() {
        let items: Vec<Result<Job, ManifestError>> = (0..50)
            .map(|i| {
                if i % 10 == 3 {
                    Err(ManifestError {
                        line: i + 1,
                        message: "bad".into(),
                    })
                } else {
                    Ok(Job::new(i, url(i)))
                }
            })
            .collect();
        for by in [SplitBy::Url, SplitBy::Index] {
            let mut seen: HashMap<String, u32> = HashMap::new();
            for k in 0..3 {
                let shard = Shard::new(k, 3).unwrap();
                for item in filter(items.clone().into_iter(), Some(shard), by) {
                    let key = match item {
                        Ok(job) => job.src,
                        Err(err) => format!("line {}", err.line),
                    };
                    *seen.entry(key).or_default() += 1;
                }
            }
            assert_eq!(seen.len(), 50, "{by:?}");
            assert!(seen.values().all(|&c| c == 1), "{by:?}");
        }
        assert_eq!(
            filter(items.clone().into_iter(), None, SplitBy::Url).count(),
            50
        );
    }

    #[test]
    fn parses_k_of_n_and_refuses_nonsense() {
        assert_eq!("0/4".parse::<Shard>(), Shard::new(0, 4));
        assert_eq!(" 3 / 4 ".parse::<Shard>().unwrap().to_string(), "3/4");
        for bad in [
            "3/2", "0/0", "x", "4/4", "1/", "/4", "-1/4", "1/4/8", "1.5/4",
        ] {
            let err = bad.parse::<Shard>().expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
        let err = "4/4".parse::<Shard>().unwrap_err();
        assert!(
            err.contains("numbered from 0") && err.contains("3/4"),
            "{err}"
        );
        assert!("0/0".parse::<Shard>().unwrap_err().contains("at least 1"));
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn detected(
        explicit: Option<&str>,
        shards: Option<u64>,
        vars: &[(&str, &str)],
    ) -> Result<Option<Shard>, String> {
        let explicit = explicit.map(|s| s.parse().unwrap());
        detect(explicit, shards, env(vars)).map(|a| a.map(|a| a.shard))
    }

    #[test]
    fn explicit_shard_wins_over_the_environment() {
        let a = detect(
            Some(Shard::new(1, 4).unwrap()),
            None,
            env(&[("JOB_COMPLETION_INDEX", "3")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.shard, Shard::new(1, 4).unwrap());
        assert_eq!(
            a.to_string(),
            "shard 1/4 (numbered from 0), from --shard 1/4"
        );
    }

    #[test]
    fn no_scheduler_no_shard() {
        assert_eq!(detected(None, None, &[]), Ok(None));
        assert_eq!(detected(None, None, &[("SLURM_JOB_ID", "12")]), Ok(None));
        let err = detected(None, Some(4), &[]).unwrap_err();
        assert!(err.contains("--shard K/N"), "{err}");
    }

    #[test]
    fn kubernetes_indexed_job_needs_shards() {
        assert_eq!(
            detected(None, Some(5), &[("JOB_COMPLETION_INDEX", "4")]),
            Ok(Some(Shard::new(4, 5).unwrap()))
        );
        let err = detected(None, None, &[("JOB_COMPLETION_INDEX", "4")]).unwrap_err();
        assert!(err.contains("--shards N"), "{err}");
        assert!(detected(None, Some(4), &[("JOB_COMPLETION_INDEX", "4")]).is_err());
        assert!(detected(None, Some(4), &[("JOB_COMPLETION_INDEX", "two")]).is_err());
    }

    #[test]
    fn slurm_array_positions_count_from_min() {
        let array = |id: &str, min: &str, max: &str| {
            detected(
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", id),
                    ("SLURM_ARRAY_TASK_MIN", min),
                    ("SLURM_ARRAY_TASK_MAX", max),
                ],
            )
        };
        // --array=1-4: task 3 is the third of four.
        assert_eq!(array("3", "1", "4"), Ok(Some(Shard::new(2, 4).unwrap())));
        // --array=0-15
        assert_eq!(array("0", "0", "15"), Ok(Some(Shard::new(0, 16).unwrap())));
        assert!(array("5", "1", "4").is_err());
        // --array=10-40:10 is four tasks.
        assert_eq!(
            detected(
                None,
                Some(4),
                &[
                    ("SLURM_ARRAY_TASK_ID", "30"),
                    ("SLURM_ARRAY_TASK_MIN", "10"),
                    ("SLURM_ARRAY_TASK_MAX", "40"),
                    ("SLURM_ARRAY_TASK_STEP", "10"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
            ),
            Ok(Some(Shard::new(2, 4).unwrap()))
        );
    }

    #[test]
    fn slurm_arrays_that_cannot_be_split_are_refused() {
        // --array=1,4,9: three tasks over a span of nine.
        let sparse = detected(
            None,
            None,
            &[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "9"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ],
        )
        .unwrap_err();
        assert!(sparse.contains("--array=0-2"), "{sparse}");
        let mismatch = detected(
            None,
            Some(8),
            &[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
            ],
        )
        .unwrap_err();
        assert!(mismatch.contains("--shards 8"), "{mismatch}");
        // sbatch --array=5, rerunning one task of a larger array.
        let one = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_MAX", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
        ];
        assert!(
            detected(None, None, &one)
                .unwrap_err()
                .contains("--shard K/N")
        );
        assert!(detected(None, Some(16), &one).is_err());
        assert_eq!(
            detected(None, Some(1), &one),
            Ok(Some(Shard::new(0, 1).unwrap()))
        );
        assert!(detected(None, None, &[("SLURM_ARRAY_TASK_ID", "1")]).is_err());
    }

    #[test]
    fn shard_placeholder_in_paths() {
        let shard = Some(Shard::new(2, 4).unwrap());
        assert_eq!(
            expand_path(Path::new("/j/shard-{shard}.jsonl"), shard),
            Ok(PathBuf::from("/j/shard-2.jsonl"))
        );
        assert_eq!(
            expand_path(Path::new("/j/run.jsonl"), None),
            Ok(PathBuf::from("/j/run.jsonl"))
        );
        assert!(expand_path(Path::new("/j/shard-{shard}.jsonl"), None).is_err());
    }
}
