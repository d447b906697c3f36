//! `citizen-notify`: Citizen notifications: notices to citizen apps, the citizen portal and online payment.

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "citizen-notify",
    version,
    about = "Citizen notifications: notices to citizen apps, the citizen portal and online payment."
)]
struct Args {
    #[command(flatten)]
    common: service_kit::Cli,
}

fn main() -> ExitCode {
    let args = Args::parse();
    service_kit::run(
        args.common,
        citizen_notify::ENV_PREFIX,
        |config: citizen_notify::Config, stop| async move {
            citizen_notify::build(config).await?.run_until(stop).await
        },
    )
}
