//! The async build: the same pipe as ferry, written the way a tokio user would.
//!
//! One pooled `reqwest::Client` (keep-alive, `pool_max_idle_per_host` = workers), a
//! multi-threaded runtime with one thread per core, `workers` tasks in flight at once
//! (a `JoinSet` fed under a `Semaphore`), and each file's GET body streamed into its POST
//! with `Body::wrap_stream(response.bytes_stream())`, `Content-Length` forwarded when the
//! source sent one (otherwise the upload is chunked). No checksum: compare it with
//! `ferry-nosha` for the same work, and with `ferry` for ferry's default.
//!
//! Buffering: reqwest exposes no buffer size; hyper reads into an adaptive buffer (8 KiB
//! growing to about 400 KiB while reads fill it) and writes body chunks as they came,
//! without copying them.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::TryStreamExt;
use reqwest::{Body, Client, header};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::spec::Spec;

/// Runs every file of `spec`; returns the body bytes moved.
pub fn run(spec: &Spec) -> io::Result<u64> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(spec)).map_err(io::Error::other)
}

async fn run_async(spec: &Spec) -> Result<u64, reqwest::Error> {
    let client = Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(spec.workers)
        .build()?;
    let moved = Arc::new(AtomicU64::new(0));
    let permits = Arc::new(Semaphore::new(spec.workers));
    let mut tasks = JoinSet::new();
    for index in 0..spec.files {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let query = if spec.length { "" } else { "?length=0" };
        let src = format!("http://{}/files/{index}{query}", spec.src_addr);
        let dst = format!("http://{}/{}-{index}", spec.dst_addr, spec.label);
        let (client, moved) = (client.clone(), Arc::clone(&moved));
        tasks.spawn(async move {
            let result = transfer(&client, &src, &dst, &moved).await;
            drop(permit);
            result
        });
        // Collect finished tasks as we go, so errors surface early.
        while let Some(done) = tasks.try_join_next() {
            done.expect("a transfer task panicked")?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a transfer task panicked")?;
    }
    Ok(moved.load(Ordering::Relaxed))
}

/// GET `src`, stream its body into a POST to `dst`.
async fn transfer(
    client: &Client,
    src: &str,
    dst: &str,
    moved: &Arc<AtomicU64>,
) -> Result<(), reqwest::Error> {
    let response = client.get(src).send().await?.error_for_status()?;
    let length = response.content_length();
    let counter = Arc::clone(moved);
    let body = response.bytes_stream().inspect_ok(move |chunk| {
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    });
    let mut upload = client.post(dst).body(Body::wrap_stream(body));
    if let Some(length) = length {
        upload = upload.header(header::CONTENT_LENGTH, length);
    }
    let answer = upload.send().await?.error_for_status()?;
    answer.bytes().await?;
    Ok(())
}
