//! Holding a body of unknown length until its length is known: in memory up to a cutoff,
//! beyond it in an anonymous temporary file that the OS deletes when it is closed (so it
//! is gone when the job ends, whatever happens, even if ferry is killed).

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

/// A fully received body, ready to be uploaded with its exact length.
pub enum Spool {
    /// Small enough to stay in memory.
    Memory(Cursor<Vec<u8>>),
    /// Spilled to an anonymous temporary file, rewound.
    File(File),
}

impl Read for Spool {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spool::Memory(c) => c.read(buf),
            Spool::File(f) => f.read(buf),
        }
    }
}

/// Where spooling failed: reading the source, or the local temporary file.
#[derive(Debug)]
pub enum SpoolError {
    /// Reading the body failed (the reader's own error).
    Read(io::Error),
    /// Creating, writing or rewinding the temporary file failed.
    Disk(io::Error),
}

/// Reads `body` to its end. Keeps up to `memory_limit` bytes in memory; beyond that,
/// writes everything to a temporary file, copying through `buffer`. Returns the spool
/// and the body's length.
pub fn fill(
    body: &mut dyn Read,
    memory_limit: usize,
    buffer: &mut [u8],
) -> Result<(Spool, u64), SpoolError> {
    let mut memory = Vec::new();
    let limit = memory_limit as u64 + 1;
    body.take(limit)
        .read_to_end(&mut memory)
        .map_err(SpoolError::Read)?;
    if (memory.len() as u64) < limit {
        let len = memory.len() as u64;
        return Ok((Spool::Memory(Cursor::new(memory)), len));
    }
    let mut file = tempfile::tempfile().map_err(SpoolError::Disk)?;
    file.write_all(&memory).map_err(SpoolError::Disk)?;
    let mut len = memory.len() as u64;
    drop(memory);
    loop {
        let n = match body.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(SpoolError::Read(err)),
        };
        file.write_all(&buffer[..n]).map_err(SpoolError::Disk)?;
        len += n as u64;
    }
    file.seek(SeekFrom::Start(0)).map_err(SpoolError::Disk)?;
    Ok((Spool::File(file), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8], limit: usize) -> (bool, Vec<u8>, u64) {
        let mut buf = [0u8; 7];
        let (mut spool, len) = fill(&mut &data[..], limit, &mut buf).unwrap();
        let in_memory = matches!(spool, Spool::Memory(_));
        let mut out = Vec::new();
        spool.read_to_end(&mut out).unwrap();
        (in_memory, out, len)
    }

    #[test]
    fn small_bodies_stay_in_memory_large_ones_spill() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        assert_eq!(roundtrip(&data, 1000), (true, data.clone(), 1000));
        assert_eq!(roundtrip(&data, 999), (false, data.clone(), 1000));
        assert_eq!(roundtrip(&data, 10), (false, data.clone(), 1000));
        assert_eq!(roundtrip(b"", 0), (true, vec![], 0));
    }

    #[test]
    fn read_errors_are_told_apart_from_disk_errors() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("reset"))
            }
        }
        let err = fill(&mut Broken, 10, &mut [0; 4]).err().unwrap();
        assert!(matches!(err, SpoolError::Read(_)));
    }
}
