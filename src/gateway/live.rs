//! The gateway that serves new requests. A config reload builds a whole new [`Gateway`] and
//! swaps it in here; requests already running keep the one they started with, so no request
//! ever sees half of one config and half of another.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::gateway::Gateway;

pub struct Live {
    current: ArcSwap<Gateway>,
    /// The config file a reload reads again.
    pub config_path: PathBuf,
    /// The certificate resolvers of the TLS listeners, whose files a reload re-reads.
    pub tls: Vec<Arc<crate::tls::SniResolver>>,
}

impl Live {
    pub fn new(gateway: Arc<Gateway>, config_path: PathBuf) -> Live {
        Live {
            current: ArcSwap::new(gateway),
            config_path,
            tls: Vec::new(),
        }
    }

    /// The gateway new requests use.
    pub fn current(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// Makes `gateway` serve every request that starts from now on.
    pub fn replace(&self, gateway: Arc<Gateway>) {
        self.current.store(gateway);
    }
}
