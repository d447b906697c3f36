//! The embedded MQTT broker (rumqttd), so one command runs the whole chain with nothing
//! installed. Production deployments configure an external broker instead.

use std::{collections::HashMap, net::SocketAddr};

use anyhow::Context;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// Starts the broker on `bind` (port 0: a free port) on threads of its own, and returns the
/// address it listens on.
pub fn start(bind: SocketAddr, max_payload_bytes: usize) -> anyhow::Result<SocketAddr> {
    let listen = if bind.port() == 0 {
        // rumqttd cannot report the port it picked: take a free one first.
        let probe = std::net::TcpListener::bind(bind)
            .with_context(|| format!("finding a free port for mqtt.embedded_bind {bind}"))?;
        probe.local_addr()?
    } else {
        bind
    };
    let server = ServerSettings {
        name: "embedded-v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: max_payload_bytes,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 4,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("v4".to_owned(), server)])),
        ..Config::default()
    };
    // Nothing else may hold the address (a system broker on the same port): rumqttd would only
    // log its failure to bind. Binding here first turns that into a start-up error.
    drop(
        std::net::TcpListener::bind(listen)
            .with_context(|| format!("mqtt.embedded_bind {listen} is already in use"))?,
    );
    let mut broker = Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded mqtt broker stopped");
            }
        })
        .context("starting the embedded mqtt broker thread")?;
    // The ingest worker connects with retries, so there is no need to probe the port (a probe
    // shows up in the broker's log as a failed connection).
    tracing::info!(addr = %listen, "embedded mqtt broker starting");
    Ok(listen)
}
