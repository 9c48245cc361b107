//! Against servers nobody here wrote: nginx (static files as a source, WebDAV `PUT` as
//! a destination, both also over HTTPS), `rclone serve http|webdav`, and Python's
//! `http.server`. Each test copies a small tree with awkward names and checks the files
//! on the destination's disk byte for byte.

use std::path::Path;

use crate::util::external::{self, External};
use crate::util::*;

/// Copies [`external::FILES`] from `src` (serving `src_root/files`) to `dst` (writing
/// into `dst_root/up`) with `--method put`, then compares the trees.
fn copy_tree(dir: &Path, src: &External, dst: &External, src_root: &Path, dst_root: &Path) {
    let want = external::tree(src_root, "files");
    let list = external::manifest(dir, &src.base, "files");
    let journal_path = dir.join("j.jsonl");
    let ran = run(
        ferry()
            .arg("copy")
            .arg("--list")
            .arg(&list)
            .args(["--to", &format!("{}/up/{{name}}", dst.base)])
            .args(["--method", "put", "--journal"])
            .arg(&journal_path),
        LIMIT,
    );
    ran.expect_code(0);
    let lines = journal(&journal_path);
    assert_eq!(count_status(&lines, "done"), external::FILES.len(), "{ran:?}");
    external::assert_same_files(&want, &dst_root.join("up"));
}

#[test]
fn nginx_source_to_nginx_webdav_destination() {
    if !external::require("nginx") {
        return;
    }
    let dir = tempdir();
    let (src_root, dst_root) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&dst_root).unwrap();
    let src = external::nginx(dir.path(), &src_root, None);
    let dst_dir = dir.path().join("dst-nginx");
    std::fs::create_dir_all(&dst_dir).unwrap();
    let dst = external::nginx(&dst_dir, &dst_root, None);
    copy_tree(dir.path(), &src, &dst, &src_root, &dst_root);
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
    let dst = external::nginx(dir.path(), &dst_root, None);
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
    let src = external::nginx(dir.path(), &src_root, None);
    let dst = external::rclone(dir.path(), "webdav", &dst_root);
    copy_tree(dir.path(), &src, &dst, &src_root, &dst_root);
}
