//! `edge-agent`: Roadside edge agent: camera streams to signed violation events over MQTT.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "edge-agent",
    version,
    about = "Roadside edge agent: camera streams to signed violation events over MQTT."
)]
struct Args {
    #[command(flatten)]
    common: service_kit::Cli,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints the device's Ed25519 public key (base64), making the key on first use: what
    /// central's `device-add` registers.
    PublicKey,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::PublicKey) = args.command {
        return edge_agent::startup::print_public_key(args.common.config.as_deref());
    }
    service_kit::run(
        args.common,
        edge_agent::ENV_PREFIX,
        |config: edge_agent::Config, stop| async move {
            edge_agent::build(config).await?.run_until(stop).await
        },
    )
}
