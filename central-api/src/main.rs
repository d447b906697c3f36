//! `central-api`: Central API: violation ingest, owner lookup, the police review queue and fines.

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "central-api",
    version,
    about = "Central API: violation ingest, owner lookup, the police review queue and fines."
)]
struct Args {
    #[command(flatten)]
    common: service_kit::Cli,
}

fn main() -> ExitCode {
    let args = Args::parse();
    service_kit::run(
        args.common,
        central_api::ENV_PREFIX,
        |config: central_api::Config, stop| async move {
            central_api::build(config).await?.run_until(stop).await
        },
    )
}
