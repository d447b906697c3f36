//! How every service connects to an MQTT broker (feature `mqtt`): `mqtt://` in the clear or
//! `mqtts://` over TLS (the broker's certificate checked against a CA file, or the system's
//! trusted roots), with a username and password when the broker asks for them.

use std::path::Path;

use protocol::topic::BrokerUrl;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};

/// Why the connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MqttConfigError {
    #[error("{0}")]
    Url(String),
    #[error("reading the broker's CA certificate {path}: {source}")]
    Ca {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a CA file is given but the broker URL is not mqtts://")]
    CaWithoutTls,
}

/// The largest packet MQTT 3.1.1 can carry: a remaining length of at most 268 435 455 bytes
/// after a fixed header of at most 5. A subscriber reads any packet up to it, so that a message
/// too large for the application is refused by the application: a packet the client refused to
/// read would close the connection, and the broker would deliver the same message to the
/// persistent session at every reconnection, ahead of everything behind it. The broker's own
/// limit (`message_size_limit` in Mosquitto) keeps such messages out of memory.
pub const MAX_PACKET: usize = 268_435_455 + 5;

/// Options for a client `client_id` of the broker at `url`, with `credentials` (username,
/// password) and, for `mqtts://`, the CA certificate (PEM) to trust (`None`: the system's roots).
pub fn client_options(
    client_id: &str,
    url: &str,
    credentials: Option<(&str, &str)>,
    ca_file: Option<&Path>,
) -> Result<MqttOptions, MqttConfigError> {
    let broker = BrokerUrl::parse(url).map_err(MqttConfigError::Url)?;
    let mut options = MqttOptions::new(client_id, broker.host, broker.port);
    if let Some((username, password)) = credentials {
        options.set_credentials(username, password);
    }
    match (broker.tls, ca_file) {
        (true, Some(path)) => {
            let ca = std::fs::read(path).map_err(|source| MqttConfigError::Ca {
                path: path.display().to_string(),
                source,
            })?;
            options.set_transport(Transport::Tls(TlsConfiguration::SimpleNative {
                ca,
                client_auth: None,
            }));
        }
        (true, None) => {
            options.set_transport(Transport::Tls(TlsConfiguration::Native));
        }
        (false, Some(_)) => return Err(MqttConfigError::CaWithoutTls),
        (false, None) => {}
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_follows_the_url_and_a_ca_must_be_readable() {
        let plain = client_options("c", "mqtt://127.0.0.1:1883", Some(("u", "p")), None).unwrap();
        assert_eq!(plain.broker_address(), ("127.0.0.1".into(), 1883));
        assert!(matches!(plain.transport(), Transport::Tcp));
        assert_eq!(
            plain.credentials().map(|l| l.username.clone()),
            Some("u".into())
        );
        let tls = client_options("c", "mqtts://broker", None, None).unwrap();
        assert_eq!(tls.broker_address().1, 8883);
        assert!(matches!(tls.transport(), Transport::Tls(_)));
        assert!(matches!(
            client_options(
                "c",
                "mqtts://broker",
                None,
                Some(Path::new("/nonexistent/ca.pem"))
            ),
            Err(MqttConfigError::Ca { .. })
        ));
        assert!(matches!(
            client_options("c", "mqtt://broker", None, Some(Path::new("ca.pem"))),
            Err(MqttConfigError::CaWithoutTls)
        ));
    }
}
