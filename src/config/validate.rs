//! Checks that need the typed values: names that must refer to each other, values with rules
//! of their own (bucket names, key prefixes), and settings that must be positive or unique.
//!
//! The checks run on whatever typed successfully, so one broken route does not hide what is
//! wrong with the others. Counts ("at least one route") use the number of entries written.

use std::collections::HashMap;

use super::model::{
    AuthEntry, CorsConfig, Frontend, Listener, Route, ServerConfig, Upstream, CORS_METHODS,
};
use super::path::Path;
use super::problem::Reporter;
use super::suggest;

const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

pub fn check_server(server: &ServerConfig, r: &mut Reporter) {
    let at = Path::root().key("server");
    if !LOG_LEVELS.contains(&server.log_level.as_str()) {
        r.at(
            &at.key("log_level"),
            format!(
                "unknown log level {:?}: use one of {}",
                server.log_level,
                LOG_LEVELS.join(", ")
            ),
        );
    }
    if server.threads == Some(0) {
        r.at(
            &at.key("threads"),
            "must be at least 1 (omit it for one thread per CPU)",
        );
    }
    super::validate_observe::check_server(server, r);
}

/// `listeners` holds the entries that typed, with their index; `written` counts all of them
/// (`None`: unknown, the section was not a list).
pub fn check_listeners(listeners: &[(usize, Listener)], written: Option<usize>, r: &mut Reporter) {
    let at = Path::root().key("listeners");
    if written == Some(0) {
        r.at(
            &at,
            "at least one listener is needed, for example `- address: 0.0.0.0:8080`",
        );
    }
    let mut seen: HashMap<std::net::SocketAddr, usize> = HashMap::new();
    for (i, l) in listeners {
        if let Some(first) = seen.get(&l.address.0) {
            let line = r.line_of(&at.index(*first));
            r.at(
                &at.index(*i).key("address"),
                format!("{} is already a listener (line {line})", l.address.0),
            );
        } else {
            seen.insert(l.address.0, *i);
        }
    }
    super::validate_tls::check_listeners(listeners, r);
}

pub fn check_upstreams(upstreams: &[(String, Upstream)], written: Option<usize>, r: &mut Reporter) {
    let at = Path::root().key("upstreams");
    if written == Some(0) {
        r.at(&at, "at least one upstream is needed");
    }
    for (name, u) in upstreams {
        super::validate_tls::check_upstream(name, u, r);
        let at = at.key(name.clone());
        super::validate_pools::check_pool(u, &at, r);
        if u.endpoints.is_empty() {
            r.at(
                &at.key("endpoints"),
                format!(
                    "upstream `{name}` needs at least one endpoint, for example [127.0.0.1:9000]"
                ),
            );
        }
        if u.region.trim().is_empty() {
            r.at(
                &at.key("region"),
                "must not be empty, for example us-east-1",
            );
        }
        for (field, value) in [
            ("connect_timeout_ms", u.connect_timeout_ms),
            ("read_timeout_ms", u.read_timeout_ms),
            ("write_timeout_ms", u.write_timeout_ms),
            (
                "health_check_interval_seconds",
                u.health_check_interval_seconds,
            ),
        ] {
            if value == 0 {
                r.at(&at.key(field), "must be greater than 0");
            }
        }
    }
}

/// `upstream_names` are all the names under `upstreams`, including ones that did not type,
/// so a route is not blamed for its upstream's own mistake (`None`: unknown, skip the check).
pub fn check_routes(
    routes: &[(usize, Route)],
    written: Option<usize>,
    upstream_names: Option<&[String]>,
    r: &mut Reporter,
) {
    let at = Path::root().key("routes");
    if written == Some(0) {
        r.at(&at, "at least one route is needed");
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut matches: HashMap<(Option<String>, String), usize> = HashMap::new();
    for (i, route) in routes {
        let at = at.index(*i);
        let name = route.name.clone().unwrap_or_else(|| format!("route{i}"));
        if r.is_muted(&at.key("name")) {
            // Already reported; its value is not the one written.
        } else if let Some(first) = names.get(&name) {
            let line = r.line_of(&at_route(*first));
            r.at(
                &at.key("name"),
                format!("route name `{name}` is already used by the route at line {line}"),
            );
        } else {
            names.insert(name, *i);
        }
        check_route(route, &at, upstream_names, r);

        let key = (
            route.host.as_ref().map(|h| h.to_ascii_lowercase()),
            normalized_prefix(&route.path_prefix),
        );
        if r.is_muted(&at.key("host")) || r.is_muted(&at.key("path_prefix")) {
            // Already reported; its value is not the one written.
        } else if let Some(first) = matches.get(&key) {
            let line = r.line_of(&at_route(*first));
            r.at(
                &at.key("path_prefix"),
                format!(
                    "duplicate route: the route at line {line} already has host {} and \
                     path_prefix {:?}, so this one would never be used",
                    route.host.as_deref().unwrap_or("(any)"),
                    route.path_prefix
                ),
            );
        } else {
            matches.insert(key, *i);
        }
    }
    check_active_content(routes, r);
}

/// `active_content: true` lets a stored page run its scripts on the route's host. Where the
/// same host also signs browsers in (a route with an `oidc` entry), such a page would act with
/// the visitor's session cookie (the stored-XSS-to-minted-key chain), so that is refused.
fn check_active_content(routes: &[(usize, Route)], r: &mut Reporter) {
    // Where a route signs in: the hosts it serves, and its callback's host (the cookie's).
    let signs_in_on = |other: &Route, host: Option<&str>| {
        other.auth.iter().any(|a| match a {
            AuthEntry::Oidc(cfg) => {
                hosts_overlap(host, other.host.as_deref())
                    || cfg
                        .sign_in_host()
                        .is_some_and(|h| hosts_overlap(host, Some(&h)))
            }
            _ => false,
        })
    };
    for (i, route) in routes.iter().filter(|(_, route)| route.active_content) {
        let clash = routes
            .iter()
            .find(|(_, other)| signs_in_on(other, route.host.as_deref()));
        let Some((j, _)) = clash else {
            continue;
        };
        let at = at_route(*i).key("active_content");
        let whose = if j == i {
            "this route signs browsers in (`oidc`)".to_string()
        } else {
            format!(
                "the route at line {} signs browsers in (`oidc`) on a host this route also \
                 serves",
                r.line_of(&at_route(*j)),
            )
        };
        r.at(
            &at,
            format!(
                "{whose}: a stored HTML or SVG page would run there with the visitor's session. \
                 Serve active content from a route on a host of its own (set `host`), or remove \
                 `active_content`"
            ),
        );
    }
}

/// Whether two route `host` patterns (`None`: any; `*.example.com`: a suffix) can match one
/// request host.
fn hosts_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true;
    };
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (None, None) => a == b,
        (Some(sa), Some(sb)) => sa.ends_with(sb) || sb.ends_with(sa),
        (Some(suffix), None) => b.len() > suffix.len() && b.ends_with(suffix),
        (None, Some(suffix)) => a.len() > suffix.len() && a.ends_with(suffix),
    }
}

/// Longest accepted `cors.max_age_seconds` (a day; browsers cap it lower anyway).
const MAX_CORS_MAX_AGE: u64 = 86_400;

fn check_cors(cors: &CorsConfig, at: &Path, r: &mut Reporter) {
    if cors.allow_origins.is_empty() {
        r.at(
            &at.key("allow_origins"),
            "list at least one origin (`https://player.example.com`), or \"*\" for any",
        );
    }
    for (i, origin) in cors.allow_origins.iter().enumerate() {
        if let Err(why) = check_origin(origin) {
            r.at(&at.key("allow_origins").index(i), why);
        }
    }
    if cors.allow_credentials && cors.allow_origins.iter().any(|o| o == "*") {
        r.at(
            &at.key("allow_credentials"),
            "browsers refuse credentials with a \"*\" origin: list the origins instead",
        );
    }
    for (i, m) in cors.allow_methods.iter().enumerate() {
        if !CORS_METHODS.contains(&m.as_str()) {
            r.at(
                &at.key("allow_methods").index(i),
                format!("unknown method {m:?}: use {}", CORS_METHODS.join(", ")),
            );
        }
    }
    for (field, list) in [
        ("allow_headers", &cors.allow_headers),
        ("expose_headers", &cors.expose_headers),
    ] {
        for (i, h) in list.iter().enumerate() {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                r.at(
                    &at.key(field).index(i),
                    format!("{h:?} is not a header name"),
                );
            }
        }
    }
    if cors.max_age_seconds > MAX_CORS_MAX_AGE {
        r.at(
            &at.key("max_age_seconds"),
            format!("at most {MAX_CORS_MAX_AGE} (a day)"),
        );
    }
}

/// `*`, or `http(s)://host[:port]` with nothing after it (an origin has no path).
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin:?} is not an origin: write `https://host[:port]`"))?;
    let host =
        rest.rsplit_once(':').map_or(
            rest,
            |(h, port)| {
                if port.parse::<u16>().is_ok() {
                    h
                } else {
                    rest
                }
            },
        );
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
    {
        return Err(format!(
            "{origin:?} is not an origin: `scheme://host[:port]` with no path or trailing slash"
        ));
    }
    Ok(())
}

/// What `oidc` entries need outside their own section: `mint_keys` only on S3 routes, and
/// sealing keys for minting and for a session store that several instances share.
pub fn check_sign_in(routes: &[(usize, Route)], has_sealing_keys: bool, r: &mut Reporter) {
    for (i, route) in routes {
        for (j, entry) in route.auth.iter().enumerate() {
            let AuthEntry::Oidc(cfg) = entry else {
                continue;
            };
            let at = at_route(*i).key("auth").index(j).key("oidc");
            if cfg.mint_keys.is_some() && route.frontend == Frontend::Files {
                r.at(
                    &at.key("mint_keys"),
                    "`mint_keys` is for `frontend: s3` routes; a `files` route signs browsers in \
                     with a session cookie",
                );
            }
            if cfg.mint_keys.is_some() && !has_sealing_keys {
                r.at(
                    &at.key("mint_keys"),
                    "minting S3 keys needs `access_keys.sealing_keys` (make one with \
                     `bucketgate keys new-sealing-key`)",
                );
            }
            if cfg.session_store.is_shared() && !has_sealing_keys {
                r.at(
                    &at.key("session_store"),
                    "a redis session store needs `access_keys.sealing_keys`: sessions are \
                     encrypted with a key derived from them, which every instance must share",
                );
            }
        }
    }
}

/// Warnings (never errors) about prefixes that cover more than their folder: a grant prefix
/// (inline static keys, the plugins' grant templates) or a public route's `key_prefix` that
/// does not end in `/`. `users/alice` also covers `users/alice2/`; a template
/// `users/{sub}` gives `alice` the keys of `alice2`; a public `key_prefix: public` also serves
/// `public-drafts/`. Key files are not looked at: their entries have no place in this file.
pub fn warn_open_prefixes(
    routes: &[(usize, Route)],
    keys: Option<&super::model::AccessKeys>,
    w: &mut Reporter,
) {
    for (i, route) in routes {
        let at = at_route(*i);
        if route.public && is_open_prefix(&route.key_prefix) {
            w.at(
                &at.key("key_prefix"),
                format!(
                    "{:?} does not end in `/`: this public route also serves every key that \
                     merely starts with it (`{}-old/...`); end it with `/`",
                    route.key_prefix, route.key_prefix
                ),
            );
        }
        for (j, entry) in route.auth.iter().enumerate() {
            let entry_at = at.key("auth").index(j).key(entry.name());
            let mut lists = vec![(entry_at.key("grants"), entry_templates(entry))];
            if let AuthEntry::Basic(basic) = entry {
                for (u, user) in basic.users.iter().enumerate() {
                    let user_at = entry_at.key("users").index(u).key("grants");
                    lists.push((user_at, user.grants.as_slice()));
                }
            }
            for (list_at, templates) in lists {
                for (k, t) in templates.iter().enumerate() {
                    warn_grant_prefix(&t.prefix, &list_at.index(k).key("prefix"), w);
                }
            }
        }
    }
    for (i, key) in keys.map_or(&[][..], |k| &k.static_keys).iter().enumerate() {
        let at = Path::root().key("access_keys").key("static").index(i);
        for (k, grant) in key.grants.iter().enumerate() {
            warn_grant_prefix(&grant.prefix, &at.key("grants").index(k).key("prefix"), w);
        }
    }
}

/// The grant templates an auth entry gives every identity it authenticates.
fn entry_templates(entry: &AuthEntry) -> &[bucketgate_plugin::GrantTemplate] {
    match entry {
        AuthEntry::Jwt(c) => &c.grants,
        AuthEntry::Basic(c) => &c.grants,
        AuthEntry::Oidc(c) => &c.grants,
    }
}

fn warn_grant_prefix(prefix: &str, at: &Path, w: &mut Reporter) {
    if !is_open_prefix(prefix) {
        return;
    }
    let message = match prefix.rfind('{') {
        Some(_) if prefix.ends_with('}') => format!(
            "{prefix:?} does not end in `/`: the claim's value is only the start of the last \
             segment, so `alice` would also reach the keys of `alice2`; write \"{prefix}/\""
        ),
        _ => format!(
            "{prefix:?} does not end in `/`: it covers every key that merely starts with it \
             ({prefix:?} + `2/...`), not just one folder; end it with `/` unless that is meant"
        ),
    };
    w.at(at, message);
}

/// A non-empty prefix that does not end at a folder boundary.
fn is_open_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && !prefix.ends_with('/')
}

/// A warning (never an error) for each `oidc` entry whose sign-in host (`redirect_url`'s host,
/// where its session cookie lives and keys are minted) also serves objects: every other route
/// that can match that host, and the entry's own `frontend: s3` route when it serves all hosts
/// or is the only S3 route (presigned URLs reach its objects there). A stored HTML or SVG object
/// on that host runs as the sign-in site, with the visitor's session. A `files` route's own
/// sign-in is not counted: its objects are what its session cookie is for.
pub fn warn_sign_in_hosts(routes: &[(usize, Route)], w: &mut Reporter) {
    let name = |i: usize, route: &Route| route.name.clone().unwrap_or_else(|| format!("route{i}"));
    for (i, route) in routes {
        for (j, entry) in route.auth.iter().enumerate() {
            let AuthEntry::Oidc(cfg) = entry else {
                continue;
            };
            let Some(host) = cfg.sign_in_host() else {
                continue;
            };
            let reaches = |r: &Route| hosts_overlap(r.host.as_deref(), Some(&host));
            let split = routes
                .iter()
                .any(|(k, other)| k != i && other.frontend == Frontend::S3 && !reaches(other));
            let sharing: Vec<String> = routes
                .iter()
                .filter(|(k, other)| {
                    if k == i {
                        route.frontend == Frontend::S3 && (route.host.is_none() || !split)
                    } else {
                        reaches(other)
                    }
                })
                .map(|(k, other)| format!("`{}`", name(*k, other)))
                .collect();
            if sharing.is_empty() {
                continue;
            }
            w.at(
                &at_route(*i)
                    .key("auth")
                    .index(j)
                    .key("oidc")
                    .key("redirect_url"),
                format!(
                    "the sign-in host {host} also serves objects ({} {}): an uploaded HTML or \
                     SVG file there runs as the sign-in site, with the visitor's session. Serve \
                     objects and sign-in from separate hosts (set each route's `host`; README, \
                     \"Separate hosts for objects and sign-in\")",
                    if sharing.len() == 1 {
                        "route"
                    } else {
                        "routes"
                    },
                    sharing.join(", ")
                ),
            );
        }
    }
}

fn at_route(i: usize) -> Path {
    Path::root().key("routes").index(i)
}

/// `/files` and `/files/` take the same requests.
fn normalized_prefix(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.into()
    }
}

fn check_route(route: &Route, at: &Path, upstream_names: Option<&[String]>, r: &mut Reporter) {
    if let Some(upstream_names) = upstream_names.filter(|n| !n.contains(&route.upstream)) {
        let defined = if upstream_names.is_empty() {
            "no upstreams are defined".to_string()
        } else {
            format!("defined upstreams: {}", upstream_names.join(", "))
        };
        let hint = suggest::closest(&route.upstream, upstream_names)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        r.at(
            &at.key("upstream"),
            format!(
                "upstream `{}` is not defined ({defined}){hint}",
                route.upstream
            ),
        );
    }
    if !route.path_prefix.starts_with('/') {
        r.at(
            &at.key("path_prefix"),
            format!("{:?} must start with `/`", route.path_prefix),
        );
    } else if route
        .path_prefix
        .chars()
        .any(|c| c.is_control() || c == ' ')
    {
        r.at(
            &at.key("path_prefix"),
            "must not contain spaces or control characters",
        );
    }
    if let Some(host) = &route.host {
        if let Err(why) = check_host(host) {
            r.at(&at.key("host"), why);
        }
    }
    match route.frontend {
        Frontend::Files => check_files_route(route, at, r),
        Frontend::S3 => check_s3_route(route, at, upstream_names, r),
    }
    if let Err(why) = check_relative_key(&route.key_prefix, false) {
        r.at(&at.key("key_prefix"), why);
    }
    if let Some(key) = &route.health_key {
        if let Err(why) = check_relative_key(key, true) {
            r.at(&at.key("health_key"), why);
        }
    }
    match (route.auth.is_empty(), route.public) {
        _ if route.frontend == Frontend::S3 => {}
        (true, false) => r.at(
            at,
            "this route has no `auth` and is not marked `public: true`: add an auth plugin, or `public: true` to serve it to anyone",
        ),
        (false, true) => r.at(
            &at.key("public"),
            "a route with `auth` cannot also be `public: true`: remove one (health checks can use `health_key`)",
        ),
        _ => {}
    }
    for (i, entry) in route.auth.iter().enumerate() {
        let entry_at = at.key("auth").index(i).key(entry.name());
        for problem in entry.validate() {
            r.at(&relative(&entry_at, &problem.path), problem.message);
        }
    }
    if let Some(cors) = &route.cors {
        check_cors(cors, &at.key("cors"), r);
    }
    if route.methods.is_empty() {
        r.at(
            &at.key("methods"),
            "must list at least one of GET, HEAD, PUT, DELETE (omit it for GET and HEAD)",
        );
    }
}

fn check_files_route(route: &Route, at: &Path, r: &mut Reporter) {
    if route.bucket.is_empty() {
        r.at(
            at,
            "a `files` route needs `bucket`, the upstream bucket it serves",
        );
    } else if let Err(why) = check_bucket(&route.bucket) {
        r.at(&at.key("bucket"), why);
    }
    for (field, used) in [
        ("buckets", !route.buckets.is_empty()),
        ("base_domains", !route.base_domains.is_empty()),
    ] {
        if used {
            r.at(
                &at.key(field),
                format!(
                    "`{field}` is for `frontend: s3` routes; a `files` route serves one `bucket`"
                ),
            );
        }
    }
}

/// An S3 route names its buckets under `buckets`, authenticates by SigV4 with `access_keys`,
/// and has none of the `files` route's key mapping.
fn check_s3_route(route: &Route, at: &Path, upstream_names: Option<&[String]>, r: &mut Reporter) {
    for (i, entry) in route.auth.iter().enumerate() {
        if !matches!(entry, AuthEntry::Oidc(c) if c.mint_keys.is_some()) {
            r.at(
                &at.key("auth").index(i),
                "S3 routes authenticate SigV4 signatures with `access_keys`; their `auth` may \
                 list only `oidc` entries with `mint_keys` (a browser sign-in that mints keys)",
            );
        }
    }
    let unused = [
        (
            "bucket",
            !route.bucket.is_empty(),
            "list buckets under `buckets`",
        ),
        (
            "key_prefix",
            !route.key_prefix.is_empty(),
            "set `key_prefix` per bucket under `buckets`",
        ),
        (
            "rewrite",
            !route.rewrite.is_empty(),
            "S3 keys are never rewritten",
        ),
        (
            "health_key",
            route.health_key.is_some(),
            "every S3 request is signed",
        ),
        (
            "public",
            route.public,
            "S3 routes authenticate SigV4 signatures with `access_keys`",
        ),
        (
            "allow_encoded_slash",
            route.allow_encoded_slash,
            "S3 keys decode `%2F` to `/` always",
        ),
    ];
    for (field, used, why) in unused {
        if used {
            r.at(
                &at.key(field),
                format!("not used by `frontend: s3` routes: {why}"),
            );
        }
    }
    if route.buckets.is_empty() {
        r.at(
            at,
            "a `frontend: s3` route needs `buckets`, for example `buckets: [{name: data}]`",
        );
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, b) in route.buckets.iter().enumerate() {
        let at = at.key("buckets").index(i);
        if let Err(why) = check_bucket(&b.name) {
            r.at(&at.key("name"), why);
        } else if names.insert(&b.name, i).is_some() {
            r.at(
                &at.key("name"),
                format!("bucket `{}` is listed twice", b.name),
            );
        }
        if let Some(Err(why)) = b.bucket.as_deref().map(check_bucket) {
            r.at(&at.key("bucket"), why);
        }
        if let Err(why) = check_relative_key(&b.key_prefix, false) {
            r.at(&at.key("key_prefix"), why);
        }
        if let (Some(u), Some(known)) = (&b.upstream, upstream_names) {
            if !known.contains(u) {
                r.at(
                    &at.key("upstream"),
                    format!("upstream `{u}` is not defined"),
                );
            }
        }
    }
    for (i, d) in route.base_domains.iter().enumerate() {
        if d.starts_with("*.") || check_host(d).is_err() {
            r.at(
                &at.key("base_domains").index(i),
                format!("{d:?} is not a domain name such as s3.example.com"),
            );
        }
    }
}

/// `base` extended by a plugin's relative path such as `keys[1].pem_file`.
fn relative(base: &Path, rel: &str) -> Path {
    let mut p = base.clone();
    for part in rel.split('.').filter(|s| !s.is_empty()) {
        let (name, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            p = p.key(name);
        }
        for idx in indexes.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                p = p.index(i);
            }
        }
    }
    p
}

/// An exact host or `*.suffix`.
fn check_host(host: &str) -> Result<(), String> {
    let bare = host.strip_prefix("*.").unwrap_or(host);
    if bare.is_empty()
        || bare.contains('*')
        || bare
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '?' | '#'))
    {
        return Err(format!(
            "invalid host {host:?}: expected a host name such as files.example.com or a \
             wildcard such as *.example.com"
        ));
    }
    Ok(())
}

/// S3's rules for bucket names.
pub fn check_bucket(b: &str) -> Result<(), String> {
    let problem = if !(3..=63).contains(&b.len()) {
        Some("it must be 3 to 63 characters long")
    } else if !b
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        Some("only lowercase letters, digits, dots and hyphens are allowed")
    } else if !b.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !b.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        Some("it must start and end with a letter or digit")
    } else if b.contains("..") {
        Some("it must not contain two dots in a row")
    } else {
        None
    };
    match problem {
        Some(why) => Err(format!("invalid bucket name {b:?}: {why}")),
        None => Ok(()),
    }
}

/// A key or key prefix relative to a bucket or route: no leading `/`, no `..` segment, no
/// control characters. `need_nonempty` rejects the empty string.
pub fn check_relative_key(k: &str, need_nonempty: bool) -> Result<(), String> {
    if need_nonempty && k.is_empty() {
        Err("must not be empty".into())
    } else if k.starts_with('/') {
        Err(format!("{k:?} must not start with `/`: it is relative"))
    } else if k.split('/').any(|seg| seg == "..") {
        Err(format!("{k:?} must not contain a `..` segment"))
    } else if k.chars().any(char::is_control) {
        Err(format!("{k:?} must not contain control characters"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.v2", "0data", &"a".repeat(63)] {
            assert!(check_bucket(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "My-Bucket",
            "-abc",
            "abc.",
            "a..b",
            "a_b",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_keys() {
        assert!(check_relative_key("", false).is_ok());
        assert!(check_relative_key("public/", false).is_ok());
        assert!(check_relative_key("a..b/", false).is_ok());
        assert!(check_relative_key("", true).is_err());
        assert!(check_relative_key("/public", false).is_err());
        assert!(check_relative_key("a/../b", false).is_err());
        assert!(check_relative_key("..", false).is_err());
        assert!(check_relative_key("a\nb", false).is_err());
    }

    #[test]
    fn hosts() {
        assert!(check_host("files.example.com").is_ok());
        assert!(check_host("*.example.com").is_ok());
        for bad in ["", "*.", "a.*.com", "http://x", "a b"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
        assert_eq!(normalized_prefix("/files/"), "/files");
        assert_eq!(normalized_prefix("/"), "/");
    }

    #[test]
    fn host_patterns_overlap() {
        for (a, b) in [
            (None, Some("a.example.com")),
            (Some("a.example.com"), Some("A.example.com")),
            (Some("*.example.com"), Some("a.example.com")),
            (Some("a.example.com"), Some("*.example.com")),
            (Some("*.example.com"), Some("*.b.example.com")),
        ] {
            assert!(hosts_overlap(a, b), "{a:?} {b:?}");
        }
        for (a, b) in [
            (Some("a.example.com"), Some("b.example.com")),
            (Some("*.example.com"), Some("example.com")),
            (Some("*.example.com"), Some("*.example.org")),
            (Some("*.b.example.com"), Some("a.example.com")),
        ] {
            assert!(!hosts_overlap(a, b), "{a:?} {b:?}");
        }
    }
}
