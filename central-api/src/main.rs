//! `central-api`: the central service; with a command, one administrative task.

use std::process::ExitCode;

use central_api::admin::Command;
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
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let command = args.command.unwrap_or(Command::Serve);
    service_kit::run(
        args.common,
        central_api::ENV_PREFIX,
        |config, stop| async move {
            match command {
                Command::Serve => central_api::build(config).await?.run_until(stop).await,
                admin => central_api::admin::run(config, admin).await,
            }
        },
    )
}
