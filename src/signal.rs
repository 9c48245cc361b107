//! Ctrl-c handling. [`Cancel`] carries two flags: `stop` (first SIGINT/SIGTERM: start no
//! new job, let running ones finish) and `abort` (the drain timeout ran out: running
//! transfers fail at their next read). A second signal exits the process at once with
//! code 130, through signal-hook's conditional shutdown.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// Cooperative cancellation, shared by the producer, the workers and the signal handlers.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    stop: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
}

impl Cancel {
    /// Flags that nothing has set yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers SIGINT and SIGTERM: the first sets `stop`, the second exits with 130.
    pub fn install(&self) -> io::Result<()> {
        for signal in [SIGINT, SIGTERM] {
            // Order matters: the conditional shutdown must see the flag as it was
            // before this delivery sets it, so it is registered first.
            flag::register_conditional_shutdown(signal, 130, Arc::clone(&self.stop))?;
            flag::register(signal, Arc::clone(&self.stop))?;
        }
        Ok(())
    }

    /// Has a stop been requested (no new jobs)?
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Requests a stop, as the first ctrl-c does.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Must running transfers give up now?
    pub fn aborting(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    /// Makes running transfers give up (after the drain timeout).
    pub fn abort(&self) {
        self.stop();
        self.abort.store(true, Ordering::Relaxed);
    }

    /// Sleeps for `delay` unless a stop is requested; returns false if it was.
    pub fn sleep(&self, delay: Duration) -> bool {
        let end = Instant::now() + delay;
        loop {
            if self.stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_ends_early_on_stop() {
        let cancel = Cancel::new();
        assert!(cancel.sleep(Duration::from_millis(1)));
        let other = cancel.clone();
        let t = std::thread::spawn(move || other.sleep(Duration::from_secs(30)));
        cancel.stop();
        assert!(!t.join().unwrap());
        assert!(!cancel.aborting());
        cancel.abort();
        assert!(cancel.aborting());
    }
}
