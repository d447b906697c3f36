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
    /// Measures the configured vehicle detector on a labelled image set (YOLO / Roboflow
    /// layout): AP50, precision and recall at the operating threshold, per class, and the time
    /// per image.
    EvalDetect {
        /// The set's data.yaml (`names`; SPLIT/images and SPLIT/labels beside it).
        #[arg(long, value_name = "PATH")]
        data: std::path::PathBuf,
        /// valid (or val), test or train.
        #[arg(long, default_value = "valid")]
        split: String,
        /// A detector named in the manifests instead of the configured one.
        #[arg(long, value_name = "NAME")]
        detector: Option<String>,
        /// Only the first N images, in name order.
        #[arg(long, default_value_t = 0)]
        limit: usize,
        /// The operating threshold to measure at, instead of the configured or the model's own.
        #[arg(long, value_name = "SCORE")]
        min_score: Option<f32>,
        /// A detector of people (a COCO export: `deimv2_femto` of models/coco/manifest.toml)
        /// whose sure finds stand in for labels the set does not have: how many of those people
        /// the masked copy hides.
        #[arg(long, value_name = "NAME", requires = "people_manifest")]
        people_reference: Option<String>,
        /// The manifest that describes `--people-reference`.
        #[arg(long, value_name = "PATH")]
        people_manifest: Option<std::path::PathBuf>,
        /// The people detector of the masked copies, instead of the configured one (`""`:
        /// none, people left to the vehicle detector).
        #[arg(long, value_name = "NAME")]
        people_detector: Option<String>,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Some(Command::PublicKey) => {
            return edge_agent::startup::print_public_key(args.common.config.as_deref());
        }
        Some(Command::EvalDetect {
            data,
            split,
            detector,
            limit,
            min_score,
            people_reference,
            people_manifest,
            people_detector,
            json,
        }) => {
            let opts = edge_agent::eval_detect::EvalOptions {
                data,
                split,
                detector,
                limit,
                min_score,
                people_reference: people_manifest.zip(people_reference),
                people_detector,
            };
            return edge_agent::eval_detect::main(args.common.config.as_deref(), &opts, json);
        }
        None => {}
    }
    service_kit::run(
        args.common,
        edge_agent::ENV_PREFIX,
        |config: edge_agent::Config, stop| async move {
            edge_agent::build(config).await?.run_until(stop).await
        },
    )
}
