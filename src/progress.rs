//! What the operator sees while a run goes on: live bars on a terminal, periodic stats
//! lines in a log, and timestamped log lines.
//!
//! Workers never draw and never send per-chunk messages: each owns a [`Slot`] of
//! [`Meters`] (plain atomics on its own cache line) that the source reader bumps as
//! bytes arrive. The reporter thread, the only one writing to stderr, reads the slots on
//! a tick and either redraws the [`indicatif`] bars (one line for the run, one per
//! active worker) or, when not drawing, prints a stats line every `--stats` interval.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::Summary;

/// `--progress`: when to draw live bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// When stderr is a terminal (and not `--quiet`).
    Auto,
    /// Always (even into a pipe).
    Always,
    /// Never.
    Never,
}

/// Length value meaning "not known".
const UNKNOWN: u64 = u64::MAX;

/// One worker's counters. Aligned to a cache line so workers do not share one.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct Slot {
    /// Bytes of the current attempt read from the source.
    bytes: AtomicU64,
    /// Bytes ever read through this slot (all attempts, all jobs).
    total: AtomicU64,
    /// Declared length of the current body, or [`UNKNOWN`].
    length: AtomicU64,
    /// A body is being read.
    active: AtomicBool,
    /// The current file's name (set once per attempt, never on the hot path).
    name: Mutex<String>,
}

impl Slot {
    /// A body named `name` of `length` bytes (if known) starts.
    pub fn start(&self, name: &str, length: Option<u64>) {
        if let Ok(mut current) = self.name.lock() {
            current.clear();
            current.push_str(name);
        }
        self.bytes.store(0, Ordering::Relaxed);
        self.length
            .store(length.unwrap_or(UNKNOWN), Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
    }

    /// `n` more bytes arrived.
    #[inline]
    pub fn add(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    /// The body is finished (or abandoned).
    pub fn stop(&self) {
        self.active.store(false, Ordering::Release);
    }

    fn view(&self) -> Option<(String, u64, Option<u64>)> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let name = self.name.lock().map(|n| n.clone()).unwrap_or_default();
        let length = self.length.load(Ordering::Relaxed);
        Some((
            name,
            self.bytes.load(Ordering::Relaxed),
            (length != UNKNOWN).then_some(length),
        ))
    }
}

/// The slots of all workers.
#[derive(Debug)]
pub struct Meters {
    slots: Vec<Slot>,
    next: AtomicUsize,
}

impl Meters {
    /// One slot per worker.
    pub fn new(workers: usize) -> Self {
        Meters {
            slots: (0..workers.max(1)).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Hands a worker its slot (called once per worker thread).
    pub fn claim(&self) -> &Slot {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        &self.slots[i]
    }

    /// Bytes read from sources so far, all workers.
    pub fn moved(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.total.load(Ordering::Relaxed))
            .sum()
    }
}

/// What the run line and the stats line show, at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Jobs done.
    pub done: u64,
    /// Jobs failed.
    pub failed: u64,
    /// Jobs in the run, when known.
    pub total: Option<u64>,
    /// Bytes read from sources (including attempts that were retried).
    pub bytes: u64,
    /// Recent rate, bytes per second.
    pub rate: f64,
}

impl Snapshot {
    /// Estimated time left, from the pace of finished jobs, when the total is known.
    pub fn eta(&self) -> Option<Duration> {
        let finished = self.done + self.failed;
        let total = self.total?;
        if finished == 0 {
            return None;
        }
        let left = total.saturating_sub(finished) as f64;
        Some(Duration::from_secs_f64(
            self.elapsed.as_secs_f64() * left / finished as f64,
        ))
    }

    /// The stats line for logs, e.g.
    /// `stats: elapsed 30s, files 12/40 done, 1 failed, 1.2 GiB, 40.1 MB/s, eta 1m 10s`.
    pub fn stats_line(&self) -> String {
        let files = match self.total {
            Some(total) => format!("{}/{total}", self.done),
            None => self.done.to_string(),
        };
        let mut line = format!(
            "stats: elapsed {}, files {files} done, {} failed, {}, {}",
            round(self.elapsed),
            self.failed,
            bytes(self.bytes),
            per_second(self.rate)
        );
        if let Some(eta) = self.eta() {
            line.push_str(&format!(", eta {}", round(eta)));
        }
        line
    }
}

fn round(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}

fn bytes(n: u64) -> String {
    bytesize::ByteSize::b(n).display().iec().to_string()
}

fn per_second(rate: f64) -> String {
    format!("{:.1} MB/s", rate / 1e6)
}

/// How the console draws: what to show, and where.
pub struct ConsoleOptions {
    /// Draw bars to this target (None: no bars, plain lines).
    pub bars: Option<ProgressDrawTarget>,
    /// Print a stats line this often (when not drawing bars).
    pub stats_every: Option<Duration>,
    /// Jobs in the run, when known.
    pub total: Option<u64>,
}

impl ConsoleOptions {
    /// Decides bars and stats for stderr, given the options and whether stderr is a
    /// terminal: bars when `--progress always`, or `auto` on a terminal without
    /// `--quiet`; stats lines every `stats` when given (zero turns them off), else every
    /// 30 s when stderr is not a terminal (and not `--quiet`).
    pub fn for_stderr(
        mode: ProgressMode,
        stats: Option<Duration>,
        quiet: bool,
        terminal: bool,
        total: Option<u64>,
    ) -> Self {
        let draw = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => terminal && !quiet,
        };
        let stats_every = match stats {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None if !terminal && !quiet => Some(DEFAULT_STATS),
            None => None,
        };
        let target = || match mode {
            // indicatif draws nothing into a non-terminal `stderr` target; `always`
            // means draw anyway, so it goes through the TermLike door.
            ProgressMode::Always => ProgressDrawTarget::term_like_with_hz(
                Box::new(console::Term::buffered_stderr()),
                REDRAW_HZ,
            ),
            _ => ProgressDrawTarget::stderr_with_hz(REDRAW_HZ),
        };
        ConsoleOptions {
            bars: draw.then(target),
            stats_every: if draw { None } else { stats_every },
            total,
        }
    }
}

/// `--stats` when stderr is not a terminal and the option is not given.
pub const DEFAULT_STATS: Duration = Duration::from_secs(30);
/// How often the reporter looks at the meters.
pub const TICK: Duration = Duration::from_millis(100);
const REDRAW_HZ: u8 = 10;
/// The span the "current rate" is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// The bars: one for the run, one per active worker slot.
struct Bars {
    multi: MultiProgress,
    run: ProgressBar,
    workers: Vec<Option<ProgressBar>>,
    /// Worker styles, parsed once: with a known length, without.
    known: ProgressStyle,
    unknown: ProgressStyle,
}

/// The reporter's view of stderr: log lines, stats lines and bars.
pub struct Console {
    bars: Option<Bars>,
    stats_every: Option<Duration>,
    last_stats: Instant,
    started: Instant,
    total: Option<u64>,
    samples: VecDeque<(Instant, u64)>,
    out: Box<dyn Write + Send>,
}

impl Console {
    /// A console writing plain lines (no bars, no stats) to stderr.
    pub fn plain() -> Self {
        Console::new(
            ConsoleOptions {
                bars: None,
                stats_every: None,
                total: None,
            },
            Box::new(io::stderr()),
        )
    }

    /// A console with `options`, writing log lines (when not drawing) to `out`.
    pub fn new(options: ConsoleOptions, out: Box<dyn Write + Send>) -> Self {
        let now = Instant::now();
        let bars = options.bars.map(|target| {
            let multi = MultiProgress::with_draw_target(target);
            let run = multi.add(match options.total {
                Some(total) => ProgressBar::new(total).with_style(style(RUN_KNOWN)),
                None => ProgressBar::no_length().with_style(style(RUN_UNKNOWN)),
            });
            Bars {
                multi,
                run,
                workers: Vec::new(),
                known: style(WORKER_KNOWN),
                unknown: style(WORKER_UNKNOWN),
            }
        });
        Console {
            bars,
            stats_every: options.stats_every,
            last_stats: now,
            started: now,
            total: options.total,
            samples: VecDeque::new(),
            out,
        }
    }

    /// Whether bars are drawn.
    pub fn drawing(&self) -> bool {
        self.bars.is_some()
    }

    /// Writes one log line: above the bars when drawing, else with a UTC timestamp.
    pub fn line(&mut self, text: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.multi.println(format!("ferry: {text}"));
            }
            None => {
                let stamp = humantime::format_rfc3339_seconds(SystemTime::now());
                let _ = writeln!(self.out, "{stamp} ferry: {text}");
            }
        }
    }

    /// Reads the meters: redraws the bars, or prints a stats line when one is due.
    pub fn tick(&mut self, meters: &Meters, summary: &Summary, now: Instant) {
        let snapshot = self.snapshot(meters, summary, now);
        if let Some(bars) = &mut self.bars {
            redraw(bars, meters, &snapshot);
        } else if let Some(every) = self.stats_every
            && now.duration_since(self.last_stats) >= every
        {
            self.last_stats = now;
            self.line(&snapshot.stats_line());
        }
    }

    /// What the meters say now; keeps the samples the current rate is computed from.
    pub fn snapshot(&mut self, meters: &Meters, summary: &Summary, now: Instant) -> Snapshot {
        let moved = meters.moved();
        self.samples.push_back((now, moved));
        while self.samples.len() > 2 && now.duration_since(self.samples[0].0) > RATE_WINDOW {
            self.samples.pop_front();
        }
        let (since, then) = self.samples[0];
        let span = now.duration_since(since).as_secs_f64();
        let rate = if span > 0.0 {
            (moved - then) as f64 / span
        } else {
            0.0
        };
        Snapshot {
            elapsed: now.duration_since(self.started),
            done: summary.done,
            failed: summary.failed,
            total: self.total,
            bytes: moved,
            rate,
        }
    }

    /// Removes the bars (the final summary is printed after them).
    pub fn finish(&mut self) {
        if let Some(bars) = self.bars.take() {
            for bar in bars.workers.into_iter().flatten() {
                bar.finish_and_clear();
            }
            bars.run.finish_and_clear();
            let _ = bars.multi.clear();
        }
        let _ = self.out.flush();
    }
}

const RUN_KNOWN: &str = "{spinner} [{elapsed_precise}] {bar:24} {pos}/{len} files {msg}";
const RUN_UNKNOWN: &str = "{spinner} [{elapsed_precise}] {pos} files {msg}";
const WORKER_KNOWN: &str = "  {prefix:>3} {wide_msg} {bytes:>10}/{total_bytes:<10} {percent:>3}%";
const WORKER_UNKNOWN: &str = "  {prefix:>3} {wide_msg} {bytes:>10}";

fn style(template: &str) -> ProgressStyle {
    // The templates are constants, checked by the tests.
    ProgressStyle::with_template(template).expect("a progress template is invalid")
}

fn redraw(bars: &mut Bars, meters: &Meters, snapshot: &Snapshot) {
    let mut msg = format!(
        "({} failed) {} {}",
        snapshot.failed,
        bytes(snapshot.bytes),
        per_second(snapshot.rate)
    );
    if let Some(eta) = snapshot.eta() {
        msg.push_str(&format!(" eta {}", round(eta)));
    }
    if bars.workers.len() < meters.slots.len() {
        bars.workers.resize(meters.slots.len(), None);
    }
    for (i, slot) in meters.slots.iter().enumerate() {
        match (slot.view(), &bars.workers[i]) {
            (Some((name, got, length)), bar) => {
                let bar = match bar {
                    Some(bar) => bar.clone(),
                    None => {
                        let bar = bars.multi.add(ProgressBar::no_length());
                        bar.set_prefix(format!("w{i}"));
                        bars.workers[i] = Some(bar.clone());
                        bar
                    }
                };
                match length {
                    Some(length) => {
                        bar.set_style(bars.known.clone());
                        bar.set_length(length);
                    }
                    None => bar.set_style(bars.unknown.clone()),
                }
                bar.set_message(name);
                bar.set_position(got);
            }
            (None, Some(bar)) => {
                bar.finish_and_clear();
                bars.multi.remove(bar);
                bars.workers[i] = None;
            }
            (None, None) => {}
        }
    }
    // The run bar last, position before message: each change may redraw every line
    // (rate-limited), and the last one drawn should be whole.
    bars.run.set_position(snapshot.done + snapshot.failed);
    bars.run.set_message(msg);
    bars.run.tick();
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::InMemoryTerm;
    use std::sync::Arc;

    #[test]
    fn templates_are_valid() {
        for t in [RUN_KNOWN, RUN_UNKNOWN, WORKER_KNOWN, WORKER_UNKNOWN] {
            ProgressStyle::with_template(t).unwrap();
        }
    }

    fn summary(done: u64, failed: u64) -> Summary {
        Summary {
            done,
            failed,
            ..Summary::default()
        }
    }

    #[test]
    fn bars_show_the_run_and_each_active_worker() {
        let term = InMemoryTerm::new(10, 100);
        let mut console = Console::new(
            ConsoleOptions {
                bars: Some(ProgressDrawTarget::term_like(Box::new(term.clone()))),
                stats_every: None,
                total: Some(10),
            },
            Box::new(io::sink()),
        );
        let meters = Meters::new(3);
        let (a, b, _idle) = (meters.claim(), meters.claim(), meters.claim());
        a.start("alpha.bin", Some(4 << 20));
        a.add(1 << 20);
        b.start("beta.bin", None);
        b.add(3000);
        let start = Instant::now();
        console.tick(&meters, &summary(3, 1), start + Duration::from_secs(1));
        let screen = term.contents();
        assert!(screen.contains("4/10 files"), "{screen}");
        assert!(screen.contains("(1 failed)"), "{screen}");
        let alpha = screen.lines().find(|l| l.contains("alpha.bin")).unwrap();
        assert!(alpha.contains("w0") && alpha.contains("25%"), "{screen}");
        assert!(
            alpha.contains("1.00 MiB") && alpha.contains("4.00 MiB"),
            "{screen}"
        );
        let beta = screen.lines().find(|l| l.contains("beta.bin")).unwrap();
        assert!(beta.contains("w1") && !beta.contains('%'), "{screen}");
        assert!(
            !screen.contains("w2"),
            "an idle worker has no line\n{screen}"
        );

        // A finished body's line goes away; log lines print above the bars.
        a.stop();
        console.line("failed http://x/y: HTTP 404");
        console.tick(&meters, &summary(4, 1), start + Duration::from_secs(2));
        let screen = term.contents();
        assert!(!screen.contains("alpha.bin"), "{screen}");
        assert!(screen.contains("ferry: failed http://x/y"), "{screen}");
        assert!(screen.contains("5/10 files"), "{screen}");
        console.finish();
    }

    /// A `Write` that tests can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn stats_lines_come_at_the_interval_with_a_timestamp() {
        let out = Captured::default();
        let mut console = Console::new(
            ConsoleOptions {
                bars: None,
                stats_every: Some(Duration::from_secs(30)),
                total: None,
            },
            Box::new(out.clone()),
        );
        let meters = Meters::new(2);
        let slot = meters.claim();
        slot.start("f", Some(10_000_000));
        let t0 = console.started;
        console.tick(&meters, &summary(0, 0), t0 + Duration::from_secs(10));
        assert_eq!(out.text(), "", "no stats line before the interval");
        slot.add(10_000_000);
        console.tick(&meters, &summary(1, 0), t0 + Duration::from_secs(31));
        console.tick(&meters, &summary(1, 0), t0 + Duration::from_secs(32));
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let (stamp, rest) = lines[0].split_once(' ').unwrap();
        humantime::parse_rfc3339(stamp).expect("a timestamp");
        assert_eq!(
            rest,
            "ferry: stats: elapsed 31s, files 1 done, 0 failed, 9.5 MiB, 0.5 MB/s"
        );
    }

    #[test]
    fn eta_follows_the_pace_of_finished_jobs() {
        let s = Snapshot {
            elapsed: Duration::from_secs(60),
            done: 9,
            failed: 1,
            total: Some(40),
            bytes: 0,
            rate: 0.0,
        };
        assert_eq!(s.eta(), Some(Duration::from_secs(180)));
        assert!(s.stats_line().ends_with("eta 3m"), "{}", s.stats_line());
        assert_eq!(
            Snapshot {
                total: None,
                ..s.clone()
            }
            .eta(),
            None
        );
        assert_eq!(
            Snapshot {
                done: 0,
                failed: 0,
                ..s
            }
            .eta(),
            None
        );
    }

    #[test]
    fn bars_only_on_a_terminal_or_when_asked() {
        let d = |mode, stats, quiet, tty| ConsoleOptions::for_stderr(mode, stats, quiet, tty, None);
        assert!(d(ProgressMode::Auto, None, false, true).bars.is_some());
        assert!(d(ProgressMode::Auto, None, true, true).bars.is_none());
        assert!(d(ProgressMode::Auto, None, false, false).bars.is_none());
        assert!(d(ProgressMode::Always, None, false, false).bars.is_some());
        assert!(d(ProgressMode::Never, None, false, true).bars.is_none());
        assert_eq!(
            d(ProgressMode::Auto, None, false, false).stats_every,
            Some(DEFAULT_STATS)
        );
        assert_eq!(d(ProgressMode::Never, None, false, true).stats_every, None);
        let every = Some(Duration::from_millis(200));
        assert_eq!(
            d(ProgressMode::Never, every, false, true).stats_every,
            every
        );
        assert_eq!(
            d(ProgressMode::Auto, every, false, true).stats_every,
            None,
            "bars win"
        );
        assert_eq!(
            d(ProgressMode::Auto, Some(Duration::ZERO), false, false).stats_every,
            None
        );
    }
}
