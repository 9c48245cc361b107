//! The fixed worker pool: a producer (the calling thread) feeds a bounded channel, N
//! scoped worker threads drain it. Shutdown is dropping the sender. A stop request ends
//! production; when it has lasted longer than the drain timeout, running transfers are
//! aborted. A worker that panics requests a stop, so the run ends instead of hanging.

use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded};

use crate::signal::Cancel;

/// Runs `worker` on `workers` threads, each given the receiving end of a bounded channel
/// (capacity `2 x workers`) that this thread fills from `jobs`. Returns when every worker
/// has returned.
pub fn run<J, W>(
    workers: usize,
    jobs: impl Iterator<Item = J>,
    cancel: &Cancel,
    drain_timeout: Duration,
    worker: W,
) where
    J: Send,
    W: Fn(Receiver<J>) + Sync,
{
    let (tx, rx) = bounded::<J>(workers * 2);
    // Each worker holds a clone of `alive`; the channel disconnects when the last ends.
    let (alive, ended) = bounded::<()>(0);
    thread::scope(|scope| {
        for id in 0..workers {
            let rx = rx.clone();
            let (worker, alive) = (&worker, alive.clone());
            thread::Builder::new()
                .name(format!("ferry-worker-{id}"))
                .spawn_scoped(scope, move || {
                    let _guard = Guard {
                        cancel,
                        _alive: alive,
                    };
                    worker(rx);
                })
                // Spawning fails only when the OS is out of threads or memory.
                .expect("cannot start a worker thread");
        }
        drop(rx);

        'produce: for mut job in jobs {
            loop {
                if cancel.stopping() {
                    break 'produce;
                }
                match tx.send_timeout(job, TICK) {
                    Ok(()) => break,
                    Err(SendTimeoutError::Timeout(back)) => job = back,
                    Err(SendTimeoutError::Disconnected(_)) => break 'produce,
                }
            }
        }
        drop(tx);

        drop(alive);
        let mut stop_seen: Option<Instant> = None;
        while ended.recv_timeout(TICK) != Err(RecvTimeoutError::Disconnected) {
            if cancel.stopping() && !cancel.aborting() {
                let since = *stop_seen.get_or_insert_with(Instant::now);
                if since.elapsed() >= drain_timeout {
                    cancel.abort();
                }
            }
        }
    });
}

/// How often the producer and the drain watch look at the flags.
const TICK: Duration = Duration::from_millis(50);

/// Marks a worker finished; if it is unwinding from a panic, requests a stop.
struct Guard<'a> {
    cancel: &'a Cancel,
    /// Dropped with the guard: tells the producer this worker ended.
    _alive: Sender<()>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.cancel.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_job_is_handled_once() {
        let seen = Mutex::new(Vec::new());
        run(
            4,
            0..1000u32,
            &Cancel::new(),
            Duration::from_secs(1),
            |rx| {
                for job in rx {
                    seen.lock().unwrap().push(job);
                }
            },
        );
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn a_stop_ends_production_and_a_long_drain_aborts() {
        let cancel = Cancel::new();
        let handled = AtomicUsize::new(0);
        run(2, 0..u32::MAX, &cancel, Duration::from_millis(100), |rx| {
            for _ in rx {
                if handled.fetch_add(1, Ordering::SeqCst) == 10 {
                    cancel.stop();
                }
                // A transfer that runs until aborted.
                while cancel.stopping() && !cancel.aborting() {
                    thread::sleep(Duration::from_millis(5));
                }
            }
        });
        assert!(cancel.aborting());
        // At most the queue (2 x 2) and the two running jobs after the stop.
        assert!(handled.load(Ordering::SeqCst) <= 11 + 6);
    }

    #[test]
    fn a_panicking_worker_stops_the_run() {
        let cancel = Cancel::new();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(2, 0..u32::MAX, &cancel, Duration::from_secs(60), |rx| {
                for job in rx {
                    assert!(job < 5, "boom");
                }
            })
        }));
        assert!(result.is_err());
        assert!(cancel.stopping());
    }
}
