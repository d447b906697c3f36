//! `sandbox vnpay …`: a stand-in for a national system, for the demo and manual testing.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Stand-ins for national systems (tests and the demo only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A payment gateway in VNPay's role (protocol 2.1.0).
    Vnpay {
        #[arg(long, default_value = "127.0.0.1:8099")]
        bind: SocketAddr,
        #[arg(long, default_value = "TVESBX01")]
        tmn_code: String,
        #[arg(long)]
        hash_secret: String,
        /// The merchant's IPN URL, e.g. http://127.0.0.1:8090/payment/vnpay/ipn.
        #[arg(long)]
        ipn_url: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    match Cli::parse().command {
        Command::Vnpay {
            bind,
            tmn_code,
            hash_secret,
            ipn_url,
        } => {
            let gateway = sandbox::vnpay::Gateway::new(sandbox::vnpay::Merchant {
                tmn_code,
                hash_secret,
                ipn_url,
            });
            let running = sandbox::serve(bind, sandbox::vnpay::router(gateway)).await?;
            println!("vnpay sandbox: {}/paymentv2/vpcpay.html", running.url());
            tokio::signal::ctrl_c().await?;
        }
    }
    Ok(())
}
