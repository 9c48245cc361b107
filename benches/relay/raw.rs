//! The raw relay: the practical ceiling of a userspace relay on this machine.
//!
//! No HTTP client: each worker keeps one keep-alive TCP connection to the source and one
//! to the sink, writes a hand-written `GET`, finds the end of the response head (parsed
//! with `httparse`, the only HTTP logic), writes a hand-written `POST` head with the same
//! `Content-Length`, then moves exactly that many body bytes. A close-delimited body (no
//! `Content-Length`) is forwarded as hand-written chunks, one per read.
//!
//! Two ways to move the bytes: [`Mode::ReadWrite`] (a `read`/`write` loop through one
//! large buffer) and [`Mode::Splice`] (Linux `splice(2)` through a pipe: the bytes never
//! enter user space). The same module also provides the two halves alone
//! ([`Mode::SourceOnly`], [`Mode::SinkOnly`]) to show the simulators are not the bottleneck.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use crate::spec::Spec;

/// How a relay worker moves body bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `read` into a buffer of `spec.buffer` bytes, `write` it out.
    ReadWrite,
    /// `splice` socket -> pipe -> socket.
    Splice,
    /// GET and throw the body away (what the source alone can serve).
    SourceOnly,
    /// POST bytes from memory (what the sink alone can take).
    SinkOnly,
}

/// Runs every file of `spec` through `workers` relay threads; returns the body bytes moved.
pub fn run(spec: &Spec, mode: Mode) -> io::Result<u64> {
    let next = AtomicU64::new(0);
    let moved = AtomicU64::new(0);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..spec.workers)
            .map(|_| {
                scope.spawn(|| -> io::Result<()> {
                    let mut worker = Worker::new(spec, mode)?;
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= spec.files {
                            return Ok(());
                        }
                        let n = worker.one(index)?;
                        moved.fetch_add(n, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a relay worker panicked"))
    })?;
    Ok(moved.into_inner())
}

/// A connection with the bytes read past the last response head.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    fn open(addr: &str, buffer: usize) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; buffer.max(64 * 1024)],
            start: 0,
            end: 0,
        })
    }

    /// Reads a response head; returns (status, Content-Length). Body bytes that came
    /// with it stay in `buf[start..end]`.
    fn read_head(&mut self) -> io::Result<(u16, Option<u64>)> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(len) = response
                .parse(&self.buf[self.start..self.end])
                .map_err(io::Error::other)?
            {
                let status = response.code.unwrap_or(0);
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
                self.start += len;
                return Ok((status, length));
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = self.stream.read(&mut self.buf[self.end..])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.end += n;
        }
    }

    /// Takes up to `max` buffered body bytes.
    fn take_buffered(&mut self, max: u64) -> &[u8] {
        let n = (self.end - self.start).min(usize::try_from(max).unwrap_or(usize::MAX));
        let taken = &self.buf[self.start..self.start + n];
        self.start += n;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        taken
    }
}

/// One relay thread: its connections, buffer and pipe.
struct Worker<'a> {
    spec: &'a Spec,
    mode: Mode,
    src: Option<Conn>,
    dst: Option<Conn>,
    buf: Vec<u8>,
    pipe: Option<(OwnedFd, OwnedFd)>,
}

impl<'a> Worker<'a> {
    fn new(spec: &'a Spec, mode: Mode) -> io::Result<Self> {
        let pipe = match mode {
            Mode::Splice => Some(pipe(spec.buffer)?),
            _ => None,
        };
        Ok(Worker {
            spec,
            mode,
            src: None,
            dst: None,
            buf: vec![0; spec.buffer],
            pipe,
        })
    }

    /// Relays file `index`; returns its body bytes.
    fn one(&mut self, index: u64) -> io::Result<u64> {
        if self.mode == Mode::SinkOnly {
            return self.feed_sink(index);
        }
        let spec = self.spec;
        let src = match &mut self.src {
            Some(conn) => conn,
            none => none.insert(Conn::open(&spec.src_addr, spec.buffer)?),
        };
        let query = if spec.length { "" } else { "?length=0" };
        let get = format!(
            "GET /files/{index}{query} HTTP/1.1\r\nHost: {}\r\n\r\n",
            spec.src_addr
        );
        src.stream.write_all(get.as_bytes())?;
        let (status, length) = src.read_head()?;
        if status != 200 {
            return Err(io::Error::other(format!("source answered {status}")));
        }
        if self.mode == Mode::SourceOnly {
            let n = drain(src, length, &mut self.buf)?;
            if length.is_none() {
                self.src = None;
            }
            return Ok(n);
        }
        let dst = match &mut self.dst {
            Some(conn) => conn,
            none => none.insert(Conn::open(&spec.dst_addr, spec.buffer)?),
        };
        let framing = match length {
            Some(n) => format!("Content-Length: {n}"),
            None => "Transfer-Encoding: chunked".to_owned(),
        };
        let post = format!(
            "POST /{}-{index} HTTP/1.1\r\nHost: {}\r\n{framing}\r\n\r\n",
            spec.label, spec.dst_addr
        );
        dst.stream.write_all(post.as_bytes())?;
        let moved = match (length, &self.pipe) {
            (Some(len), None) => copy_rw(src, &mut dst.stream, len, &mut self.buf)?,
            (Some(len), Some(pipe)) => copy_splice(src, &dst.stream, len, pipe, false)?,
            (None, None) => copy_rw_chunked(src, &mut dst.stream, &mut self.buf)?,
            (None, Some(pipe)) => copy_splice(src, &dst.stream, u64::MAX, pipe, true)?,
        };
        if length.is_none() {
            // A close-delimited body used its connection up.
            self.src = None;
        }
        let (status, _) = dst.read_head()?;
        if !(200..300).contains(&status) {
            return Err(io::Error::other(format!("sink answered {status}")));
        }
        Ok(moved)
    }

    /// POSTs `spec.size` bytes from memory.
    fn feed_sink(&mut self, index: u64) -> io::Result<u64> {
        let spec = self.spec;
        let dst = match &mut self.dst {
            Some(conn) => conn,
            none => none.insert(Conn::open(&spec.dst_addr, spec.buffer)?),
        };
        let post = format!(
            "POST /{}-{index} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            spec.label, spec.dst_addr, spec.size
        );
        dst.stream.write_all(post.as_bytes())?;
        let mut left = spec.size;
        while left > 0 {
            let n = self
                .buf
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            dst.stream.write_all(&self.buf[..n])?;
            left -= n as u64;
        }
        let (status, _) = dst.read_head()?;
        if !(200..300).contains(&status) {
            return Err(io::Error::other(format!("sink answered {status}")));
        }
        Ok(spec.size)
    }
}

/// Reads a body (of `length` bytes, or to EOF) and throws it away.
fn drain(src: &mut Conn, length: Option<u64>, buf: &mut [u8]) -> io::Result<u64> {
    let limit = length.unwrap_or(u64::MAX);
    let mut got = src.take_buffered(limit).len() as u64;
    while got < limit {
        let want = buf
            .len()
            .min(usize::try_from(limit - got).unwrap_or(usize::MAX));
        match src.stream.read(&mut buf[..want])? {
            0 if length.is_none() => break,
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n as u64,
        }
    }
    Ok(got)
}

/// `read`/`write` loop for exactly `len` bytes.
fn copy_rw(src: &mut Conn, dst: &mut TcpStream, len: u64, buf: &mut [u8]) -> io::Result<u64> {
    let head = src.take_buffered(len);
    dst.write_all(head)?;
    let mut moved = head.len() as u64;
    while moved < len {
        let want = buf
            .len()
            .min(usize::try_from(len - moved).unwrap_or(usize::MAX));
        let n = src.stream.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        dst.write_all(&buf[..n])?;
        moved += n as u64;
    }
    Ok(moved)
}

/// `read`/`write` loop to EOF, each read sent as one chunk.
fn copy_rw_chunked(src: &mut Conn, dst: &mut TcpStream, buf: &mut [u8]) -> io::Result<u64> {
    let head = src.take_buffered(u64::MAX);
    let mut moved = head.len() as u64;
    if !head.is_empty() {
        write!(dst, "{:x}\r\n", head.len())?;
        dst.write_all(head)?;
        dst.write_all(b"\r\n")?;
    }
    loop {
        let n = src.stream.read(buf)?;
        if n == 0 {
            dst.write_all(b"0\r\n\r\n")?;
            return Ok(moved);
        }
        write!(dst, "{n:x}\r\n")?;
        dst.write_all(&buf[..n])?;
        dst.write_all(b"\r\n")?;
        moved += n as u64;
    }
}

/// A pipe sized to `size` bytes (capped by `/proc/sys/fs/pipe-max-size`): (read, write).
fn pipe(size: usize) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A failure leaves the default 64 KiB pipe, which still works.
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: F_SETPIPE_SZ on a descriptor we own.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
    Ok((r, w))
}

/// One `splice(2)` call; returns bytes moved.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: both descriptors are open for the duration of the call; null offsets
        // mean "use the file position", as required for sockets and pipes.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Moves `len` bytes (or, `chunked`, everything to EOF as chunks) socket -> pipe -> socket.
fn copy_splice(
    src: &mut Conn,
    dst: &TcpStream,
    len: u64,
    (pipe_r, pipe_w): &(OwnedFd, OwnedFd),
    chunked: bool,
) -> io::Result<u64> {
    let mut out = dst;
    let head = src.take_buffered(len);
    if !head.is_empty() {
        if chunked {
            write!(out, "{:x}\r\n", head.len())?;
        }
        out.write_all(head)?;
        if chunked {
            out.write_all(b"\r\n")?;
        }
    }
    let mut moved = head.len() as u64;
    // SAFETY: F_GETPIPE_SZ on a descriptor we own.
    let capacity =
        unsafe { libc::fcntl(pipe_w.as_raw_fd(), libc::F_GETPIPE_SZ) }.max(4096) as usize;
    while moved < len {
        let want = capacity.min(usize::try_from(len - moved).unwrap_or(usize::MAX));
        let n = splice(src.stream.as_raw_fd(), pipe_w.as_raw_fd(), want)?;
        if n == 0 {
            if chunked {
                break;
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if chunked {
            write!(out, "{n:x}\r\n")?;
        }
        let mut left = n;
        while left > 0 {
            let k = splice(pipe_r.as_raw_fd(), dst.as_raw_fd(), left)?;
            if k == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            left -= k;
        }
        if chunked {
            out.write_all(b"\r\n")?;
        }
        moved += n as u64;
    }
    if chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    Ok(moved)
}
