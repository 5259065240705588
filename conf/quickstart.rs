//! `cargo run --release --example quickstart`: the whole data path on one machine, with nothing
//! installed. It starts a real S3 server (s3s-fs, which checks SigV4 signatures) on a temporary
//! directory with sample objects, then runs bucketgate in front of it with
//! `conf/quickstart.yaml`, and prints curl commands to try.

use std::net::TcpListener as StdListener;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

const ACCESS_KEY: &str = "quickstart-access-key";
const SECRET_KEY: &str = "quickstart-secret-key-not-for-production";
const BUCKET: &str = "quickstart";

fn main() {
    let dir = std::env::temp_dir().join(format!("bucketgate-quickstart-{}", std::process::id()));
    write_samples(&dir.join(BUCKET)).expect("writing sample objects");
    let std_listener = StdListener::bind("127.0.0.1:0").expect("binding the S3 server");
    let s3_addr = std_listener.local_addr().unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let root = dir.clone();
    std::thread::spawn(move || serve_s3(root, std_listener));

    // The config reads these through `${VAR}` interpolation, as a deployment would.
    std::env::set_var("QUICKSTART_S3_ENDPOINT", s3_addr.to_string());
    std::env::set_var("QUICKSTART_S3_ACCESS_KEY", ACCESS_KEY);
    std::env::set_var("QUICKSTART_S3_SECRET_KEY", SECRET_KEY);
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/quickstart.yaml");
    let cfg = match bucketgate::config::load(&conf) {
        Ok(cfg) => cfg,
        Err(problems) => {
            problems.iter().for_each(|p| eprintln!("{p}"));
            std::process::exit(1);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let listen = cfg.listeners[0].address.0;
    println!(
        "\nS3 server (s3s-fs) on http://{s3_addr}, data in {}\nbucketgate on http://{listen}\n\nTry:\n  \
curl -i http://{listen}/files/hello.txt\n  \
curl -i -H 'Range: bytes=0-4' http://{listen}/files/hello.txt\n  \
curl -s -H 'Range: bytes=-16' http://{listen}/files/numbers.txt\n  \
curl -i http://{listen}/files/reads.bam.bai        # rewritten to reads.bai\n  \
curl -i -T Cargo.toml http://{listen}/files/uploaded/Cargo.toml\n  \
curl -i -X DELETE http://{listen}/files/uploaded/Cargo.toml\n  \
curl -i http://{listen}/files/missing.txt          # 404 with a JSON body\n  \
curl -i http://{listen}/files/../etc/passwd --path-as-is   # 400, never reaches S3\n  \
curl -i http://{listen}/readyz\n\nCtrl-C to stop.\n",
        dir.display()
    );
    match bucketgate::server::build::build(cfg, Default::default(), &conf) {
        Ok(built) => built.run(),
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(1);
        }
    }
}

fn write_samples(bucket: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(bucket)?;
    std::fs::write(bucket.join("hello.txt"), "Hello from behind bucketgate!\n")?;
    std::fs::write(bucket.join("health.txt"), "ok\n")?;
    let numbers: String = (0..10_000).map(|i| format!("{i:05}\n")).collect();
    std::fs::write(bucket.join("numbers.txt"), numbers)?;
    std::fs::write(bucket.join("reads.bai"), b"BAI\x01 sample index")?;
    Ok(())
}

fn serve_s3(root: std::path::PathBuf, listener: StdListener) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
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
    });
}
