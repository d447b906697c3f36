//! `edge-agent`: Roadside edge agent: camera streams to signed violation events over MQTT.

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "edge-agent",
    version,
    about = "Roadside edge agent: camera streams to signed violation events over MQTT."
)]
struct Args {
    #[command(flatten)]
    common: service_kit::Cli,
}

fn main() -> ExitCode {
    let args = Args::parse();
    service_kit::run(
        args.common,
        edge_agent::ENV_PREFIX,
        |config: edge_agent::Config, stop| async move {
            edge_agent::build(config).await?.run_until(stop).await
        },
    )
}
