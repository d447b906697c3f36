//! The MQTT topic tree, versioned under `tve/v1`.
//!
//! | topic | direction | QoS, retain |
//! |---|---|---|
//! | `tve/v1/{device}/violation` | edge → central | 1 |
//! | `tve/v1/{device}/ack` | central → edge: event ids durably stored | 1 |
//! | `tve/v1/{device}/status` | edge → all: health; last will `offline` | 1, retained |
//! | `tve/v1/{device}/config` | central → edge | 1, retained |
//! | `tve/v1/{device}/signal/{camera}` | signal controller → edge: phase feed | 1 |
//! | `tve/v1/{device}/snapshot_request` | central → edge: send a camera's picture | 1 |
//! | `tve/v1/{device}/snapshot` | edge → central: the picture taken, its file uploaded | 1 |

use std::{fmt, str::FromStr};

use crate::ids::{CameraId, DeviceId, IdError};

/// The root of every topic; the version changes only with an incompatible topic layout.
pub const ROOT: &str = "tve/v1";

/// One concrete topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Violation(DeviceId),
    Ack(DeviceId),
    Status(DeviceId),
    Config(DeviceId),
    Signal(DeviceId, CameraId),
    SnapshotRequest(DeviceId),
    Snapshot(DeviceId),
}

/// The kinds of topic, for subscription filters across all devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    Violation,
    Ack,
    Status,
    Config,
    Signal,
    SnapshotRequest,
    Snapshot,
}

impl TopicKind {
    fn leaf(self) -> &'static str {
        match self {
            Self::Violation => "violation",
            Self::Ack => "ack",
            Self::Status => "status",
            Self::Config => "config",
            Self::Signal => "signal",
            Self::SnapshotRequest => "snapshot_request",
            Self::Snapshot => "snapshot",
        }
    }

    /// The filter matching this kind of topic for every device (and every camera).
    pub fn filter_all(self) -> String {
        match self {
            Self::Signal => format!("{ROOT}/+/signal/+"),
            other => format!("{ROOT}/+/{}", other.leaf()),
        }
    }

    /// A shared subscription (`$share/{group}/…`): the broker hands each message to one member
    /// of the group, so replicas split the load.
    pub fn shared_filter(self, group: &str) -> String {
        format!("$share/{group}/{}", self.filter_all())
    }

    /// Whether messages on this kind of topic are published retained.
    pub fn retained(self) -> bool {
        matches!(self, Self::Status | Self::Config)
    }
}

/// Why a topic string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic `{0}` is not under `{ROOT}/`")]
    WrongRoot(String),
    #[error("topic `{0}` has no known layout")]
    UnknownLayout(String),
    #[error("topic `{topic}`: {source}")]
    BadId {
        topic: String,
        #[source]
        source: IdError,
    },
}

impl Topic {
    pub fn kind(&self) -> TopicKind {
        match self {
            Self::Violation(_) => TopicKind::Violation,
            Self::Ack(_) => TopicKind::Ack,
            Self::Status(_) => TopicKind::Status,
            Self::Config(_) => TopicKind::Config,
            Self::Signal(..) => TopicKind::Signal,
            Self::SnapshotRequest(_) => TopicKind::SnapshotRequest,
            Self::Snapshot(_) => TopicKind::Snapshot,
        }
    }

    pub fn device(&self) -> &DeviceId {
        match self {
            Self::Violation(d)
            | Self::Ack(d)
            | Self::Status(d)
            | Self::Config(d)
            | Self::SnapshotRequest(d)
            | Self::Snapshot(d) => d,
            Self::Signal(d, _) => d,
        }
    }

    /// Parses a concrete topic (no wildcards), as received on a subscription.
    pub fn parse(topic: &str) -> Result<Self, TopicError> {
        let rest = topic
            .strip_prefix(ROOT)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| TopicError::WrongRoot(topic.to_owned()))?;
        let bad_id = |source| TopicError::BadId {
            topic: topic.to_owned(),
            source,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let device = || DeviceId::parse(parts[0]).map_err(bad_id);
        match parts.as_slice() {
            [_, "violation"] => Ok(Self::Violation(device()?)),
            [_, "ack"] => Ok(Self::Ack(device()?)),
            [_, "status"] => Ok(Self::Status(device()?)),
            [_, "config"] => Ok(Self::Config(device()?)),
            [_, "snapshot_request"] => Ok(Self::SnapshotRequest(device()?)),
            [_, "snapshot"] => Ok(Self::Snapshot(device()?)),
            [_, "signal", camera] => Ok(Self::Signal(
                device()?,
                CameraId::parse(*camera).map_err(bad_id)?,
            )),
            _ => Err(TopicError::UnknownLayout(topic.to_owned())),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signal(device, camera) => write!(f, "{ROOT}/{device}/signal/{camera}"),
            other => write!(f, "{ROOT}/{}/{}", other.device(), other.kind().leaf()),
        }
    }
}

impl FromStr for Topic {
    type Err = TopicError;
    fn from_str(topic: &str) -> Result<Self, TopicError> {
        Self::parse(topic)
    }
}

/// Reads a broker address `mqtt://HOST[:PORT]` (port 1883 when absent) into host and port.
pub fn parse_broker_url(url: &str) -> Result<(String, u16), String> {
    match BrokerUrl::parse(url)? {
        BrokerUrl {
            tls: false,
            host,
            port,
        } => Ok((host, port)),
        _ => Err(format!("`{url}` is not mqtt://HOST[:PORT]")),
    }
}

/// A broker's address: `mqtt://HOST[:PORT]` (port 1883) or, over TLS, `mqtts://HOST[:PORT]`
/// (port 8883).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest, default_port) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest, 8883)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest, 1883)
        } else {
            return Err(format!(
                "`{url}` is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|e| format!("`{url}` has a bad port: {e}"))?,
            ),
            None => (rest, default_port),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("`{url}` has no host"));
        }
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn broker_urls_with_and_without_tls() {
        assert_eq!(
            BrokerUrl::parse("mqtts://broker.csgt.vn").unwrap(),
            BrokerUrl {
                tls: true,
                host: "broker.csgt.vn".into(),
                port: 8883
            }
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://10.0.0.5:2883/").unwrap(),
            BrokerUrl {
                tls: false,
                host: "10.0.0.5".into(),
                port: 2883
            }
        );
        for bad in ["http://x", "mqtts://", "mqtt://:1883", "mqtts://h:port"] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_broker_url("mqtts://h").is_err());
        assert_eq!(parse_broker_url("mqtt://h").unwrap(), ("h".into(), 1883));
    }

    fn device() -> DeviceId {
        DeviceId::parse("hcm-q1-001").unwrap()
    }

    #[test]
    fn topics_print_and_parse_back() {
        let camera = CameraId::parse("north").unwrap();
        let cases = [
            (Topic::Violation(device()), "tve/v1/hcm-q1-001/violation"),
            (Topic::Ack(device()), "tve/v1/hcm-q1-001/ack"),
            (Topic::Status(device()), "tve/v1/hcm-q1-001/status"),
            (Topic::Config(device()), "tve/v1/hcm-q1-001/config"),
            (
                Topic::SnapshotRequest(device()),
                "tve/v1/hcm-q1-001/snapshot_request",
            ),
            (Topic::Snapshot(device()), "tve/v1/hcm-q1-001/snapshot"),
            (
                Topic::Signal(device(), camera),
                "tve/v1/hcm-q1-001/signal/north",
            ),
        ];
        for (topic, text) in cases {
            assert_eq!(topic.to_string(), text);
            assert_eq!(Topic::parse(text), Ok(topic));
        }
    }

    #[test]
    fn malformed_topics_are_refused_with_the_reason() {
        assert!(matches!(
            Topic::parse("frigate/events"),
            Err(TopicError::WrongRoot(_))
        ));
        assert!(matches!(
            Topic::parse("tve/v2/a/violation"),
            Err(TopicError::WrongRoot(_))
        ));
        assert!(matches!(
            Topic::parse("tve/v1/a/violation/extra"),
            Err(TopicError::UnknownLayout(_))
        ));
        assert!(matches!(
            Topic::parse("tve/v1/a/signal"),
            Err(TopicError::UnknownLayout(_))
        ));
        assert!(matches!(
            Topic::parse("tve/v1/+/violation"),
            Err(TopicError::BadId { .. })
        ));
        assert!(matches!(
            Topic::parse("tve/v1/ok/signal/Bad"),
            Err(TopicError::BadId { .. })
        ));
    }

    #[test]
    fn filters_cover_every_device() {
        assert_eq!(TopicKind::Violation.filter_all(), "tve/v1/+/violation");
        assert_eq!(TopicKind::Signal.filter_all(), "tve/v1/+/signal/+");
        assert_eq!(
            TopicKind::Violation.shared_filter("central"),
            "$share/central/tve/v1/+/violation"
        );
        assert!(TopicKind::Status.retained() && TopicKind::Config.retained());
        assert!(!TopicKind::Violation.retained());
    }
}
