//! Loopback simulators of the design document's two "cloud providers", used by
//! `ferry demo`, the integration tests and the benchmarks.
//!
//! - [`serve_source`] serves deterministic pseudo-random files: `GET /files/<i>` is
//!   always the same file, any other `GET` is a new file per request (the document's
//!   behaviour). Its content is cheap to generate and reproducible, so a test knows a
//!   file's SHA-256 without downloading it ([`source::expected_sha256`]).
//! - [`serve_destination`] accepts `POST`/`PUT` bodies framed by `Content-Length` or
//!   chunked encoding, hashes them, and records every upload, complete or not, in a
//!   [`DestinationLog`].
//!
//! Both are hand-written HTTP/1.1 servers on `std::net`: one accept thread, one thread
//! per connection, 256 KiB buffers. This file owns their lifecycle ([`Server`]): bind,
//! accept, count, and stop on drop.

pub mod destination;
pub mod source;

mod chunked;
mod digest;
mod http;
mod query;
#[cfg(test)]
mod tests;

pub use destination::{DestinationLog, DestinationOptions, Upload};
pub use source::{FileSpec, SourceOptions};

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use http::Conn;

/// How long [`Server`]'s drop waits for connection threads to notice the stop flag.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// Starts the source simulator on `bind` (use `127.0.0.1:0` for a free port).
///
/// Returns once the listener is bound; connections made from then on are served.
pub fn serve_source(bind: SocketAddr, opts: SourceOptions) -> io::Result<Server> {
    let state = Arc::new(source::State::new(opts));
    Server::start(bind, "sim-source", move |conn| {
        source::serve_connection(conn, &state)
    })
}

/// Starts the destination simulator on `bind` (use `127.0.0.1:0` for a free port).
///
/// Returns once the listener is bound, with the log that records every upload. Fails
/// if `opts.log_file` cannot be opened for appending.
pub fn serve_destination(
    bind: SocketAddr,
    opts: DestinationOptions,
) -> io::Result<(Server, DestinationLog)> {
    let state = Arc::new(destination::State::new(opts)?);
    let log = state.log.clone();
    let server = Server::start(bind, "sim-destination", move |conn| {
        destination::serve_connection(conn, &state)
    })?;
    Ok((server, log))
}

/// State shared by a server's accept thread and its connection threads.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Set once by [`Server`]'s drop; every socket wait checks it.
    stop: AtomicBool,
    /// Request heads parsed so far.
    requests: AtomicU64,
    /// TCP connections accepted so far.
    connections: AtomicU64,
    /// Connection threads still running.
    active: AtomicUsize,
}

impl Shared {
    /// Whether the server is shutting down.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Counts one parsed request head.
    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// TCP connections accepted so far.
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// A running simulator: its bound address and hit counters. It stops on drop.
///
/// Dropping it stops accepting, joins the accept thread, and waits up to a second for
/// connection threads to notice; a thread blocked on a silent peer ends by itself
/// within its socket poll interval.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `bind` and spawns the accept thread, which runs `handler` on a new thread
    /// for each connection.
    fn start<F>(bind: SocketAddr, name: &str, handler: F) -> io::Result<Server>
    where
        F: Fn(Conn) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = {
            let shared = Arc::clone(&shared);
            let name = name.to_owned();
            thread::Builder::new()
                .name(format!("{name}-accept"))
                .spawn(move || accept_loop(&listener, &shared, &name, Arc::new(handler)))?
        };
        Ok(Server {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served so far (every parsed request head, whatever its answer).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections()
    }

    /// Stops the server; the same as dropping it.
    pub fn stop(self) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(accept) = self.accept.take() {
            // The accept thread blocks in accept(); a connection wakes it up to see
            // the flag. If we cannot connect, detach it: it ends on the next accept.
            if wake(self.addr).is_ok() {
                let _ = accept.join();
            }
        }
        let deadline = Instant::now() + DRAIN_WAIT;
        while self.shared.active.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Accepts connections until the stop flag is set, one thread per connection.
fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    name: &str,
    handler: Arc<dyn Fn(Conn) + Send + Sync>,
) {
    for stream in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(stream) = stream else {
            // Out of descriptors or an aborted handshake: back off, do not spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let Ok(conn) = Conn::new(stream, Arc::clone(shared)) else {
            continue;
        };
        let guard = ActiveGuard::new(Arc::clone(shared));
        let handler = Arc::clone(&handler);
        // If the spawn fails the closure, and with it the guard, is dropped.
        let _ = thread::Builder::new()
            .name(format!("{name}-conn"))
            .spawn(move || {
                let _guard = guard;
                handler(conn);
            });
    }
}

/// Counts a running connection thread, even if its handler panics.
struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    fn new(shared: Arc<Shared>) -> Self {
        shared.active.fetch_add(1, Ordering::AcqRel);
        ActiveGuard(shared)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Connects to the listener at `addr` so that its blocking accept() returns.
fn wake(addr: SocketAddr) -> io::Result<()> {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    TcpStream::connect_timeout(
        &SocketAddr::new(ip, addr.port()),
        Duration::from_millis(500),
    )
    .map(drop)
}
