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
    /// A citizen-app backend's push endpoint (`POST /api/v1/push`, signed).
    Push {
        #[arg(long, default_value = "127.0.0.1:8097")]
        bind: SocketAddr,
        /// The secret shared with citizen-notify (its `delivery.push_secret`).
        #[arg(long)]
        secret: String,
    },
    /// An SMS gateway's HTTP API (`POST /api/v1/sms`, bearer key).
    Sms {
        #[arg(long, default_value = "127.0.0.1:8096")]
        bind: SocketAddr,
        #[arg(long)]
        api_key: String,
    },
    /// A mail relay's SMTP side, keeping what it is sent (shown over HTTP).
    Smtp {
        #[arg(long, default_value = "127.0.0.1:2525")]
        bind: SocketAddr,
        /// Where what it took is shown: `GET /sandbox/smtp/received`.
        #[arg(long, default_value = "127.0.0.1:8095")]
        http: SocketAddr,
        /// Require `AUTH PLAIN` as USER:PASSWORD.
        #[arg(long)]
        credentials: Option<String>,
    },
    /// An OpenID Connect identity provider in VNeID's role.
    Oidc {
        #[arg(long, default_value = "127.0.0.1:8098")]
        bind: SocketAddr,
        /// Its own base URL, as browsers and the portal reach it.
        #[arg(long, default_value = "http://127.0.0.1:8098")]
        issuer: String,
        #[arg(long, default_value = "citizen-portal")]
        client_id: String,
        #[arg(long)]
        client_secret: String,
        /// The portal's callback, e.g. http://127.0.0.1:8090/auth/callback.
        #[arg(long)]
        redirect_uri: String,
        /// A citizen who may sign in, as `ID=Full name` (12-digit id); repeatable.
        #[arg(long = "citizen", required = true)]
        citizens: Vec<String>,
        /// How ID tokens are signed: RS256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: sandbox::oidc::Algorithm,
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
        Command::Push { bind, secret } => {
            let receiver = sandbox::push::PushReceiver::new(&secret);
            let running = sandbox::serve(bind, sandbox::push::router(receiver)).await?;
            println!(
                "push sandbox: {}/api/v1/push (received: {}/sandbox/push/received)",
                running.url(),
                running.url()
            );
            tokio::signal::ctrl_c().await?;
        }
        Command::Sms { bind, api_key } => {
            let gateway = sandbox::sms::SmsGateway::new(&api_key);
            let running = sandbox::serve(bind, sandbox::sms::router(gateway)).await?;
            println!(
                "sms sandbox: {}/api/v1/sms (sent: {}/sandbox/sms/sent)",
                running.url(),
                running.url()
            );
            tokio::signal::ctrl_c().await?;
        }
        Command::Smtp {
            bind,
            http,
            credentials,
        } => {
            use sandbox::smtp::Relay;
            let relay = match credentials.as_deref().map(|c| c.split_once(':')) {
                None => Relay::open(),
                Some(Some((user, password))) => Relay::with_credentials(user, password),
                Some(None) => anyhow::bail!("--credentials: expected USER:PASSWORD"),
            };
            let smtp =
                sandbox::smtp::serve(tokio::net::TcpListener::bind(bind).await?, relay.clone())?;
            let shown = sandbox::serve(http, sandbox::smtp::router(relay)).await?;
            println!(
                "smtp sandbox: smtp://{} (received: {}/sandbox/smtp/received)",
                smtp.addr,
                shown.url()
            );
            tokio::signal::ctrl_c().await?;
        }
        Command::Oidc {
            bind,
            issuer,
            client_id,
            client_secret,
            redirect_uri,
            citizens,
            alg,
        } => {
            use sandbox::oidc::{Citizen, Client, IdentityProvider};
            let citizens = citizens
                .iter()
                .map(|c| {
                    let (id, name) = c
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("--citizen {c}: expected ID=Full name"))?;
                    Ok(Citizen {
                        id: id.trim().to_owned(),
                        name: name.trim().to_owned(),
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let idp = IdentityProvider::signing_with(
                alg,
                &issuer,
                vec![Client {
                    client_id,
                    client_secret,
                    redirect_uris: vec![redirect_uri],
                }],
                citizens,
            )?;
            let running = sandbox::serve(bind, sandbox::oidc::router(idp)).await?;
            println!(
                "oidc sandbox: {}/.well-known/openid-configuration",
                running.url()
            );
            tokio::signal::ctrl_c().await?;
        }
    }
    Ok(())
}
