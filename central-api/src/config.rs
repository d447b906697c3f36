//! The typed configuration of `central-api`: defaults that run on a laptop, a TOML file, and
//! `CENTRAL__…` environment overrides.

use serde::{Deserialize, Serialize};
pub use service_kit::db::DatabaseSettings;
use service_kit::{ConfigError, Settings, http::HttpSettings};

/// Default HTTP port on loopback.
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The review UI, the APIs, health (`/healthz`) and metrics (`/metrics`).
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub mqtt: MqttSettings,
    pub evidence: EvidenceSettings,
    pub review: ReviewSettings,
    pub notify: NotifySettings,
    pub registry: RegistrySettings,
    /// How long records are kept (docs/privacy.md).
    pub retention: crate::db::retention::RetentionSettings,
    /// The audit chain's anchors outside the database.
    pub audit: crate::audit_anchor::AnchorSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpSettings::loopback(DEFAULT_PORT),
            database: DatabaseSettings::sqlite("data/central/central.db"),
            mqtt: MqttSettings::default(),
            evidence: EvidenceSettings::default(),
            review: ReviewSettings::default(),
            notify: NotifySettings::default(),
            registry: RegistrySettings::default(),
            retention: Default::default(),
            audit: Default::default(),
        }
    }
}

impl Config {
    /// The review settings in force: served over HTTPS by this service itself, the session
    /// cookie is `Secure` whatever `review.secure_cookies` says (set that behind a TLS proxy).
    pub fn review_settings(&self) -> ReviewSettings {
        let mut review = self.review.clone();
        review.secure_cookies |= self.http.tls();
        review
    }
}

impl Settings for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        self.database.validate()?;
        let review = &self.review;
        if let Some(unknown) = review
            .second_factor_roles
            .iter()
            .find(|r| crate::auth::Role::parse(r).is_none())
        {
            return Err(ConfigError::invalid(
                "review.second_factor_roles",
                format!("`{unknown}` is no role"),
            ));
        }
        for (key, zero) in [
            ("review.session_idle_s", review.session_idle_s == 0),
            ("review.sign_in_lock_after", review.sign_in_lock_after == 0),
            (
                "review.sign_in_address_free_attempts",
                review.sign_in_address_free_attempts == 0,
            ),
            (
                "review.sign_in_max_concurrent",
                review.sign_in_max_concurrent == 0,
            ),
        ] {
            if zero {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        let retention = &self.retention;
        for (key, days) in [
            ("retention.rejected_days", retention.rejected_days),
            ("retention.dead_letter_days", retention.dead_letter_days),
            ("retention.snapshot_days", retention.snapshot_days),
        ] {
            if !(1..=36_500).contains(&days) {
                return Err(ConfigError::invalid(key, "must be 1 to 36500 days"));
            }
        }
        if !(365..=36_500).contains(&retention.closed_evidence_days) {
            return Err(ConfigError::invalid(
                "retention.closed_evidence_days",
                "must be 365 to 36500 days: a penalty decision can be taken to court for a year \
                 (Law 93/2015/QH13, Article 116 clause 2 point a)",
            ));
        }
        service_kit::config::check_secret(
            "evidence.link_secret",
            self.evidence.link_secret.expose(),
        )?;
        let notify = &self.notify;
        if !notify.url.is_empty() {
            service_kit::config::check_url("notify.url", &notify.url)?;
            if notify.shared_secret.len() < service_kit::config::MIN_SECRET_BYTES {
                return Err(ConfigError::invalid(
                    "notify.shared_secret",
                    "must be at least 16 bytes when notify.url is set",
                ));
            }
        }
        if self.audit.anchor_every_s == 0 || self.audit.anchor_every_s > 86_400 {
            return Err(ConfigError::invalid(
                "audit.anchor_every_s",
                "must be 1 to 86400 s",
            ));
        }
        if let Err(e) = self.audit.former_keys() {
            return Err(ConfigError::invalid("audit.anchor_keys", e));
        }
        let mqtt = &self.mqtt;
        if mqtt.url.is_empty() && !mqtt.embedded_bind.ip().is_loopback() {
            // rumqttd is run without credentials, access list or TLS: off loopback, anyone on
            // the network could publish as any device or as central.
            return Err(ConfigError::invalid(
                "mqtt.embedded_bind",
                "must be a loopback address: the embedded broker asks no credentials and speaks \
                 no TLS; devices on the network reach an external broker (mqtt.url)",
            ));
        }
        if !mqtt.url.is_empty() {
            let broker = protocol::topic::BrokerUrl::parse(&mqtt.url).map_err(|_| {
                ConfigError::invalid(
                    "mqtt.url",
                    "must be empty (the embedded broker), mqtt://HOST[:PORT] or mqtts://HOST[:PORT]",
                )
            })?;
            service_kit::config::check_broker("mqtt.url", broker.tls, &broker.host)?;
            if mqtt.ca_file.is_some() && !broker.tls {
                return Err(ConfigError::invalid(
                    "mqtt.ca_file",
                    "is for a broker reached over TLS (mqtts://)",
                ));
            }
        }
        if mqtt.username.is_some() != mqtt.password.is_some() {
            return Err(ConfigError::invalid(
                "mqtt.password",
                "mqtt.username and mqtt.password go together",
            ));
        }
        if mqtt.client_id.is_empty() || mqtt.client_id.len() > 64 {
            return Err(ConfigError::invalid("mqtt.client_id", "must be 1-64 bytes"));
        }
        if mqtt.shared_group.is_empty() || mqtt.shared_group.contains(['/', '+', '#']) {
            return Err(ConfigError::invalid(
                "mqtt.shared_group",
                "must be a non-empty name without `/`, `+` or `#`",
            ));
        }
        let registry = &self.registry;
        if !registry.url.is_empty() {
            service_kit::config::check_url("registry.url", &registry.url)?;
            if registry.api_key.is_empty() {
                return Err(ConfigError::invalid(
                    "registry.api_key",
                    "is required when registry.url is set",
                ));
            }
        }
        if registry.breaker_failures == 0 || registry.cache_entries == 0 {
            return Err(ConfigError::invalid(
                "registry.breaker_failures",
                "registry.breaker_failures and registry.cache_entries must be positive",
            ));
        }
        self.evidence.s3.validate()?;
        if self.evidence.max_bytes == 0 {
            return Err(ConfigError::invalid(
                "evidence.max_bytes",
                "must be positive",
            ));
        }
        Ok(())
    }
}

/// The MQTT side: where violation events arrive and acknowledgements leave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSettings {
    /// An external broker (Mosquitto, EMQX, …) as `mqtt://HOST[:PORT]` or, over TLS,
    /// `mqtts://HOST[:PORT]`; empty runs the embedded broker on `embedded_bind`.
    pub url: String,
    /// The credentials central presents to an external broker.
    pub username: Option<String>,
    pub password: Option<service_kit::secret::Secret>,
    /// The CA certificate (PEM) the broker's TLS certificate is checked against; absent, the
    /// system's trusted roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// The embedded broker's listen address; port 0 picks a free port. 1883 is left to a
    /// system broker.
    pub embedded_bind: std::net::SocketAddr,
    /// Client id, unique per replica: the broker keeps this session's unacknowledged messages
    /// across restarts.
    pub client_id: String,
    /// Replicas in one shared-subscription group (`$share/GROUP/…`) split the events between
    /// them (external broker only).
    pub shared_group: String,
    pub keep_alive_s: u64,
    /// Largest MQTT payload the embedded broker accepts, and central sends; an external
    /// broker's own limit should match it. A larger violation that reaches central is a dead
    /// letter (`oversized`).
    pub max_payload_bytes: usize,
    /// The key central signs acknowledgements and device configurations with (an Ed25519 seed,
    /// base64, in a file readable by its owner only), made on first start when missing. Devices
    /// pin its public half (`central-api control-key` prints it) and act on nothing else.
    pub control_key_file: std::path::PathBuf,
}

impl Default for MqttSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            username: None,
            password: None,
            ca_file: None,
            embedded_bind: std::net::SocketAddr::from(([127, 0, 0, 1], 1884)),
            client_id: "central-api".into(),
            shared_group: "central".into(),
            keep_alive_s: 30,
            max_payload_bytes: 256 * 1024,
            control_key_file: "data/central/control.key".into(),
        }
    }
}

/// Where evidence files are kept and what an upload may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceSettings {
    /// The folder of the filesystem store (created when missing); with an object store only the
    /// uploads being checked are kept there.
    pub dir: std::path::PathBuf,
    /// Largest evidence file accepted (a 12 s 1080p clip is about 10 MB).
    pub max_bytes: u64,
    /// Bytes kept free on the disk of `dir` for the database and the logs: below it uploads
    /// are refused (507; the devices keep their files and send them again) until room returns.
    pub min_free_bytes: u64,
    /// How far a device's clock may be from central's: an upload's request time either way,
    /// and an event's time ahead (an event dated further in the future is parked as a dead
    /// letter, not stored).
    pub max_clock_skew_s: u64,
    /// The secret shared with citizen-notify (its `portal.evidence_link_secret`) that signs the
    /// links through which citizens see the evidence of their own fines; empty serves none.
    pub link_secret: service_kit::secret::Secret,
    /// An S3-compatible object store for the evidence instead of `dir`.
    pub s3: crate::evidence_store::S3Settings,
    /// Most bytes of evidence one device may hold that no event of it names yet (files
    /// uploaded ahead of their event): beyond it its uploads wait (429, sent again later), so a
    /// device, or whoever holds its key, cannot fill the store with files no case uses.
    pub unclaimed_max_bytes: u64,
    /// The key evidence is sealed at rest under (64 hex digits, readable by central alone;
    /// made at the first start), whichever store keeps it; empty keeps blobs in the clear (for
    /// a store that encrypts them itself).
    pub key_file: std::path::PathBuf,
    /// Keys evidence was sealed under before `key_file` was rotated: blobs sealed under them
    /// still open. Keep each until retention has deleted what it sealed.
    pub old_key_files: Vec<std::path::PathBuf>,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        Self {
            dir: "data/central/evidence".into(),
            max_bytes: 64 * 1024 * 1024,
            min_free_bytes: 512 * 1024 * 1024,
            max_clock_skew_s: 300,
            link_secret: service_kit::secret::Secret::default(),
            s3: Default::default(),
            unclaimed_max_bytes: 2 * 1024 * 1024 * 1024,
            key_file: "data/central/evidence.key".into(),
            old_key_files: Vec::new(),
        }
    }
}

/// The police review side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewSettings {
    /// How long a sign-in lasts.
    pub session_ttl_s: u64,
    /// A session not used for this long has ended (the officer signs in again).
    pub session_idle_s: u64,
    /// Mark the session cookie `Secure`: set it behind a proxy that terminates TLS (always so
    /// when this service serves HTTPS itself, `http.tls_cert`).
    pub secure_cookies: bool,
    /// The detecting and handling unit named on notices, with its contact phone.
    pub issuing_unit: String,
    /// The citizen portal's public address (citizen-notify's `delivery.portal_url`): printed on
    /// paper notices, and their QR code leads to the notice there.
    pub portal_url: String,
    /// Sign-in: failed attempts at one username (registered or not) allowed before each next
    /// attempt must wait.
    pub sign_in_free_attempts: u32,
    /// Sign-in: failed attempts from one client address (at any usernames) allowed before each
    /// next attempt from it must wait; forgotten after `sign_in_max_delay_s` without a failure.
    pub sign_in_address_free_attempts: u32,
    /// Sign-in: the first wait, doubled at each further failure up to `sign_in_max_delay_s`.
    pub sign_in_delay_s: u64,
    pub sign_in_max_delay_s: u64,
    /// Sign-in: failed attempts in a row that lock an officer's account until an administrator
    /// unlocks it (`officer-unlock`).
    pub sign_in_lock_after: u32,
    /// Sign-in: passwords checked at once (Argon2, about 19 MiB each); more are answered 503.
    pub sign_in_max_concurrent: usize,
    /// Roles that sign in only with a second factor (a TOTP code; `central-api officer-totp`
    /// enrols an officer): e.g. `["supervisor", "admin"]`. An officer with one enrolled always
    /// gives it, whatever their role.
    pub second_factor_roles: Vec<String>,
    /// The key that seals the officers' TOTP secrets in the database (`sealed`): 64 hex digits
    /// in a file readable by its owner only, made on first start when missing. Keep it out of
    /// the database's backups and keep a copy of it apart: without it no second factor opens.
    pub secrets_key_file: std::path::PathBuf,
    /// Keys secrets were sealed under before `secrets_key_file` was rotated: what they sealed
    /// still opens, and the next start seals it again under the current key (`sealed`).
    pub old_secrets_key_files: Vec<std::path::PathBuf>,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self {
            session_ttl_s: 12 * 3600,
            session_idle_s: 30 * 60,
            secure_cookies: false,
            issuing_unit: "Phòng Cảnh sát giao thông, Công an Thành phố Hồ Chí Minh".into(),
            portal_url: "http://127.0.0.1:8090".into(),
            sign_in_free_attempts: 3,
            sign_in_address_free_attempts: 30,
            sign_in_delay_s: 2,
            sign_in_max_delay_s: 15 * 60,
            sign_in_lock_after: 10,
            sign_in_max_concurrent: 4,
            second_factor_roles: Vec::new(),
            secrets_key_file: "data/central/secrets.key".into(),
            old_secrets_key_files: Vec::new(),
        }
    }
}

/// Where issued fines' notices go: citizen-notify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// citizen-notify's base URL, e.g. `http://127.0.0.1:8090`; empty keeps notices in the
    /// outbox until it is set.
    pub url: String,
    /// The secret shared with citizen-notify (its `intake.shared_secret`).
    pub shared_secret: service_kit::secret::Secret,
    pub timeout_ms: u64,
    /// Longest wait between two attempts at one notice.
    pub max_backoff_s: u64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            shared_secret: service_kit::secret::Secret::default(),
            timeout_ms: 5_000,
            max_backoff_s: 300,
        }
    }
}

/// Where owners are looked up: the registry tables in central's own database (a mirror of the
/// registration data, the default), or the vehicle registry service over HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySettings {
    /// The registry service's base URL (`GET {url}/api/v1/registrations`); empty: the tables.
    pub url: String,
    /// The bearer key central presents to the registry service.
    pub api_key: service_kit::secret::Secret,
    pub timeout_ms: u64,
    /// Further tries after a timeout or a 5xx, each after a growing wait from `retry_backoff_ms`.
    pub retries: u32,
    pub retry_backoff_ms: u64,
    /// How long an answer (found or not registered) is reused.
    pub cache_ttl_s: u64,
    pub cache_entries: usize,
    /// After this many failed lookups in a row the registry is left alone for `breaker_open_s`.
    pub breaker_failures: u32,
    pub breaker_open_s: u64,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            api_key: service_kit::secret::Secret::default(),
            timeout_ms: 2_000,
            retries: 2,
            retry_backoff_ms: 200,
            cache_ttl_s: 600,
            cache_entries: 50_000,
            breaker_failures: 5,
            breaker_open_s: 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_secret_shows_in_a_printed_configuration() {
        let mut c = Config::default();
        let secret = "a-secret-that-must-not-show";
        c.mqtt.password = Some(secret.into());
        c.evidence.link_secret = secret.into();
        c.evidence.s3.secret_access_key = secret.into();
        c.notify.shared_secret = secret.into();
        c.registry.api_key = secret.into();
        let shown = format!("{c:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn the_session_cookie_is_secure_whenever_central_serves_https() {
        let mut c = Config::default();
        assert!(
            !c.review_settings().secure_cookies,
            "plain HTTP on loopback"
        );
        c.http.tls_cert = Some("central.pem".into());
        c.http.tls_key = Some("central.key".into());
        assert!(c.review_settings().secure_cookies);
        // Behind a TLS proxy the setting says so itself.
        let mut c = Config::default();
        c.review.secure_cookies = true;
        assert!(c.review_settings().secure_cookies);
    }

    #[test]
    fn an_evidence_link_secret_too_short_to_resist_guessing_is_refused() {
        let mut c = Config::default();
        assert!(c.validate().is_ok(), "empty: citizens' links turned off");
        c.evidence.link_secret = "short".into();
        match c.validate() {
            Err(ConfigError::Invalid { field, .. }) => assert_eq!(field, "evidence.link_secret"),
            other => panic!("{other:?}"),
        }
        c.evidence.link_secret = "a link secret of some length".into();
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_embedded_broker_listens_on_loopback_only() {
        let mut c = Config::default();
        c.mqtt.embedded_bind = "0.0.0.0:1884".parse().unwrap_or_else(|e| panic!("{e}"));
        match c.validate() {
            Err(ConfigError::Invalid { field, .. }) => assert_eq!(field, "mqtt.embedded_bind"),
            other => panic!("{other:?}"),
        }
        // With an external broker the setting is not used.
        c.mqtt.url = "mqtts://broker.example:8883".into();
        assert!(c.validate().is_ok());
        // Nor does any broker off this machine without TLS.
        c.mqtt.url = "mqtt://broker.example:1883".into();
        match c.validate() {
            Err(ConfigError::Invalid { field, .. }) => assert_eq!(field, "mqtt.url"),
            other => panic!("{other:?}"),
        }
        c.mqtt.url.clear();
        c.mqtt.embedded_bind = "[::1]:0".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(c.validate().is_ok());
    }
}
