//! The `bucketgate` command: `run` (the default) serves, `check` validates a config like
//! `nginx -t`. Both load the config the same way and print every problem with file, line and
//! column; `run` never starts half-configured.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use bucketgate::app::{self, RunFlags};
use bucketgate::config;

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
    match app::build(cfg, flags) {
        Ok(server) => server.run_forever(),
        Err(why) => {
            eprintln!("bucketgate: {why}");
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` wins over the config's level.
fn init_logging(level: &str) {
    let env = env_logger::Env::default().default_filter_or(level);
    env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .init();
}
