//! The typed shape of `bucketgate.yaml`.
//!
//! Every struct denies unknown fields, so a typo is an error with a line and column instead of a
//! silently ignored setting. Values that have a syntax of their own (endpoints, sizes, regexes,
//! methods) are parsed while deserializing, so their errors point at the offending line too.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::{de, Deserialize, Deserializer};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    pub listeners: Vec<Listener>,
    pub upstreams: BTreeMap<String, Upstream>,
    pub routes: Vec<Route>,
    /// The access keys `frontend: s3` routes accept.
    #[serde(default)]
    pub access_keys: AccessKeys,
    /// The Prometheus listener; omitted: no metrics endpoint.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// Rate and concurrency limits (see [`crate::limit`]); defaults: only the failed-auth limit.
    #[serde(default)]
    pub limits: crate::config::limits::LimitsConfig,
    /// What `check` prints as warnings (a valid config that may not mean what it says), in
    /// file order; never read from the file.
    #[serde(skip)]
    pub warnings: Vec<super::problem::Problem>,
}

/// Where the S3 frontend's access keys come from: static pairs (inline or in files) and sealed
/// keys, opened with `sealing_keys`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessKeys {
    /// Newest first: the first seals (`bucketgate keys mint`), every one opens. Rotating means
    /// adding a new key at the top; removing an old one retires every key it sealed.
    pub sealing_keys: Vec<crate::s3::sealed::keyring::SealingKeyConfig>,
    /// Static key pairs, each with its grants.
    #[serde(rename = "static")]
    pub static_keys: Vec<StaticKey>,
    /// YAML files that each hold a list of static key pairs (same shape as `static`), read at
    /// start-up and on reload.
    pub files: Vec<String>,
}

/// One static access key pair. `Debug` never prints the secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Who the key belongs to, in logs.
    pub subject: String,
    /// What the key may do, in upstream bucket names and full upstream keys.
    pub grants: Vec<bucketgate_plugin::Grant>,
}

impl fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("subject", &self.subject)
            .field("grants", &self.grants)
            .finish()
    }
}

/// Process-wide settings, most of them handed to Pingora's `ServerConf`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Worker threads for the proxy service. Default: the number of CPUs.
    pub threads: Option<usize>,
    /// Seconds to wait after SIGTERM before the process exits. Pingora's own default is 300.
    pub grace_period_seconds: u64,
    /// Seconds that in-flight requests get to finish during a graceful shutdown.
    pub graceful_shutdown_timeout_seconds: u64,
    /// After SIGTERM, seconds that `/readyz` answers 503 while the listeners still serve, so
    /// load balancers stop sending before the listeners close.
    pub drain_notice_seconds: u64,
    /// Where `-d` writes the PID.
    pub pid_file: String,
    /// The socket used to hand listeners over during `run -u`.
    pub upgrade_sock: String,
    /// Idle upstream connections kept for reuse, per process.
    pub upstream_keepalive_pool_size: usize,
    /// Log level (`error`, `warn`, `info`, `debug`, `trace`); `RUST_LOG` wins when set.
    pub log_level: String,
    /// One line per request at `info` level on the `bucketgate::access` target.
    pub access_log: bool,
    /// `text` (env_logger's line) or `json` (one JSON object per line).
    pub access_log_format: AccessLogFormat,
    /// A file that gets one line per upstream request (src/observe/upstream_log.rs). Omitted: off.
    pub upstream_log: Option<String>,
    /// With `run -d`, where stderr (the log) goes. Omitted: discarded when daemonized.
    pub error_log: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            threads: None,
            grace_period_seconds: 5,
            graceful_shutdown_timeout_seconds: 5,
            drain_notice_seconds: 2,
            pid_file: "/tmp/bucketgate.pid".into(),
            upgrade_sock: "/tmp/bucketgate_upgrade.sock".into(),
            upstream_keepalive_pool_size: 128,
            log_level: "info".into(),
            access_log: true,
            access_log_format: AccessLogFormat::Text,
            upstream_log: None,
            error_log: None,
        }
    }
}

/// How access lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    #[default]
    Text,
    Json,
}

/// The Prometheus metrics listener (src/observe/).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `ip:port` of its own listener, apart from the proxy's.
    pub address: SocketAddrString,
    /// The path that answers; anything else is a 404.
    #[serde(default = "default_metrics_path")]
    pub path: String,
}

fn default_metrics_path() -> String {
    "/metrics".into()
}

/// A listening socket: plain HTTP, or HTTPS with `tls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// `ip:port`, for example `127.0.0.1:8080` or `[::]:8080`.
    pub address: SocketAddrString,
    /// Omitted: plain HTTP. See [`crate::tls`].
    #[serde(default)]
    pub tls: Option<crate::tls::config::ListenerTls>,
}

/// A pool of S3 endpoints that share addressing, region and credentials. `PartialEq` lets a
/// reload keep the pools whose settings did not change.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// One or more `host:port` endpoints; requests are balanced over the healthy ones.
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub scheme: Scheme,
    #[serde(default)]
    pub addressing: Addressing,
    #[serde(default = "default_region")]
    pub region: String,
    /// Omitted: taken from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Longest wait for the next byte from the upstream.
    #[serde(default = "default_read_timeout_ms")]
    pub read_timeout_ms: u64,
    /// Longest wait for the upstream to take the next byte we send.
    #[serde(default = "default_write_timeout_ms")]
    pub write_timeout_ms: u64,
    /// Seconds between active health checks of each endpoint.
    #[serde(default = "default_health_interval")]
    pub health_check_interval_seconds: u64,
    /// How a backend is chosen (see [`crate::upstream::selection`]).
    #[serde(default)]
    pub balance: Balance,
    /// The active health check: TCP connect (default) or an HTTP request.
    #[serde(default)]
    pub health_check: HealthCheckConfig,
    /// Passive ejection: skip a backend after consecutive connect failures, for a cool-down.
    #[serde(default)]
    pub passive_ejection: EjectionConfig,
    /// Seconds between background re-resolutions of the endpoints' names.
    #[serde(default = "default_resolve_interval")]
    pub resolve_interval_seconds: u64,
    /// How many times one request may be retried on another backend (connect failures, and
    /// failures on a reused connection of idempotent requests before any response byte).
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
    /// Seconds an idle pooled connection to this pool is kept for reuse.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    /// What software the endpoints run; `auto` settings decide by it.
    #[serde(default)]
    pub kind: UpstreamKind,
    /// What the S3 frontend does with `STREAMING-UNSIGNED-PAYLOAD-TRAILER` uploads.
    #[serde(default)]
    pub aws_chunked_trailer: TrailerMode,
    /// With `scheme: https`: the CA bundle, client certificate and verification. See
    /// [`crate::tls::upstream`].
    #[serde(default)]
    pub tls: Option<crate::tls::config::UpstreamTls>,
}

/// The S3 implementation behind an upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// AWS S3 itself.
    Aws,
    /// Ceph RADOS Gateway.
    Rgw,
    /// Anything else S3-compatible (MinIO, s3s, Garage, ...).
    #[default]
    Generic,
}

/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` bodies (aws-chunked with a checksum trailer, sent by
/// the JS SDK v3 and by awscli/boto3 over HTTPS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrailerMode {
    /// `decode` unless the upstream is `kind: aws`, which takes the trailer form.
    #[default]
    Auto,
    /// Forward the aws-chunked body as is (the checksum is still checked on the way).
    Forward,
    /// Decode to a plain body with `Content-Length` = `x-amz-decoded-content-length`, after
    /// checking the trailing checksum. Needed for Ceph RGW 16, which rejects the trailer form.
    Decode,
}

impl Upstream {
    /// Whether trailer-form uploads are decoded before they go to this upstream.
    pub fn decodes_trailers(&self) -> bool {
        match self.aws_chunked_trailer {
            TrailerMode::Auto => self.kind != UpstreamKind::Aws,
            TrailerMode::Forward => false,
            TrailerMode::Decode => true,
        }
    }
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_connect_timeout_ms() -> u64 {
    3_000
}
fn default_read_timeout_ms() -> u64 {
    60_000
}
fn default_write_timeout_ms() -> u64 {
    60_000
}
fn default_health_interval() -> u64 {
    2
}
fn default_resolve_interval() -> u64 {
    30
}
fn default_max_retries() -> usize {
    2
}
fn default_idle_timeout() -> u64 {
    30
}

/// `balance`: how a pool picks a backend for a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// In turn, in proportion to the weights.
    #[default]
    RoundRobin,
    /// Ketama consistent hashing of the upstream bucket and key: one object always goes to
    /// the same backend (and its cache) while that backend is up.
    ConsistentHash,
}

/// `health_check`: the active check run in the background on every resolved backend.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    #[serde(rename = "type")]
    pub kind: HealthCheckKind,
    /// HTTP checks: `HEAD` or `GET`.
    pub method: String,
    /// HTTP checks: the request path.
    pub path: String,
    /// HTTP checks: the `Host` header. Omitted: the endpoint's `host[:port]`.
    pub host: Option<String>,
    /// HTTP checks: the statuses that count as healthy: codes (`200`) or classes (`"2xx"`).
    /// The default takes any answer below 500, since S3 answers an unsigned request with 403.
    pub expected_statuses: Vec<StatusMatch>,
    /// Consecutive successes before an unhealthy backend takes traffic again.
    pub rise: usize,
    /// Consecutive failures before a healthy backend stops taking traffic.
    pub fall: usize,
    /// Longest wait for the connect (and, for HTTP, the answer). Omitted: `connect_timeout_ms`.
    pub timeout_ms: Option<u64>,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            kind: HealthCheckKind::Tcp,
            method: "HEAD".into(),
            path: "/".into(),
            host: None,
            expected_statuses: ["2xx", "3xx", "4xx"]
                .iter()
                .map(|c| StatusMatch::parse(c).expect("valid class"))
                .collect(),
            rise: 1,
            fall: 1,
            timeout_ms: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckKind {
    /// A TCP (and TLS, with `scheme: https`) connect.
    #[default]
    Tcp,
    /// An HTTP request whose status must be one of `expected_statuses`.
    Http,
}

/// One entry of `expected_statuses`: an exact code or a class such as `4xx`. Out-of-range
/// values are kept as written and reported by the config checks with their line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    Code(u16),
    /// The hundreds digit: `4` for `4xx`.
    Class(u16),
}

impl StatusMatch {
    pub fn parse(s: &str) -> Result<StatusMatch, String> {
        let t = s.trim();
        let bad = || {
            format!("invalid status {s:?}: expected a code such as 200 or a class such as \"4xx\"")
        };
        if let Some(d) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
            return d.parse().map(StatusMatch::Class).map_err(|_| bad());
        }
        t.parse().map(StatusMatch::Code).map_err(|_| bad())
    }

    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Code(c) => c == status,
            StatusMatch::Class(d) => status / 100 == d,
        }
    }

    /// Whether the value is a possible HTTP status (100-599) or class (1xx-5xx).
    pub fn is_valid(self) -> bool {
        match self {
            StatusMatch::Code(c) => (100..=599).contains(&c),
            StatusMatch::Class(d) => (1..=5).contains(&d),
        }
    }
}

impl<'de> Deserialize<'de> for StatusMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = StatusMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status such as 200, or a class such as \"4xx\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusMatch, E> {
                Ok(StatusMatch::Code(u16::try_from(v).unwrap_or(u16::MAX)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusMatch, E> {
                Ok(StatusMatch::Code(u16::try_from(v).unwrap_or(u16::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusMatch, E> {
                StatusMatch::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `passive_ejection`: connect failures seen by requests take a backend out for a while,
/// without waiting for the next health check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EjectionConfig {
    /// Consecutive connect failures that eject a backend; `0` turns passive ejection off.
    pub consecutive_failures: u32,
    /// Seconds an ejected backend is skipped before requests try it again.
    pub cooldown_seconds: u64,
}

impl Default for EjectionConfig {
    fn default() -> Self {
        EjectionConfig {
            consecutive_failures: 3,
            cooldown_seconds: 10,
        }
    }
}

/// Upstream credentials. `Debug` never prints the secret or the token.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

/// Path style puts the bucket in the path (`/bucket/key`); virtual style in the host
/// (`bucket.endpoint`). RGW and s3s-fs default to path style; AWS prefers virtual.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Addressing {
    #[default]
    Path,
    Virtual,
}

/// Which API a route speaks to its clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frontend {
    /// `GET/HEAD/PUT/DELETE <path_prefix>/<key>`.
    #[default]
    Files,
    /// The S3 REST API, for awscli, boto3, rclone, s3cmd and the SDKs.
    S3,
}

/// A route: which requests it takes, and where in which bucket they go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Used in logs. Default: `route<N>`, numbered from 0 in file order.
    #[serde(default)]
    pub name: Option<String>,
    /// Exact host (`files.example.com`) or wildcard suffix (`*.example.com`); the port is
    /// ignored. Omitted: any host.
    #[serde(default)]
    pub host: Option<String>,
    /// Must start with `/`. `/files` matches `/files/...` but not `/filesystem`.
    #[serde(default = "default_path_prefix")]
    pub path_prefix: String,
    /// The name of an entry under `upstreams`.
    pub upstream: String,
    /// The upstream bucket of a `files` route (`s3` routes list `buckets` instead).
    #[serde(default)]
    pub bucket: String,
    /// `s3` routes: the buckets clients see, each mapped to an upstream bucket and key prefix.
    #[serde(default)]
    pub buckets: Vec<BucketAlias>,
    /// `s3` routes: domains under which `<bucket>.<domain>` is virtual-host addressing.
    #[serde(default)]
    pub base_domains: Vec<String>,
    /// Prepended to every key upstream, for example `public/`.
    #[serde(default)]
    pub key_prefix: String,
    #[serde(default)]
    pub frontend: Frontend,
    #[serde(default = "default_methods")]
    pub methods: Vec<Method>,
    /// Applied in order to the decoded key, before `key_prefix` is added.
    #[serde(default)]
    pub rewrite: Vec<Rewrite>,
    /// Accept `%2F` inside a path segment as a literal `/` in the key.
    #[serde(default)]
    pub allow_encoded_slash: bool,
    /// Largest request body accepted, in bytes or with a unit (`64MiB`, `1GB`). Omitted: no limit.
    #[serde(default)]
    pub max_body: Option<ByteSize>,
    /// A key (relative to the route) that is served to GET and HEAD without authentication,
    /// for load-balancer health checks.
    #[serde(default)]
    pub health_key: Option<String>,
    /// Auth plugins, tried in order: `[ {jwt: {...}}, {basic: {...}} ]`.
    #[serde(default)]
    pub auth: Vec<AuthEntry>,
    /// Serve without authentication. A route needs `auth` or `public: true`; never neither.
    #[serde(default)]
    pub public: bool,
    /// Cross-origin access for web pages on other origins. Omitted: no CORS headers, and
    /// preflights are refused like any other `OPTIONS`.
    #[serde(default)]
    pub cors: Option<CorsConfig>,
    /// Let browsers render objects as pages (HTML, SVG, XML with their scripts) on this route's
    /// host. Default `false`: object responses carry a sandboxing `Content-Security-Policy`,
    /// and `Content-Disposition: attachment` when their type is one a browser would run
    /// (`frontend::header_policy::harden_object_response`). Never on a host that signs in.
    #[serde(default)]
    pub active_content: bool,
    /// This route's own `per_ip`, `per_identity`, `per_route` rules, replacing the top-level ones.
    #[serde(default)]
    pub limits: Option<crate::config::limits::RouteLimits>,
}

/// A route's `cors:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// `scheme://host[:port]` origins, or `"*"` for any.
    pub allow_origins: Vec<String>,
    #[serde(default = "default_cors_methods")]
    pub allow_methods: Vec<String>,
    /// Request headers a page may send (compared without case).
    #[serde(default = "default_cors_allow_headers")]
    pub allow_headers: Vec<String>,
    /// Response headers a page's scripts may read.
    #[serde(default = "default_cors_expose_headers")]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    #[serde(default = "default_cors_max_age")]
    pub max_age_seconds: u64,
    /// Let pages send cookies or HTTP auth (`credentials: "include"`). Not with `"*"`.
    #[serde(default)]
    pub allow_credentials: bool,
}

/// The methods `cors.allow_methods` may name.
pub const CORS_METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE"];

fn default_cors_methods() -> Vec<String> {
    vec!["GET".into(), "HEAD".into()]
}
fn default_cors_allow_headers() -> Vec<String> {
    [
        "authorization",
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "content-type",
    ]
    .map(String::from)
    .to_vec()
}
fn default_cors_expose_headers() -> Vec<String> {
    [
        "ETag",
        "Content-Range",
        "Accept-Ranges",
        "Content-Length",
        "Content-Type",
        "Last-Modified",
    ]
    .map(String::from)
    .to_vec()
}
fn default_cors_max_age() -> u64 {
    600
}

/// A bucket as an S3 client sees it, and where it really is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketAlias {
    /// The bucket name clients use.
    pub name: String,
    /// The upstream bucket. Default: `name`.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Prepended to every key upstream and stripped from listings.
    #[serde(default)]
    pub key_prefix: String,
    /// The upstream pool. Default: the route's `upstream`.
    #[serde(default)]
    pub upstream: Option<String>,
}

impl BucketAlias {
    pub fn upstream_bucket(&self) -> &str {
        self.bucket.as_deref().unwrap_or(&self.name)
    }
}

/// One entry of a route's `auth` list: a plugin name and its settings. Adding a plugin means
/// adding its crate under `plugins/`, a variant here (and in `PLUGINS`), and a line in
/// `auth::build`.
#[derive(Debug, Clone)]
pub enum AuthEntry {
    Jwt(bucketgate_plugin_jwt::JwtConfig),
    Basic(bucketgate_plugin_basic::BasicConfig),
    Oidc(Box<bucketgate_plugin_oidc::OidcConfig>),
}

/// The plugin names `auth` entries may use.
const PLUGINS: &[&str] = &["jwt", "basic", "oidc"];

/// `{jwt: {...}}`: a map with exactly one key, the plugin name. (serde_yaml reads externally
/// tagged enums only from YAML tags, so the map form is read here.)
impl<'de> Deserialize<'de> for AuthEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = AuthEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a map with one plugin name ({}) and its settings",
                    PLUGINS.join(", ")
                )
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<AuthEntry, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!(
                        "empty auth entry: name a plugin ({})",
                        PLUGINS.join(", ")
                    )));
                };
                let entry = match name.as_str() {
                    "jwt" => AuthEntry::Jwt(map.next_value()?),
                    "basic" => AuthEntry::Basic(map.next_value()?),
                    "oidc" => AuthEntry::Oidc(map.next_value()?),
                    other => return Err(de::Error::unknown_variant(other, PLUGINS)),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one plugin per auth entry: start a new `- {extra}:` entry for the next one"
                    )));
                }
                Ok(entry)
            }
        }
        d.deserialize_map(V)
    }
}

impl AuthEntry {
    /// The plugin's name, as written in YAML.
    pub fn name(&self) -> &'static str {
        match self {
            AuthEntry::Jwt(_) => "jwt",
            AuthEntry::Basic(_) => "basic",
            AuthEntry::Oidc(_) => "oidc",
        }
    }

    /// The plugin's own checks (key files, htpasswd), with paths relative to its section.
    pub fn validate(&self) -> Vec<bucketgate_plugin::ConfigProblem> {
        match self {
            AuthEntry::Jwt(c) => c.validate(),
            AuthEntry::Basic(c) => c.validate(),
            AuthEntry::Oidc(c) => c.validate(),
        }
    }
}

fn default_path_prefix() -> String {
    "/".into()
}
fn default_methods() -> Vec<Method> {
    vec![Method::Get, Method::Head]
}

/// The HTTP methods the `files` frontend knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Head,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// A regex rewrite of the key: the first match of `match` is replaced by `replace`
/// (`$1`, `${name}` refer to capture groups).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    #[serde(rename = "match")]
    pub pattern: RegexString,
    pub replace: String,
}

/// A compiled regex that deserializes from its source text.
#[derive(Clone)]
pub struct RegexString(pub Regex);

impl fmt::Debug for RegexString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for RegexString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Regex::new(&s)
            .map(RegexString)
            .map_err(|e| de::Error::custom(format!("invalid regex {s:?}: {e}")))
    }
}

/// A `host:port` endpoint, written as that string or as `{address: host:port, weight: 3}`.
/// The host is kept as written (a name is resolved in the background).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Relative share of the requests (round robin) or of the hash ring (consistent hash).
    pub weight: u32,
}

/// The map form of an endpoint.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointMap {
    address: String,
    #[serde(default = "default_weight")]
    weight: u32,
}

fn default_weight() -> u32 {
    1
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Endpoint {
    /// Parses `host:port` or `[v6]:port`.
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let bad =
            || format!("invalid endpoint {s:?}: expected host:port, for example 127.0.0.1:9000");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
            (h, p)
        } else {
            s.rsplit_once(':').ok_or_else(bad)?
        };
        if host.is_empty()
            || host.contains(['/', ' ', '@'])
            || (!s.starts_with('[') && host.contains(':'))
        {
            return Err(bad());
        }
        let port: u16 = port.parse().map_err(|_| bad())?;
        if port == 0 {
            return Err(bad());
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
            weight: 1,
        })
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Endpoint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("host:port, or a map {address: host:port, weight: N}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Endpoint, E> {
                Endpoint::parse(v).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Endpoint, A::Error> {
                let m = EndpointMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let mut ep = Endpoint::parse(&m.address).map_err(de::Error::custom)?;
                ep.weight = m.weight;
                Ok(ep)
            }
        }
        d.deserialize_any(V)
    }
}

/// A listening address, checked to be `ip:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketAddrString(pub std::net::SocketAddr);

impl<'de> Deserialize<'de> for SocketAddrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(SocketAddrString).map_err(|_| {
            de::Error::custom(format!(
                "invalid listen address {s:?}: expected ip:port, for example 127.0.0.1:8080"
            ))
        })
    }
}

/// A size in bytes: a plain integer, or a number with a unit `B`, `KB`, `MB`, `GB`, `TB`
/// (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad =
            || format!("invalid size {s:?}: expected bytes or a number with a unit such as 64MiB");
        let n: u64 = num.parse().map_err(|_| bad())?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" => 1000,
            "MB" => 1000u64.pow(2),
            "GB" => 1000u64.pow(3),
            "TB" => 1000u64.pow(4),
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            _ => return Err(bad()),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size in bytes, or a number with a unit such as 64MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            Endpoint::parse("s3.example.com:443").unwrap(),
            Endpoint {
                host: "s3.example.com".into(),
                port: 443,
                weight: 1,
            }
        );
        assert_eq!(Endpoint::parse("[::1]:9000").unwrap().host, "::1");
        for bad in [
            "nohost",
            ":80",
            "a:0",
            "a:99999",
            "http://a:80",
            "::1:80",
            "a b:80",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(ByteSize::parse("64MiB").unwrap().0, 64 << 20);
        assert_eq!(ByteSize::parse("1GB").unwrap().0, 1_000_000_000);
        assert_eq!(ByteSize::parse("17").unwrap().0, 17);
        for bad in ["", "MiB", "1.5GiB", "12 parsecs", "99999999999999TiB"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
