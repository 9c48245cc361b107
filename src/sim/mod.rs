//! TEMPORARY STUB (replaced by the real simulators).
#![allow(missing_docs, unused)]
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    pub min_size: u64,
    pub max_size: u64,
    pub seed: u64,
    pub no_length: bool,
}
#[derive(Clone, Debug, Default)]
pub struct DestinationOptions {
    pub hash: bool,
    pub require_length: bool,
    pub log_file: Option<PathBuf>,
}
pub struct FileSpec {
    pub index: u64,
    pub name: String,
    pub size: u64,
}
impl FileSpec {
    pub fn new(o: &SourceOptions, i: u64) -> Self {
        todo!()
    }
    pub fn sha256(&self, seed: u64) -> String {
        todo!()
    }
}
#[derive(Clone, Debug)]
pub struct Upload {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    pub complete: bool,
}
#[derive(Clone)]
pub struct DestinationLog;
impl DestinationLog {
    pub fn complete(&self) -> Vec<Upload> {
        todo!()
    }
}
pub struct Server;
impl Server {
    pub fn addr(&self) -> SocketAddr {
        todo!()
    }
    pub fn url(&self) -> String {
        todo!()
    }
}
pub fn serve_source(bind: SocketAddr, opts: SourceOptions) -> io::Result<Server> {
    todo!()
}
pub fn serve_destination(
    bind: SocketAddr,
    opts: DestinationOptions,
) -> io::Result<(Server, DestinationLog)> {
    todo!()
}
