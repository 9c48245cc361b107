//! Against servers nobody here wrote: nginx (static files as a source, WebDAV `PUT` as
//! a destination, both also over HTTPS), `rclone serve http|webdav`, and Python's
//! `http.server`. Each test copies a small tree with awkward names and checks the files
//! on the destination's disk byte for byte.

use std::path::{Path, PathBuf};

use crate::util::external::{self, External};
use crate::util::*;

/// Copies [`external::FILES`] from `src` (serving `src_root/files`) to `dst` (writing
/// into `dst_root/up`) with `--method put`, then compares the trees.
fn copy_tree(dir: &Path, src: &External, dst: &External, src_root: &Path, dst_root: &Path) {
    let template = format!("{}/up/{{name}}", dst.base);
    copy_files(dir, src, &template, &[], src_root);
    external::assert_same_files(&src_root.join("files"), &dst_root.join("up"));
}

/// Writes [`external::FILES`] under `src_root/files`, copies them from `src` to
/// `template` with `--method put` and `args`, and checks the journal says all done.
fn copy_files(dir: &Path, src: &External, template: &str, args: &[&str], src_root: &Path) {
    external::tree(src_root, "files");
    let list = external::manifest(dir, &src.base, "files");
    let journal_path = dir.join("j.jsonl");
    let ran = run(
        ferry()
            .arg("copy")
            .arg("--list")
            .arg(&list)
            .args(["--to", template, "--method", "put"])
            .args(args)
            .arg("--journal")
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(0);
    let lines = journal(&journal_path);
    assert_eq!(
        count_status(&lines, "done"),
        external::FILES.len(),
        "{ran:?}"
    );
}

/// Two nginx (over HTTPS with `tls`): a source serving `dir/src`, a WebDAV
/// destination writing into `dir/dst`.
struct NginxPair {
    src_root: PathBuf,
    dst_root: PathBuf,
    src: External,
    dst: External,
}

fn nginx_pair(dir: &Path, tls: Option<&external::TlsFiles>) -> NginxPair {
    let (src_root, dst_root) = (dir.join("src"), dir.join("dst"));
    std::fs::create_dir_all(&dst_root).unwrap();
    let src = external::nginx(dir, &src_root, tls, "");
    let dst_dir = dir.join("dst-nginx");
    std::fs::create_dir_all(&dst_dir).unwrap();
    let dst = external::nginx(&dst_dir, &dst_root, tls, "");
    NginxPair {
        src_root,
        dst_root,
        src,
        dst,
    }
}

/// [`nginx_pair`] over HTTPS with a certificate from a CA made here; the CA's PEM path.
fn tls_pair(dir: &Path) -> (PathBuf, NginxPair) {
    let (ca, leaf) = external::make_ca(dir);
    (ca, nginx_pair(dir, Some(&leaf)))
}

#[test]
fn nginx_source_to_nginx_webdav_destination() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let p = nginx_pair(dir.path(), None);
    copy_tree(dir.path(), &p.src, &p.dst, &p.src_root, &p.dst_root);
}

#[test]
fn rclone_http_source_to_rclone_webdav_destination() {
    if !external::require("rclone") {
        return;
    }
    let dir = tempdir();
    let (src_root, dst_root) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&src_root).unwrap();
    std::fs::create_dir_all(dst_root.join("up")).unwrap();
    let src = external::rclone(dir.path(), "http", &src_root);
    let dst = external::rclone(dir.path(), "webdav", &dst_root);
    copy_tree(dir.path(), &src, &dst, &src_root, &dst_root);
}

#[test]
fn python_http_server_source_to_nginx_destination() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let (src_root, dst_root) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&src_root).unwrap();
    std::fs::create_dir_all(&dst_root).unwrap();
    let src = external::python_http_server(dir.path(), &src_root);
    let dst = external::nginx(dir.path(), &dst_root, None, "");
    copy_tree(dir.path(), &src, &dst, &src_root, &dst_root);
}

#[test]
fn nginx_source_to_rclone_webdav_destination() {
    if !(external::require("nginx") && external::require("rclone")) {
        return;
    }
    let dir = tempdir();
    let (src_root, dst_root) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(dst_root.join("up")).unwrap();
    let src = external::nginx(dir.path(), &src_root, None, "");
    let dst = external::rclone(dir.path(), "webdav", &dst_root);
    copy_tree(dir.path(), &src, &dst, &src_root, &dst_root);
}

#[test]
fn src_path_mirrors_the_tree_into_nginx() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let p = nginx_pair(dir.path(), None);
    let template = format!("{}/mirror/{{src_path}}", p.dst.base);
    copy_files(dir.path(), &p.src, &template, &[], &p.src_root);
    // `files/NAME` on the source is `mirror/files/NAME` on the destination.
    external::assert_same_files(&p.src_root.join("files"), &p.dst_root.join("mirror/files"));
}

#[test]
fn https_nginx_to_https_nginx_with_a_private_ca() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let (ca, NginxPair { src, dst, .. }) = tls_pair(dir.path());
    assert!(src.base.starts_with("https://"));
    let template = format!("{}/up/{{name}}", dst.base);
    let ca = ca.to_str().unwrap();
    copy_files(
        dir.path(),
        &src,
        &template,
        &["--ca-cert", ca],
        &dir.path().join("src"),
    );
    external::assert_same_files(&dir.path().join("src/files"), &dir.path().join("dst/up"));
}

#[test]
fn https_without_the_ca_fails_verification_clearly() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let (_ca, NginxPair { src, dst, .. }) = tls_pair(dir.path());
    external::tree(&dir.path().join("src"), "files");
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/files/plain.bin", src.base)])
            .args(["--count", "1", "--to", &format!("{}/up/x", dst.base)])
            .args(["--method", "put"]),
        LIMIT,
    );
    ran.expect_code(1);
    assert!(
        !ran.stderr.contains("retrying"),
        "not worth retrying: {ran:?}"
    );
    assert!(
        ran.stderr.contains("certificate") && ran.stderr.contains("--ca-cert"),
        "the message should say the certificate is not trusted and what to do: {ran:?}"
    );
    assert!(!dir.path().join("dst/up/x").exists());
}

#[test]
fn insecure_works_without_the_ca_and_warns() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let (_ca, NginxPair { src, dst, .. }) = tls_pair(dir.path());
    let want = external::tree(&dir.path().join("src"), "files");
    let ran = run(
        ferry()
            .args(["copy", "--from", &format!("{}/files/big.bin", src.base)])
            .args(["--count", "1", "--to", &format!("{}/up/big.bin", dst.base)])
            .args(["--method", "put", "--insecure", "--quiet"]),
        LIMIT,
    );
    ran.expect_code(0);
    assert!(ran.stderr.contains("warning: --insecure"), "{ran:?}");
    assert_eq!(
        std::fs::read(want.join("big.bin")).unwrap(),
        std::fs::read(dir.path().join("dst/up/big.bin")).unwrap()
    );
}

#[test]
fn https_to_http_redirect_is_refused_unless_allowed() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let (ca, leaf) = external::make_ca(dir.path());
    let (src_root, dst_root) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&dst_root).unwrap();
    let plain_dir = dir.path().join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap();
    let plain = external::nginx(&plain_dir, &src_root, None, "");
    let redirect = format!(
        "location = /down {{ return 302 {}/files/plain.bin; }}",
        plain.base
    );
    let src = external::nginx(dir.path(), &src_root, Some(&leaf), &redirect);
    let dst_dir = dir.path().join("dst-nginx");
    std::fs::create_dir_all(&dst_dir).unwrap();
    let dst = external::nginx(&dst_dir, &dst_root, None, "");
    let want = external::tree(&src_root, "files");
    let copy = |extra: &[&str]| {
        run(
            ferry()
                .args(["copy", "--from", &format!("{}/down", src.base)])
                .args(["--count", "1", "--to", &format!("{}/up/p.bin", dst.base)])
                .args(["--method", "put", "--retries", "0", "--ca-cert"])
                .arg(&ca)
                .args(extra),
            LIMIT,
        )
    };
    let refused = copy(&[]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("--allow-downgrade"), "{refused:?}");
    assert!(!dst_root.join("up/p.bin").exists());
    copy(&["--allow-downgrade"]).expect_code(0);
    assert_eq!(
        std::fs::read(want.join("plain.bin")).unwrap(),
        std::fs::read(dst_root.join("up/p.bin")).unwrap()
    );
}
