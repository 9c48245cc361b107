//! The one hook where bytes move: the source body is read through a [`Metered`] reader
//! that counts each chunk into the worker's progress [`Slot`] and pays the shared
//! `--bwlimit` [`Bucket`]. Two relaxed atomic adds per chunk, one compare-and-swap when a
//! limit is set; no lock, no channel message.

use std::io::{self, Read};

use crate::bwlimit::Bucket;
use crate::progress::Slot;

/// What a worker's reads report to: its progress slot and the bandwidth bucket, each
/// optional (tests and library callers may have neither).
#[derive(Clone, Copy, Debug, Default)]
pub struct Meter<'a> {
    slot: Option<&'a Slot>,
    bucket: Option<&'a Bucket>,
}

impl<'a> Meter<'a> {
    /// A meter counting into `slot` and limited by `bucket`.
    pub fn new(slot: Option<&'a Slot>, bucket: Option<&'a Bucket>) -> Self {
        Meter { slot, bucket }
    }

    /// Wraps the body of the file `name` (of `length` bytes, if declared).
    pub fn wrap<R: Read>(self, inner: R, name: &str, length: Option<u64>) -> Metered<'a, R> {
        if let Some(slot) = self.slot {
            slot.start(name, length);
        }
        Metered { inner, meter: self }
    }
}

/// A reader that meters and throttles another. Dropping it marks the slot idle.
pub struct Metered<'a, R> {
    inner: R,
    meter: Meter<'a>,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = match self.meter.bucket {
            Some(bucket) => buf.len().min(bucket.chunk()),
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..len])?;
        if n > 0 {
            if let Some(slot) = self.meter.slot {
                slot.add(n as u64);
            }
            if let Some(bucket) = self.meter.bucket {
                let wait = bucket.take(n as u64);
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
            }
        }
        Ok(n)
    }
}

impl<R> Drop for Metered<'_, R> {
    fn drop(&mut self) {
        if let Some(slot) = self.meter.slot {
            slot.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Meters;
    use crate::rate::Rate;

    #[test]
    fn counts_every_byte_and_limits_read_size() {
        let meters = Meters::new(1);
        let slot = meters.claim();
        // A generous rate: the test must not sleep, only see the chunk cap.
        let bucket = Bucket::new(Rate::new(1e12));
        let data = vec![7u8; 300_000];
        let mut reader = Meter::new(Some(slot), None).wrap(&data[..], "f", Some(300_000));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(meters.moved(), 300_000);
        drop(reader);

        let small = Bucket::new(Rate::new(100_000.0));
        let mut limited = Meter::new(None, Some(&small)).wrap(&data[..], "f", None);
        let mut buf = vec![0u8; 65536];
        assert_eq!(limited.read(&mut buf).unwrap(), small.chunk());
        assert!(bucket.chunk() > 65536);
    }
}
