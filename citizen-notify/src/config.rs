//! The typed configuration of `citizen-notify`: defaults that run on a laptop, a TOML file, and
//! `NOTIFY__…` environment overrides.

use serde::{Deserialize, Serialize};
pub use service_kit::db::DatabaseSettings;
use service_kit::{ConfigError, Settings, http::HttpSettings};

/// Default HTTP port on loopback.
pub const DEFAULT_PORT: u16 = 8090;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The citizen portal, the intake API, health (`/healthz`) and metrics (`/metrics`).
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub intake: IntakeSettings,
    pub payment: PaymentSettings,
    pub portal: PortalSettings,
    pub delivery: DeliverySettings,
    pub central: CentralSettings,
    /// How long the notices of closed cases are kept (`docs/privacy.md`).
    pub retention: crate::retention::RetentionSettings,
    /// The key that seals the citizens' data in the database (`docs/privacy.md`).
    pub sealing: SealingSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpSettings::loopback(DEFAULT_PORT),
            database: DatabaseSettings::sqlite("data/notify/notify.db"),
            intake: IntakeSettings::default(),
            payment: PaymentSettings::default(),
            portal: PortalSettings::default(),
            delivery: DeliverySettings::default(),
            central: CentralSettings::default(),
            retention: Default::default(),
            sealing: SealingSettings::default(),
        }
    }
}

impl Config {
    /// The portal's settings in force: served over HTTPS by this service itself, the session
    /// and sign-in cookies are `Secure` whatever `portal.secure_cookies` says.
    pub fn portal_settings(&self) -> PortalSettings {
        let mut portal = self.portal.clone();
        portal.secure_cookies |= self.http.tls();
        portal
    }
}

impl Settings for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        self.database.validate()?;
        for (field, secret) in [
            ("intake.shared_secret", &self.intake.shared_secret),
            ("payment.hash_secret", &self.payment.hash_secret),
            (
                "portal.evidence_link_secret",
                &self.portal.evidence_link_secret,
            ),
        ] {
            service_kit::config::check_secret(field, secret.expose())?;
        }
        self.payment.validate()?;
        self.portal.validate()?;
        self.delivery.validate()?;
        self.retention.validate()?;
        if !self.central.url.is_empty() {
            http_urls(&[("central.url", &self.central.url)])?;
            if self.intake.shared_secret.is_empty() {
                return Err(ConfigError::invalid(
                    "intake.shared_secret",
                    "reports to central.url are signed with it: set it",
                ));
            }
        }
        Ok(())
    }
}

/// Where the key that seals the citizens' data at rest is kept ([`crate::db::at_rest`]):
/// apart from the database, its backups and replicas. Made at the first start (64 hex digits,
/// readable by the service's account only); to rotate it, move the file aside, name it in
/// `old_key_files` and restart: the start seals everything again under the new key, and the
/// old file may be destroyed once a start logs none left under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SealingSettings {
    pub key_file: std::path::PathBuf,
    /// Keys the data was sealed under before `key_file` was rotated.
    pub old_key_files: Vec<std::path::PathBuf>,
}

impl Default for SealingSettings {
    fn default() -> Self {
        Self {
            key_file: "data/notify/secrets.key".into(),
            old_key_files: Vec::new(),
        }
    }
}

impl SealingSettings {
    /// The key files with the names of their settings.
    pub fn key_files(&self) -> service_kit::sealed::KeyFiles<'_> {
        service_kit::sealed::KeyFiles {
            current_field: "sealing.key_file",
            current: &self.key_file,
            former_field: "sealing.old_key_files",
            former: &self.old_key_files,
        }
    }
}

/// Notices from central-api.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeSettings {
    /// The secret shared with central-api (its `notify.shared_secret`); empty refuses every
    /// notice, so no service runs with a secret anyone knows.
    pub shared_secret: service_kit::secret::Secret,
    /// How far a request's time may be from this server's clock.
    pub max_clock_skew_s: u64,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            shared_secret: service_kit::secret::Secret::default(),
            max_clock_skew_s: 300,
        }
    }
}

/// Online payment through a VNPay-protocol gateway (version 2.1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentSettings {
    /// The gateway's payment page (`…/paymentv2/vpcpay.html`).
    pub gateway_url: String,
    /// The gateway's query API (`…/merchant_webapi/api/transaction`).
    pub query_url: String,
    /// The terminal code the gateway gave this merchant (`vnp_TmnCode`).
    pub tmn_code: String,
    /// The hash secret the gateway gave this merchant; empty turns payment off.
    pub hash_secret: service_kit::secret::Secret,
    /// Where the gateway sends the citizen back: this service's `/payment/vnpay/return`, as
    /// the citizen's browser reaches it.
    pub return_url: String,
    /// How long a payment link is good for.
    pub expire_minutes: u32,
    /// A payment with no result this long after it began is asked of the gateway ...
    pub reconcile_after_s: u64,
    /// ... by a sweep this often.
    pub reconcile_every_s: u64,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            gateway_url: "http://127.0.0.1:8099/paymentv2/vpcpay.html".into(),
            query_url: "http://127.0.0.1:8099/merchant_webapi/api/transaction".into(),
            tmn_code: "TVESBX01".into(),
            hash_secret: service_kit::secret::Secret::default(),
            return_url: format!("http://127.0.0.1:{DEFAULT_PORT}/payment/vnpay/return"),
            expire_minutes: 15,
            reconcile_after_s: 300,
            reconcile_every_s: 60,
        }
    }
}

impl PaymentSettings {
    pub fn enabled(&self) -> bool {
        !self.hash_secret.is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        http_urls(&[
            ("payment.gateway_url", &self.gateway_url),
            ("payment.query_url", &self.query_url),
            ("payment.return_url", &self.return_url),
        ])?;
        if self.tmn_code.is_empty() || self.tmn_code.len() > 8 {
            return Err(ConfigError::invalid(
                "payment.tmn_code",
                "must be 1-8 characters",
            ));
        }
        if self.expire_minutes == 0 || self.reconcile_every_s == 0 {
            return Err(ConfigError::invalid(
                "payment.expire_minutes",
                "expire_minutes and reconcile_every_s must be positive",
            ));
        }
        Ok(())
    }
}

/// The citizen portal's sign-in through an OpenID Connect provider (VNeID's role).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalSettings {
    /// The provider's issuer URL (its discovery document is under
    /// `/.well-known/openid-configuration`); empty turns sign-in off.
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: service_kit::secret::Secret,
    /// This service's `/auth/callback`, as the citizen's browser reaches it (registered with the
    /// provider).
    pub redirect_url: String,
    /// How long a citizen stays signed in.
    pub session_minutes: u32,
    /// Session cookies only over HTTPS: set it behind a proxy that terminates TLS (always so
    /// when this service serves HTTPS itself, `http.tls_cert`).
    pub secure_cookies: bool,
    /// central-api's public base URL, where citizens' browsers fetch the evidence of their
    /// fines; empty shows no evidence.
    pub evidence_url: String,
    /// The secret shared with central-api (its `evidence.link_secret`) that signs those links.
    pub evidence_link_secret: service_kit::secret::Secret,
    /// How long an evidence link stays good.
    pub evidence_link_minutes: u32,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            issuer_url: String::new(),
            client_id: "citizen-portal".into(),
            client_secret: service_kit::secret::Secret::default(),
            redirect_url: format!("http://127.0.0.1:{DEFAULT_PORT}/auth/callback"),
            session_minutes: 30,
            secure_cookies: false,
            evidence_url: String::new(),
            evidence_link_secret: service_kit::secret::Secret::default(),
            evidence_link_minutes: 10,
        }
    }
}

impl PortalSettings {
    pub fn enabled(&self) -> bool {
        !self.issuer_url.is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        http_urls(&[
            ("portal.issuer_url", &self.issuer_url),
            ("portal.redirect_url", &self.redirect_url),
        ])?;
        if !self.evidence_url.is_empty() {
            // Citizens' browsers fetch their evidence there, over the open network.
            http_urls(&[("portal.evidence_url", &self.evidence_url)])?;
        }
        if self.client_id.is_empty() || self.client_secret.is_empty() {
            return Err(ConfigError::invalid(
                "portal.client_secret",
                "client_id and client_secret are required with an issuer",
            ));
        }
        if self.session_minutes == 0 {
            return Err(ConfigError::invalid(
                "portal.session_minutes",
                "must be positive",
            ));
        }
        Ok(())
    }
}

/// Delivery of notices to the citizen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// The citizen-app backend's push endpoint; empty: no push.
    pub push_url: String,
    /// The secret shared with the app backend, for the HMAC on each push.
    pub push_secret: service_kit::secret::Secret,
    /// The SMS gateway's send endpoint; empty: no SMS. A notice goes by SMS too when the
    /// registry has the owner's mobile number.
    pub sms_url: String,
    /// The gateway's API key (sent as a bearer token).
    pub sms_api_key: service_kit::secret::Secret,
    /// The registered sender name (brandname) the messages come from.
    pub sms_sender: String,
    /// The mail relay e-mail notices are submitted to: `smtps://HOST[:465]` (TLS from the
    /// start), `smtp://HOST[:587]?tls=required` (STARTTLS, refused without it), or
    /// `smtp://HOST[:25]` in the clear (loopback only when credentials are set). Empty: no
    /// e-mail. A notice goes by e-mail too when the registry has the owner's address.
    pub smtp_url: String,
    /// Credentials for the relay (`AUTH`), when it asks for them.
    pub smtp_username: String,
    pub smtp_password: service_kit::secret::Secret,
    /// The sender of e-mail notices, `Name <address>`.
    pub email_from: String,
    /// The portal's public base URL, for the link in each message.
    pub portal_url: String,
    /// Attempts before a delivery fails for good.
    pub max_attempts: u32,
    /// The longest wait between attempts.
    pub max_backoff_s: u64,
    pub timeout_ms: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            push_url: String::new(),
            push_secret: service_kit::secret::Secret::default(),
            sms_url: String::new(),
            sms_api_key: service_kit::secret::Secret::default(),
            sms_sender: "CSGT".into(),
            smtp_url: String::new(),
            smtp_username: String::new(),
            smtp_password: service_kit::secret::Secret::default(),
            email_from: "Cảnh sát giao thông <thongbao@localhost>".into(),
            portal_url: format!("http://127.0.0.1:{DEFAULT_PORT}"),
            max_attempts: 8,
            max_backoff_s: 600,
            timeout_ms: 10_000,
        }
    }
}

impl DeliverySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        http_urls(&[("delivery.portal_url", &self.portal_url)])?;
        if !self.sms_url.is_empty() {
            http_urls(&[("delivery.sms_url", &self.sms_url)])?;
            if self.sms_api_key.is_empty() || self.sms_sender.is_empty() {
                return Err(ConfigError::invalid(
                    "delivery.sms_api_key",
                    "sms_api_key and sms_sender are required with sms_url",
                ));
            }
        }
        if !self.smtp_url.is_empty() {
            self.validate_email()?;
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "delivery.max_attempts",
                "must be positive",
            ));
        }
        if self.push_url.is_empty() {
            return Ok(());
        }
        http_urls(&[("delivery.push_url", &self.push_url)])?;
        if self.push_secret.len() < service_kit::config::MIN_SECRET_BYTES {
            return Err(ConfigError::invalid(
                "delivery.push_secret",
                "must be at least 16 bytes when delivery.push_url is set",
            ));
        }
        Ok(())
    }

    fn validate_email(&self) -> Result<(), ConfigError> {
        let url = reqwest::Url::parse(&self.smtp_url)
            .map_err(|e| ConfigError::invalid("delivery.smtp_url", e.to_string()))?;
        let tls = match (url.scheme(), url.query()) {
            ("smtps", _) => true,
            ("smtp", Some("tls=required")) => true,
            ("smtp", None) => false,
            _ => {
                return Err(ConfigError::invalid(
                    "delivery.smtp_url",
                    "must be smtps://HOST[:PORT], smtp://HOST[:PORT]?tls=required or smtp://HOST[:PORT]",
                ));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::invalid(
                "delivery.smtp_url",
                "give the credentials in delivery.smtp_username and delivery.smtp_password",
            ));
        }
        let loopback = service_kit::config::is_loopback_host(url.host_str().unwrap_or_default());
        if !self.smtp_username.is_empty() && !tls && !loopback {
            return Err(ConfigError::invalid(
                "delivery.smtp_url",
                "the relay's password would cross the network in the clear: use smtps:// or ?tls=required",
            ));
        }
        if self.smtp_username.is_empty() != self.smtp_password.is_empty() {
            return Err(ConfigError::invalid(
                "delivery.smtp_password",
                "smtp_username and smtp_password go together",
            ));
        }
        self.email_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| ConfigError::invalid("delivery.email_from", e.to_string()))?;
        Ok(())
    }
}

/// Where reports on each fine go: central-api (signed with `intake.shared_secret`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CentralSettings {
    /// central-api's base URL; empty keeps the reports in the outbox.
    pub url: String,
    pub timeout_ms: u64,
    pub max_backoff_s: u64,
}

impl Default for CentralSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            timeout_ms: 10_000,
            max_backoff_s: 600,
        }
    }
}

/// Each `(field, value)` must be an http(s) URL.
/// Each URL `https://`, or `http://` to this machine only ([`service_kit::config::check_url`]).
fn http_urls(urls: &[(&str, &String)]) -> Result<(), ConfigError> {
    for (field, url) in urls {
        service_kit::config::check_url(field, url)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_secret_shows_in_a_printed_configuration() {
        let mut c = Config::default();
        let secret = "a-secret-that-must-not-show";
        c.intake.shared_secret = secret.into();
        c.payment.hash_secret = secret.into();
        c.portal.client_secret = secret.into();
        c.portal.evidence_link_secret = secret.into();
        c.delivery.push_secret = secret.into();
        c.delivery.sms_api_key = secret.into();
        c.delivery.smtp_password = secret.into();
        let shown = format!("{c:?}");
        assert!(!shown.contains(secret), "{shown}");
    }

    fn field_of(c: &Config) -> Option<String> {
        match c.validate() {
            Err(ConfigError::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn cookies_are_secure_whenever_the_portal_serves_https() {
        let mut c = Config::default();
        assert!(
            !c.portal_settings().secure_cookies,
            "plain HTTP on loopback"
        );
        c.http.tls_cert = Some("portal.pem".into());
        c.http.tls_key = Some("portal.key".into());
        assert!(c.portal_settings().secure_cookies);
        // Behind a TLS proxy the setting says so itself.
        let mut c = Config::default();
        c.portal.secure_cookies = true;
        assert!(c.portal_settings().secure_cookies);
    }

    #[test]
    fn evidence_links_for_citizens_never_go_out_in_the_clear() {
        let mut c = Config::default();
        c.portal.issuer_url = "https://sso.example.vn".into();
        c.portal.client_secret = "the portal's client secret".into();
        c.portal.redirect_url = "https://phatnguoi.example.vn/auth/callback".into();
        assert_eq!(field_of(&c), None);
        c.portal.evidence_url = "http://central.csgt.example.vn".into();
        assert_eq!(field_of(&c).as_deref(), Some("portal.evidence_url"));
        c.portal.evidence_url = "https://central.csgt.example.vn".into();
        assert_eq!(field_of(&c), None);
    }

    #[test]
    fn shared_secrets_too_short_to_resist_guessing_are_refused() {
        let mut c = Config::default();
        c.payment.hash_secret = "secret".into();
        assert_eq!(field_of(&c).as_deref(), Some("payment.hash_secret"));
        c.payment.hash_secret = "the merchant's hash secret".into();
        c.portal.evidence_link_secret = "link".into();
        assert_eq!(field_of(&c).as_deref(), Some("portal.evidence_link_secret"));
        c.portal.evidence_link_secret = "a link secret of some length".into();
        assert_eq!(field_of(&c), None);
    }

    #[test]
    fn payment_and_sign_in_settings_are_checked_when_turned_on() {
        let mut c = Config::default();
        assert_eq!(field_of(&c), None, "off by default, and valid");
        c.payment.hash_secret = "the merchant's hash secret".into();
        assert_eq!(
            field_of(&c),
            None,
            "the defaults point at the local sandbox"
        );
        c.payment.query_url = "ftp://gateway".into();
        assert_eq!(field_of(&c).as_deref(), Some("payment.query_url"));
        c.payment = PaymentSettings::default();
        c.portal.issuer_url = "https://sso.example.vn".into();
        assert_eq!(field_of(&c).as_deref(), Some("portal.client_secret"));
        c.portal.client_secret = "s".into();
        c.portal.redirect_url = "portal/callback".into();
        assert_eq!(field_of(&c).as_deref(), Some("portal.redirect_url"));
    }

    #[test]
    fn payments_sign_ins_and_notices_never_cross_the_network_in_the_clear() {
        let mut c = Config::default();
        c.payment.hash_secret = "the merchant's hash secret".into();
        for (field, set) in [
            (
                "payment.gateway_url",
                (|c: &mut Config| c.payment.gateway_url = "http://pay.vnpay.vn/vpcpay.html".into())
                    as fn(&mut Config),
            ),
            ("portal.issuer_url", |c: &mut Config| {
                c.portal.issuer_url = "http://sso.example.vn".into();
                c.portal.client_secret = "s".into();
            }),
            ("delivery.push_url", |c: &mut Config| {
                c.delivery.push_url = "http://app.example.vn/push".into();
            }),
        ] {
            let mut bad = c.clone();
            set(&mut bad);
            assert_eq!(field_of(&bad).as_deref(), Some(field));
        }
        c.payment.gateway_url = "https://pay.vnpay.vn/vpcpay.html".into();
        c.payment.return_url = "http://[::1]:8090/payment/vnpay/return".into();
        assert_eq!(field_of(&c), None, "https, or http to this machine");
    }

    #[test]
    fn a_mail_relay_password_never_crosses_the_network_in_the_clear() {
        let mut c = Config::default();
        c.delivery.smtp_url = "smtp://mail.csgt.example.vn".into();
        assert_eq!(field_of(&c), None, "an open relay in the clear");
        c.delivery.smtp_username = "notices".into();
        c.delivery.smtp_password = "secret".into();
        assert_eq!(field_of(&c).as_deref(), Some("delivery.smtp_url"));
        for ok in [
            "smtps://mail.csgt.example.vn",
            "smtp://mail.csgt.example.vn:587?tls=required",
            "smtp://127.0.0.1:2525",
        ] {
            c.delivery.smtp_url = ok.into();
            assert_eq!(field_of(&c), None, "{ok}");
        }
        c.delivery.smtp_url = "smtp://notices:secret@127.0.0.1:2525".into();
        assert_eq!(field_of(&c).as_deref(), Some("delivery.smtp_url"));
        c.delivery.smtp_url = "smtp://mail.csgt.example.vn?tls=opportunistic".into();
        assert_eq!(field_of(&c).as_deref(), Some("delivery.smtp_url"));
        c.delivery.smtp_url = "smtps://mail.csgt.example.vn".into();
        c.delivery.smtp_password = Default::default();
        assert_eq!(field_of(&c).as_deref(), Some("delivery.smtp_password"));
        c.delivery.smtp_password = "secret".into();
        c.delivery.email_from = "not an address".into();
        assert_eq!(field_of(&c).as_deref(), Some("delivery.email_from"));
    }
}
