//! Layered configuration: built-in defaults, then a TOML file, then environment variables.
//!
//! An environment variable `PREFIX__SECTION__KEY` sets `section.key` (`CENTRAL__HTTP__BIND` sets
//! `http.bind`). Unknown keys are refused, in the file and in the environment alike, and every
//! error names the field and where its value came from.

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Serialize, de::DeserializeOwned};

/// A binary's typed configuration.
pub trait Settings: Serialize + DeserializeOwned + Default {
    /// Checks what types cannot express; the error names the field.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} cannot be read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration: `{field}` {reason}")]
    Invalid { field: String, reason: String },
    #[error("configuration cannot be printed: {0}")]
    Print(String),
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Loads `S` from its defaults, the file at `path` (when given) and the environment variables
/// that start with `{env_prefix}__`, then validates it.
pub fn load<S: Settings>(env_prefix: &str, path: Option<&Path>) -> Result<S, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(S::default()));
    if let Some(path) = path {
        // Read it here so a missing file is an error, not an empty layer.
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        figment = figment.merge(Toml::string(&text));
    }
    figment = figment.merge(Env::prefixed(&format!("{env_prefix}__")).split("__"));
    let settings: S = figment
        .extract()
        .map_err(|e| ConfigError::Parse(describe(e, env_prefix)))?;
    settings.validate()?;
    Ok(settings)
}

/// Every error of a figment extraction, each with its key and source.
fn describe(error: figment::Error, env_prefix: &str) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("`{}`: ", e.path.join("."))
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(source) => format!(" (from {} {source})", m.name),
                    // Name the variable itself: `CENTRAL__HTTP__BIND`.
                    None if !e.path.is_empty() && m.name.contains("environment") => format!(
                        " (from environment variable {env_prefix}__{})",
                        e.path.join("__").to_uppercase()
                    ),
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The defaults as a TOML document, for `--print-default-config`.
pub fn default_toml<S: Settings>() -> Result<String, ConfigError> {
    toml::to_string_pretty(&S::default()).map_err(|e| ConfigError::Print(e.to_string()))
}

/// Whether the host of a URL (`localhost`, `127.0.0.1`, `[::1]`) is this machine: where a
/// setting may let a secret go without TLS.
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The fewest bytes a secret shared between two parties may have (an HMAC key: 128 bits).
pub const MIN_SECRET_BYTES: usize = 16;

/// Refuses a shared secret shorter than [`MIN_SECRET_BYTES`] unless it is empty (the feature it
/// signs for is off): a short secret can be guessed offline from one signed value.
pub fn check_secret(field: &str, secret: &str) -> Result<(), ConfigError> {
    if !secret.is_empty() && secret.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::invalid(
            field,
            format!("must be at least {MIN_SECRET_BYTES} bytes (or empty to turn it off)"),
        ));
    }
    Ok(())
}

/// Checks that a broker at `host`, reached over TLS or not (`tls`), is reached in the clear
/// only on this machine: plates, device credentials and the broker's password never cross the
/// network unencrypted (the events are signed, but signing hides nothing).
pub fn check_broker(field: &str, tls: bool, host: &str) -> Result<(), ConfigError> {
    if tls || is_loopback_host(host) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        "would cross the network in the clear: use mqtts:// (mqtt:// only to this machine)",
    ))
}

/// Checks that the URL of setting `field` is `https://`, or `http://` to this machine only:
/// what the services send each other and citizens' browsers (signed notices, owners' data,
/// payments, sign-ins) never crosses the network in the clear. A service behind a TLS proxy on
/// the same machine is reached on loopback.
pub fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ConfigError::invalid(field, format!("`{url}` is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(parsed.host_str().unwrap_or_default()) => Ok(()),
        "http" => Err(ConfigError::invalid(
            field,
            "would cross the network in the clear: use https:// (http:// only to this machine)",
        )),
        _ => Err(ConfigError::invalid(field, "must be an https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use std::{io::Write, net::SocketAddr};

    use serde::Deserialize;

    use super::*;

    #[test]
    fn a_url_is_https_or_plain_to_this_machine_only() {
        for ok in [
            "https://notify.csgt.example.vn",
            "https://10.1.2.3:8443/x",
            "http://127.0.0.1:8090",
            "http://localhost:8090/api",
            "http://[::1]:9000",
        ] {
            assert!(check_url("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://notify.csgt.example.vn",
            "http://10.1.2.3:8090",
            "ftp://127.0.0.1",
            "notify.csgt.example.vn",
            "",
        ] {
            assert!(
                matches!(check_url("f", bad), Err(ConfigError::Invalid { ref field, .. }) if field == "f"),
                "{bad}"
            );
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Demo {
        http: Http,
        name: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Http {
        bind: SocketAddr,
        timeout_ms: u64,
    }

    impl Default for Demo {
        fn default() -> Self {
            Self {
                http: Http::default(),
                name: "demo".into(),
            }
        }
    }

    impl Default for Http {
        fn default() -> Self {
            Self {
                bind: "127.0.0.1:8080".parse().unwrap(),
                timeout_ms: 5000,
            }
        }
    }

    impl Settings for Demo {
        fn validate(&self) -> Result<(), ConfigError> {
            if self.http.timeout_ms == 0 {
                return Err(ConfigError::invalid("http.timeout_ms", "must be positive"));
            }
            Ok(())
        }
    }

    /// Loads with exactly the `KIT__` variables `vars` set; figment's jail restores the
    /// environment afterwards and serialises the tests that use it.
    #[allow(clippy::result_large_err)] // figment's own error type, in its jail closure
    fn load_with(vars: &[(&str, &str)], path: Option<&Path>) -> Result<Demo, ConfigError> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            for (key, value) in vars {
                jail.set_env(key, value);
            }
            out = Some(load::<Demo>("KIT", path));
            Ok(())
        });
        out.expect("the jail ran the closure")
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_then_file_then_environment() {
        assert_eq!(load_with(&[], None).unwrap(), Demo::default());
        let f = file("name = \"from-file\"\n[http]\ntimeout_ms = 10\n");
        let loaded = load_with(&[], Some(f.path())).unwrap();
        assert_eq!(loaded.name, "from-file");
        assert_eq!(loaded.http.timeout_ms, 10);
        assert_eq!(loaded.http.bind, Http::default().bind);

        let vars = [
            ("KIT__HTTP__BIND", "0.0.0.0:9000"),
            ("KIT__HTTP__TIMEOUT_MS", "250"),
        ];
        let loaded = load_with(&vars, Some(f.path())).unwrap();
        assert_eq!(loaded.http.bind, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(loaded.http.timeout_ms, 250);
        assert_eq!(loaded.name, "from-file");
    }

    #[test]
    fn errors_name_the_field_and_its_source() {
        let f = file("[http]\nbind = \"not an address\"\n");
        let e = load_with(&[], Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("http.bind"), "{e}");

        let f = file("[http]\nport = 1\n");
        let e = load_with(&[], Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("port"), "{e}");

        let e = load_with(&[("KIT__HTTP__TIMEOUT_MS", "soon")], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http.timeout_ms") && e.contains("KIT__HTTP__TIMEOUT_MS"),
            "{e}"
        );
        let e = load_with(&[("KIT__HTTP__TIMEOUT_MS", "0")], None).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { ref field, .. } if field == "http.timeout_ms"));
        let e = load_with(&[("KIT__NAMEE", "typo")], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("namee"), "{e}");

        let missing = Path::new("/nonexistent/tve.toml");
        assert!(matches!(
            load_with(&[], Some(missing)),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn default_config_prints_and_loads_back() {
        let text = default_toml::<Demo>().unwrap();
        assert!(
            text.contains("[http]") && text.contains("timeout_ms = 5000"),
            "{text}"
        );
        let f = file(&text);
        assert_eq!(load_with(&[], Some(f.path())).unwrap(), Demo::default());
    }
}
