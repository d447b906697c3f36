//! What every binary of the project shares, so operators and scripts can rely on one behaviour
//! (DESIGN.md, "Conventions every binary shares"):
//!
//! - [`cli`]: `--config PATH`, `--print-default-config`, `--help`;
//! - [`config`]: defaults → TOML file → environment (`PREFIX__SECTION__KEY`), validated at start
//!   with messages that name the field;
//! - [`telemetry`]: structured logs through `tracing`;
//! - [`http`]: `/healthz` and `/metrics` (Prometheus text), serving on a given listener until a
//!   shutdown future resolves;
//! - `db` (feature `db`): the storage every service with data shares, PostgreSQL or SQLite;
//! - `mqtt` (feature `mqtt`): how services connect to a broker (TLS, credentials);
//! - `paper` (feature `paper`): A4 pages of Vietnamese text as PDF;
//! - `sealed` (feature `sealing`): values a database keeps sealed under a key outside it;
//! - [`secret`]: secret settings, never shown in `Debug`, compared in constant time;
//! - [`secret_file`]: files that hold a secret, for their owner's eyes only;
//! - [`tls`]: HTTPS serving (certificate and key in `[http]`) and HTTPS clients (a CA of the
//!   deployment's own beside the system's roots);
//! - [`run`]: the exit codes: 0 success, 2 bad usage or configuration, 1 runtime failure.
//!
//! It knows nothing of the services themselves; it is not a service and none of them reach
//! another through it.

pub mod cli;
pub mod config;
#[cfg(feature = "db")]
pub mod db;
#[cfg(feature = "testing")]
pub mod db_testing;
pub mod http;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "db")]
pub mod outbox;
#[cfg(feature = "paper")]
pub mod paper;
pub mod retry;
#[cfg(feature = "sealing")]
pub mod sealed;
pub mod secret;
pub mod secret_file;
pub mod telemetry;
pub mod tls;

pub use cli::Cli;
pub use config::{ConfigError, Settings};

use std::{future::Future, process::ExitCode};

/// Exit status for bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a failure while running.
pub const EXIT_RUNTIME: u8 = 1;

/// The future a service runs until: Ctrl-C or SIGTERM.
pub type StopSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// The whole life of a service binary: parse the command line, print the default configuration
/// when asked, load and validate the configuration, start telemetry, listen for Ctrl-C and
/// SIGTERM (before anything else starts), run the service on a Tokio runtime, and map the
/// outcome to the exit status.
pub fn run<S, F, Fut>(cli: Cli, env_prefix: &str, service: F) -> ExitCode
where
    S: Settings,
    F: FnOnce(S, StopSignal) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    if cli.print_default_config {
        return match config::default_toml::<S>() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_RUNTIME)
            }
        };
    }
    let settings = match config::load::<S>(env_prefix, cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let outcome = runtime.block_on(async {
        let stop = http::shutdown_signal();
        service(settings, stop).await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "stopped on error");
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
