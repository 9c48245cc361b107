//! Servers nobody here wrote (nginx, rclone, Python's `http.server`), started from a
//! temporary config on a free loopback port and killed on Drop, plus a file tree to
//! serve and a byte-for-byte comparison of what arrived.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use super::{Proc, free_port};

/// Is `tool` on the PATH? In CI (`CI` set) a missing tool fails the test, since `.ci/run`
/// installs it; elsewhere the test prints why it skips.
pub fn require(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed in CI; .ci/run should have installed it"
        );
        eprintln!("skipping: {tool} is not installed (apt-get install {tool})");
    }
    found
}

/// How long a server may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A running external server.
pub struct External {
    /// Killed on Drop.
    _proc: Proc,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
}

/// Starts `cmd` and waits until it listens on `port`, failing (with `log`'s contents)
/// if it exits first.
fn start(mut cmd: Command, port: u16, log: &Path, what: &str) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut proc = Proc(child);
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return proc;
        }
        if let Some(status) = proc.0.try_wait().unwrap() {
            panic!(
                "{what} exited with {status} before listening:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} does not listen on {port} after {START_LIMIT:?}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A certificate and key for nginx, PEM files.
pub struct TlsFiles {
    /// The leaf certificate (for `localhost` and 127.0.0.1).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// A private CA and a leaf certificate for `localhost` and 127.0.0.1 signed by it,
/// written into `dir`: returns the CA's PEM path and the leaf's files.
pub fn make_ca(dir: &Path) -> (PathBuf, TlsFiles) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ferry test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let files = TlsFiles {
        cert: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    };
    std::fs::write(&files.cert, leaf.pem()).unwrap();
    std::fs::write(&files.key, leaf_key.serialize_pem()).unwrap();
    (ca_path, files)
}

/// nginx (single process, no daemon) serving `root`, accepting WebDAV `PUT` anywhere
/// under it (`create_full_put_path`, no body size limit); over HTTPS with `tls`;
/// `extra` is pasted into the `server` block (more `location`s).
pub fn nginx(dir: &Path, root: &Path, tls: Option<&TlsFiles>, extra: &str) -> External {
    let port = free_port();
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("tmp")).unwrap();
    let (listen, ssl, scheme, host) = match tls {
        Some(tls) => (
            format!("127.0.0.1:{port} ssl"),
            format!(
                "ssl_certificate {}; ssl_certificate_key {};",
                tls.cert.display(),
                tls.key.display()
            ),
            "https",
            "127.0.0.1",
        ),
        None => (
            format!("127.0.0.1:{port}"),
            String::new(),
            "http",
            "127.0.0.1",
        ),
    };
    let p = prefix.display();
    let conf = format!(
        "# Root runs the workers as root too, so they can write into the test's tempdir
user root root;
worker_processes 1;
error_log {p}/error.log warn;
pid {p}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    server {{
        listen {listen};
        {ssl}
        root {root};
        {extra}
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
",
        root = root.display()
    );
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new("nginx");
    cmd.arg("-p")
        .arg(&prefix)
        .arg("-e")
        .arg(prefix.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        // No master process: killing the one process stops everything.
        .args(["-g", "daemon off; master_process off;"]);
    let proc = start(cmd, port, &prefix.join("stderr.log"), "nginx");
    External {
        _proc: proc,
        base: format!("{scheme}://{host}:{port}"),
    }
}

/// `rclone serve webdav ROOT` (`webdav`) or `rclone serve http ROOT` (`http`).
pub fn rclone(dir: &Path, protocol: &str, root: &Path) -> External {
    let port = free_port();
    let config = dir.join(format!("rclone-{protocol}.conf"));
    std::fs::write(&config, "").unwrap();
    let mut cmd = Command::new("rclone");
    cmd.args(["serve", protocol])
        .arg(root)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(&config);
    let log = dir.join(format!("rclone-{protocol}.log"));
    let proc = start(cmd, port, &log, &format!("rclone serve {protocol}"));
    External {
        _proc: proc,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// `python3 -m http.server --bind 127.0.0.1 --directory ROOT PORT`.
pub fn python_http_server(dir: &Path, root: &Path) -> External {
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(root)
        .arg(port.to_string());
    let proc = start(cmd, port, &dir.join("python.log"), "python3 -m http.server");
    External {
        _proc: proc,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Names (awkward on purpose) and sizes of the files [`tree`] writes: a space, non-ASCII,
/// an empty file, and one larger than ferry's buffer.
pub const FILES: &[(&str, usize)] = &[
    ("plain.bin", 1000),
    ("with space.txt", 70_000),
    ("unicodé ünï.dat", 4096),
    ("empty", 0),
    ("big.bin", 3 * 1024 * 1024 + 17),
];

/// Writes [`FILES`] (random bytes, seeded) into `root/sub` and returns `sub`.
pub fn tree(root: &Path, sub: &str) -> PathBuf {
    let dir = root.join(sub);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    for (name, size) in FILES {
        let mut bytes = vec![0u8; *size];
        rng.fill_bytes(&mut bytes);
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}

/// A manifest with one line per file of [`FILES`]: `BASE/SUB/<percent-encoded name>`.
pub fn manifest(dir: &Path, base: &str, sub: &str) -> PathBuf {
    let text: String = FILES
        .iter()
        .map(|(name, _)| {
            format!(
                "{base}/{sub}/{}\n",
                utf8_percent_encode(name, NON_ALPHANUMERIC)
            )
        })
        .collect();
    let path = dir.join("manifest.txt");
    std::fs::write(&path, text).unwrap();
    path
}

/// SHA-256 of every file in `dir` (not recursive), by name.
pub fn hashes(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                ferry::transfer::hex(&Sha256::digest(&bytes)),
            )
        })
        .collect()
}

/// Asserts `got` holds exactly the files of `want`, byte for byte.
pub fn assert_same_files(want: &Path, got: &Path) {
    let (want_h, got_h) = (hashes(want), hashes(got));
    assert_eq!(want_h.len(), FILES.len());
    assert_eq!(
        want_h,
        got_h,
        "{} differs from {}",
        got.display(),
        want.display()
    );
}
