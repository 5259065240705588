//! The `bucketgate` command: `run` (the default) serves, `check` validates a config like
//! `nginx -t`. Both load the config the same way and print every problem with file, line and
//! column; `run` never starts half-configured.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};

use bucketgate::cli::keys::{self, Format};
use bucketgate::config;
use bucketgate::observe::access_log;
use bucketgate::server::build::{self, RunFlags};
use bucketgate_plugin::Grant;

/// Where `-c` points when it is not given.
const DEFAULT_CONFIG: &str = "/etc/bucketgate/bucketgate.yaml";

#[derive(Parser)]
#[command(
    name = "bucketgate",
    version,
    about = "An authenticating, re-signing proxy for S3 and Ceph RGW buckets"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default when no command is given).
    Run(RunArgs),
    /// Validate the config, print every problem with file:line:column, and exit.
    Check {
        /// The config file.
        #[arg(short = 'c', long = "conf", default_value = DEFAULT_CONFIG)]
        conf: PathBuf,
    },
    /// Sealed S3 access keys: mint and inspect them, make sealing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Mint a sealed access key pair with the first (newest) of access_keys.sealing_keys.
    ///
    /// The key carries its subject, grants and expiry; the proxy stores nothing. It cannot be
    /// revoked on its own: removing its sealing key retires every key that key sealed.
    #[command(
        after_help = "Example:\n  bucketgate keys mint -c /etc/bucketgate/bucketgate.yaml \\\n    \
        --subject alice --grant 'data:users/alice/:read,write,list' --ttl 7d --format aws \\\n    \
        >> ~/.aws/credentials"
    )]
    Mint {
        /// The config file (its access_keys.sealing_keys are used).
        #[arg(short = 'c', long = "conf", default_value = DEFAULT_CONFIG)]
        conf: PathBuf,
        /// Who holds the key, shown in logs: 1 to 64 bytes, no control characters.
        #[arg(long)]
        subject: String,
        /// BUCKET:PREFIX:OPS, OPS a comma-separated list of read, write, delete, list or all;
        /// repeat for more grants (at most 8). BUCKET is the upstream bucket (`*` any), PREFIX
        /// the full upstream key prefix (may be empty: `data::read` is the whole bucket).
        #[arg(long = "grant", value_name = "BUCKET:PREFIX:OPS", required = true,
              value_parser = keys::grant_arg)]
        grants: Vec<Grant>,
        /// How long the key is valid: 30m, 24h, 7d, 1d12h (units s, m, h, d, w); at most 366d.
        #[arg(long, value_parser = keys::ttl_arg)]
        ttl: Duration,
        /// How to print the key pair.
        #[arg(long, value_enum, default_value_t = Format::Env)]
        format: Format,
        /// The profile name in `--format aws` output.
        #[arg(long, default_value = "bucketgate", value_parser = keys::profile_arg)]
        profile: String,
    },
    /// Print a new random sealing key as a config entry, with how to rotate keys.
    NewSealingKey {
        /// The key's id, 1 to 8 characters of A-Z a-z 0-9 _ - (default: k + today's UTC date
        /// as YYMMDD).
        #[arg(long)]
        id: Option<String>,
    },
    /// Show what a sealed access key id carries (subject, grants, expiry, sealing key id; never
    /// the secret), or why it does not open (exit code 1).
    Inspect {
        /// The config file (its access_keys.sealing_keys are used).
        #[arg(short = 'c', long = "conf", default_value = DEFAULT_CONFIG)]
        conf: PathBuf,
        /// The access key id, starting with BG1.
        access_key_id: String,
    },
}

#[derive(Args, Clone)]
struct RunArgs {
    /// The config file.
    #[arg(short = 'c', long = "conf", default_value = DEFAULT_CONFIG)]
    conf: PathBuf,
    /// Run in the background (Pingora's -d).
    #[arg(short, long)]
    daemon: bool,
    /// Take over the listening sockets of a running instance (Pingora's -u, after SIGQUIT).
    #[arg(short, long)]
    upgrade: bool,
    /// Load everything, then exit without serving (Pingora's -t).
    #[arg(short, long)]
    test: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { conf }) => check(&conf),
        Some(Command::Run(args)) => run(args),
        Some(Command::Keys { command }) => keys(command),
        None => run(cli.run),
    }
}

fn load_or_report(path: &Path) -> Option<config::Config> {
    match config::load(path) {
        Ok(cfg) => Some(cfg),
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!(
                "bucketgate: configuration file {} test failed ({} problem{})",
                path.display(),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            None
        }
    }
}

fn check(path: &Path) -> ExitCode {
    match load_or_report(path) {
        Some(cfg) => {
            for w in &cfg.warnings {
                eprintln!("{}:{}:{}: warning: {}", w.file, w.line, w.column, w.message);
            }
            eprintln!(
                "bucketgate: configuration file {} test is successful ({} listener(s), {} upstream(s), {} route(s))",
                path.display(),
                cfg.listeners.len(),
                cfg.upstreams.len(),
                cfg.routes.len()
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

fn run(args: RunArgs) -> ExitCode {
    let Some(cfg) = load_or_report(&args.conf) else {
        return ExitCode::FAILURE;
    };
    init_logging(&cfg.server.log_level);
    for w in &cfg.warnings {
        log::warn!("config: {w}");
    }
    log::info!(
        "bucketgate {} starting with {}",
        env!("CARGO_PKG_VERSION"),
        args.conf.display()
    );
    let flags = RunFlags {
        daemon: args.daemon,
        upgrade: args.upgrade,
        test: args.test,
    };
    match build::build(cfg, flags, &args.conf) {
        Ok(built) => {
            built.run();
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("bucketgate: {why}");
            ExitCode::FAILURE
        }
    }
}

/// `bucketgate keys ...`: output on stdout, failures on stderr; neither logs.
fn keys(command: KeysCommand) -> ExitCode {
    let now = SystemTime::now();
    let result = match command {
        KeysCommand::Mint {
            conf,
            subject,
            grants,
            ttl,
            format,
            profile,
        } => {
            let Some(cfg) = load_or_report(&conf) else {
                return ExitCode::FAILURE;
            };
            keys::mint(&cfg.access_keys, &subject, grants, ttl, now)
                .map(|minted| keys::render(&minted, format, &profile))
        }
        KeysCommand::NewSealingKey { id } => keys::new_sealing_key(id.as_deref(), now),
        KeysCommand::Inspect {
            conf,
            access_key_id,
        } => {
            let Some(cfg) = load_or_report(&conf) else {
                return ExitCode::FAILURE;
            };
            keys::inspect(&cfg.access_keys, &access_key_id, now)
        }
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("bucketgate: {failure}");
            ExitCode::from(failure.code)
        }
    }
}

/// `RUST_LOG` wins over the config's level. Access lines skip env_logger where they come out the
/// same without it (src/observe/access_log.rs).
fn init_logging(level: &str) {
    let env = env_logger::Env::default().default_filter_or(level);
    env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .init();
    // The filter spec env_logger just parsed: RUST_LOG when set (and UTF-8), else the level.
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned());
    access_log::write_directly(access_log::env_logger_writes_plain(
        &filter,
        |name| std::env::var_os(name),
        std::io::stderr().is_terminal(),
    ));
}
