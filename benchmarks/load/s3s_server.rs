//! `s3s_server`: the s3s-fs upstream of the load harness (`benchmarks/load/run.sh`), as a process
//! of its own so that its CPU and memory are measured apart from the proxy's and the client's.
//!
//! ```text
//! s3s_server ROOT ADDR ACCESS_KEY SECRET_KEY
//! ```
//!
//! Serves s3s-fs 0.14.1 (signature checking on, one key pair) on `ADDR` (`127.0.0.1:0` picks a
//! port) with objects under `ROOT/<bucket>/<key>`, and prints `listening on <addr>` once ready.
//! The tests run the same server in-process (tests/common/upstream.rs); the harness cannot,
//! because it compares processes.

use std::net::TcpListener as StdListener;
use std::process::ExitCode;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, addr, access_key, secret_key] = args.as_slice() else {
        eprintln!("usage: s3s_server ROOT ADDR ACCESS_KEY SECRET_KEY");
        return ExitCode::from(2);
    };
    let listener = match StdListener::bind(addr.as_str()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("s3s_server: binding {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fs = match s3s_fs::FileSystem::new(root) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("s3s_server: root {root}: {e:?}");
            return ExitCode::FAILURE;
        }
    };
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(
        access_key.as_str(),
        secret_key.as_str(),
    ));
    let service = builder.build();
    let Ok(local) = listener.local_addr() else {
        return ExitCode::FAILURE;
    };
    if listener.set_nonblocking(true).is_err() {
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("s3s_server: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return ExitCode::FAILURE;
        };
        println!("listening on {local}");
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            // Without it, small responses stall ~40 ms on delayed ACKs.
            let _ = socket.set_nodelay(true);
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    })
}
