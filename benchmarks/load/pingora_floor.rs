//! `pingora_floor`: the least a Pingora proxy can do per request, as an extra target of the load
//! harness (`bench.py --targets ...,pingora`): no auth, no signing, no header policy, no access
//! log; presigned URLs pass through as they came, like the nginx target. What bucketgate costs
//! above this floor is ours to optimise; the floor itself is Pingora's.
//!
//! ```text
//! pingora_floor THREADS LISTEN=UPSTREAM [LISTEN=UPSTREAM ...]
//! ```
//!
//! Each `ip:port` listener forwards to its `ip:port` upstream with `Host` set to the upstream
//! (what presigned URLs are signed for).

use std::net::SocketAddr;
use std::process::ExitCode;

use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::prelude::{HttpPeer, Opt, Server};
use pingora::server::configuration::ServerConf;
use pingora_proxy::{ProxyHttp, Session};

struct Floor {
    upstream: SocketAddr,
    host: String,
}

#[async_trait]
impl ProxyHttp for Floor {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _: &mut Session, _: &mut ()) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }

    async fn upstream_request_filter(
        &self,
        _: &mut Session,
        req: &mut RequestHeader,
        _: &mut (),
    ) -> pingora::Result<()> {
        req.insert_header("host", self.host.as_str())
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((threads, pairs)) = args.split_first() else {
        eprintln!("usage: pingora_floor THREADS LISTEN=UPSTREAM...");
        return ExitCode::from(2);
    };
    let Ok(threads) = threads.parse::<usize>() else {
        eprintln!("pingora_floor: THREADS is a number");
        return ExitCode::from(2);
    };
    let conf = ServerConf {
        threads,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    for pair in pairs {
        let parsed = pair.split_once('=').and_then(|(l, u)| {
            Some((l.parse::<SocketAddr>().ok()?, u.parse::<SocketAddr>().ok()?))
        });
        let Some((listen, upstream)) = parsed else {
            eprintln!("pingora_floor: {pair}: expected ip:port=ip:port");
            return ExitCode::from(2);
        };
        let floor = Floor {
            upstream,
            host: upstream.to_string(),
        };
        let mut svc = pingora_proxy::http_proxy_service(&server.configuration, floor);
        svc.add_tcp(&listen.to_string());
        server.add_service(svc);
    }
    server.run_forever()
}
