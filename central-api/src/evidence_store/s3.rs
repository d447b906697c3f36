//! Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, a cloud's object storage):
//! plain REST requests (PUT, HEAD, GET of one object) signed with AWS Signature Version 4.
//!
//! Every PUT carries the blob's SHA-256 as its signed `x-amz-content-sha256`, so the store itself
//! refuses a body that changed on the way; the object is written whole or not at all.

use std::{path::PathBuf, time::SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    },
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use protocol::Sha256Digest;
use reqwest::{Method, StatusCode, Url, header};
use serde::{Deserialize, Serialize};
use service_kit::config::ConfigError;

use super::{Backend, StoreError, StoreFuture};

/// The SHA-256 of an empty body, the payload hash of HEAD and GET.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An S3-compatible object store for the evidence (`[evidence.s3]`); evidence stays on the
/// filesystem while `endpoint` is empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// The store's endpoint, `https://HOST[:PORT]` (`http://` on loopback only), e.g.
    /// `https://s3.ap-southeast-1.amazonaws.com` or a MinIO at `https://minio.internal:9000`.
    pub endpoint: String,
    /// The bucket; it must exist (central does not create it).
    pub bucket: String,
    /// The region the requests are signed for (`us-east-1` for most self-hosted stores).
    pub region: String,
    /// Put in front of every object key, e.g. `hcm/` (letters, digits, `/`, `-`, `_`, `.`).
    pub prefix: String,
    /// Address the bucket in the path (`ENDPOINT/BUCKET/KEY`, MinIO and Ceph) rather than as a
    /// host name (`BUCKET.ENDPOINT/KEY`, AWS).
    pub path_style: bool,
    pub access_key_id: String,
    /// Best given in the environment: `CENTRAL__EVIDENCE__S3__SECRET_ACCESS_KEY`.
    pub secret_access_key: service_kit::secret::Secret,
    /// A PEM file of the CA that signed the store's certificate, when not a public one.
    pub ca_file: Option<PathBuf>,
    /// Limit of one request to the store, upload included.
    pub timeout_s: u64,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            prefix: String::new(),
            path_style: true,
            access_key_id: String::new(),
            secret_access_key: service_kit::secret::Secret::default(),
            ca_file: None,
            timeout_s: 120,
        }
    }
}

impl S3Settings {
    pub fn enabled(&self) -> bool {
        !self.endpoint.is_empty()
    }

    /// Checks the settings when a store is configured; each error names its field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        let field = |name: &str| format!("evidence.s3.{name}");
        let url = Url::parse(&self.endpoint)
            .map_err(|e| ConfigError::invalid(field("endpoint"), e.to_string()))?;
        let loopback = service_kit::config::is_loopback_host(url.host_str().unwrap_or_default());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(ConfigError::invalid(
                    field("endpoint"),
                    "evidence and the signed requests would cross the network in the clear: use https://",
                ));
            }
            _ => {
                return Err(ConfigError::invalid(
                    field("endpoint"),
                    "must be https://HOST[:PORT]",
                ));
            }
        }
        if url.host_str().is_none()
            || url.path() != "/"
            || url.query().is_some()
            || !url.username().is_empty()
        {
            return Err(ConfigError::invalid(
                field("endpoint"),
                "must be only a scheme, host and port, e.g. https://s3.example.vn",
            ));
        }
        if !valid_bucket(&self.bucket) {
            return Err(ConfigError::invalid(
                field("bucket"),
                "3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit",
            ));
        }
        if self.region.is_empty() {
            return Err(ConfigError::invalid(field("region"), "must not be empty"));
        }
        if self.prefix.starts_with('/')
            || !self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c))
        {
            return Err(ConfigError::invalid(
                field("prefix"),
                "letters, digits, '/', '-', '_' and '.', not starting with '/'",
            ));
        }
        if self.access_key_id.is_empty() {
            return Err(ConfigError::invalid(
                field("access_key_id"),
                "must not be empty",
            ));
        }
        if self.secret_access_key.is_empty() {
            return Err(ConfigError::invalid(
                field("secret_access_key"),
                "must not be empty (CENTRAL__EVIDENCE__S3__SECRET_ACCESS_KEY)",
            ));
        }
        if self.timeout_s == 0 {
            return Err(ConfigError::invalid(field("timeout_s"), "must be positive"));
        }
        Ok(())
    }
}

fn valid_bucket(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(name.chars().next())
        && edge(name.chars().last())
        && !name.contains("..")
}

/// The object-store backend.
pub struct S3 {
    client: reqwest::Client,
    /// Where the bucket is: the object URLs are this joined with the prefixed key.
    bucket_url: Url,
    bucket: String,
    prefix: String,
    region: String,
    identity: Identity,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl S3 {
    pub fn new(settings: &S3Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        let endpoint = Url::parse(&settings.endpoint)?;
        let mut bucket_url = endpoint.clone();
        if settings.path_style {
            bucket_url.set_path(&format!("/{}/", settings.bucket));
        } else {
            let host = format!(
                "{}.{}",
                settings.bucket,
                endpoint.host_str().unwrap_or_default()
            );
            bucket_url.set_host(Some(&host))?;
        }
        let client = service_kit::tls::client(
            std::time::Duration::from_secs(settings.timeout_s),
            settings.ca_file.as_deref(),
        )?;
        Ok(Self {
            client,
            bucket_url,
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
            region: settings.region.clone(),
            identity: Credentials::new(
                &settings.access_key_id,
                settings.secret_access_key.expose(),
                None,
                None,
                "evidence.s3",
            )
            .into(),
        })
    }

    fn object_url(&self, key: &str) -> Result<Url, StoreError> {
        self.bucket_url
            .join(&format!("{}{key}", self.prefix))
            .map_err(|e| StoreError::Refused(format!("object key {key}: {e}")))
    }

    /// A request of `method` to `url`, signed for a body hashing to `payload_sha256` (hex).
    fn request(
        &self,
        method: Method,
        url: Url,
        payload_sha256: &str,
    ) -> Result<reqwest::RequestBuilder, StoreError> {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| StoreError::Refused(format!("signing: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url.as_str(),
            std::iter::empty(),
            SignableBody::Precomputed(payload_sha256.to_owned()),
        )
        .map_err(|e| StoreError::Refused(format!("signing: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| StoreError::Refused(format!("signing: {e}")))?
            .into_parts();
        let mut request = self.client.request(method, url);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        Ok(request)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, StoreError> {
        request
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(chain(e)))
    }

    /// Checks that the bucket is there and central may use it: a GET of an object that is never
    /// stored must come back "no such key" (which needs `s3:GetObject` and `s3:ListBucket`, as
    /// telling a missing blob from a refusal always does).
    pub async fn check_bucket(&self) -> Result<(), StoreError> {
        let probe = self.object_url(&format!("sha256/00/{}", "0".repeat(64)))?;
        let response = self
            .send(self.request(Method::GET, probe, EMPTY_SHA256)?)
            .await?;
        match response.status() {
            status if status.is_success() => Ok(()),
            StatusCode::NOT_FOUND => {
                let body = service_kit::tls::error_text(response).await;
                if body.contains("<Code>NoSuchBucket</Code>") {
                    Err(StoreError::Refused(format!(
                        "there is no bucket `{}` at {}",
                        self.bucket, self.bucket_url
                    )))
                } else {
                    Ok(())
                }
            }
            StatusCode::FORBIDDEN => match failure(response).await {
                StoreError::Refused(detail) => Err(StoreError::Refused(format!(
                    "{detail} (central needs s3:GetObject, s3:PutObject and s3:ListBucket on \
                     the bucket)"
                ))),
                e => Err(e),
            },
            _ => Err(failure(response).await),
        }
    }
}

impl Backend for S3 {
    fn keep<'a>(
        &'a self,
        key: &'a str,
        sha256: &'a Sha256Digest,
        spooled: &'a std::path::Path,
        size: u64,
        content_type: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let result = async {
                let file = tokio::fs::File::open(spooled).await?;
                let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
                let request = self
                    .request(Method::PUT, self.object_url(key)?, &sha256.to_hex())?
                    .header(header::CONTENT_LENGTH, size)
                    .header(header::CONTENT_TYPE, content_type)
                    .body(body);
                let response = self.send(request).await?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(failure(response).await)
                }
            }
            .await;
            let _ = tokio::fs::remove_file(spooled).await;
            result
        })
    }

    fn size<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<u64>> {
        Box::pin(async move {
            let request = self.request(Method::HEAD, self.object_url(key)?, EMPTY_SHA256)?;
            let response = self.send(request).await?;
            match response.status() {
                StatusCode::NOT_FOUND => Ok(None),
                status if status.is_success() => response
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .map(Some)
                    .ok_or_else(|| {
                        StoreError::Unavailable(format!("HEAD {key}: no Content-Length"))
                    }),
                _ => Err(failure(response).await),
            }
        })
    }

    fn read<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Bytes>> {
        Box::pin(async move {
            let request = self.request(Method::GET, self.object_url(key)?, EMPTY_SHA256)?;
            let response = self.send(request).await?;
            match response.status() {
                StatusCode::NOT_FOUND => Ok(None),
                status if status.is_success() => response
                    .bytes()
                    .await
                    .map(Some)
                    .map_err(|e| StoreError::Unavailable(chain(e))),
                _ => Err(failure(response).await),
            }
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let request = self.request(Method::DELETE, self.object_url(key)?, EMPTY_SHA256)?;
            let response = self.send(request).await?;
            // S3 answers 204 whether or not the object was there.
            match response.status() {
                StatusCode::NOT_FOUND => Ok(()),
                status if status.is_success() => Ok(()),
                _ => Err(failure(response).await),
            }
        })
    }

    fn describe(&self) -> String {
        format!(
            "S3 bucket `{}` at {} (keys prefixed `{}`)",
            self.bucket, self.bucket_url, self.prefix
        )
    }
}

/// What an unsuccessful response says: S3's `<Code>` and `<Message>` when it sent them. A 4xx
/// is a refusal (credentials, permissions, configuration), anything else the store being down.
async fn failure(response: reqwest::Response) -> StoreError {
    let status = response.status();
    let body = service_kit::tls::error_text(response).await;
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_owned())
    };
    let detail = match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_owned(),
    };
    let detail = format!("{} {detail}", status.as_u16());
    if status.is_client_error() {
        StoreError::Refused(detail)
    } else {
        StoreError::Unavailable(detail)
    }
}

/// A transport error with its causes (`error sending request: … : Connection refused`).
fn chain(error: reqwest::Error) -> String {
    format!("{:#}", anyhow::Error::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> S3Settings {
        S3Settings {
            endpoint: "https://s3.example.vn".into(),
            bucket: "tve-evidence".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI-K7MDENG".into(),
            ..S3Settings::default()
        }
    }

    fn refused_field(s: &S3Settings) -> String {
        match s.validate() {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        assert!(S3Settings::default().validate().is_ok(), "off is valid");
        assert!(settings().validate().is_ok());
        let local = S3Settings {
            endpoint: "http://127.0.0.1:9000".into(),
            ..settings()
        };
        assert!(local.validate().is_ok(), "plain HTTP on loopback");
        for (change, field) in [
            (
                S3Settings {
                    endpoint: "http://minio.internal:9000".into(),
                    ..settings()
                },
                "evidence.s3.endpoint",
            ),
            (
                S3Settings {
                    endpoint: "https://s3.example.vn/evidence".into(),
                    ..settings()
                },
                "evidence.s3.endpoint",
            ),
            (
                S3Settings {
                    bucket: "Evidence".into(),
                    ..settings()
                },
                "evidence.s3.bucket",
            ),
            (
                S3Settings {
                    bucket: "ev".into(),
                    ..settings()
                },
                "evidence.s3.bucket",
            ),
            (
                S3Settings {
                    prefix: "/hcm".into(),
                    ..settings()
                },
                "evidence.s3.prefix",
            ),
            (
                S3Settings {
                    secret_access_key: service_kit::secret::Secret::default(),
                    ..settings()
                },
                "evidence.s3.secret_access_key",
            ),
        ] {
            assert_eq!(refused_field(&change), field, "{change:?}");
        }
    }

    #[test]
    fn objects_are_addressed_in_the_path_or_the_host() {
        let path_style = S3::new(&S3Settings {
            prefix: "hcm/".into(),
            ..settings()
        })
        .unwrap();
        assert_eq!(
            path_style.object_url("sha256/ab/abcd").unwrap().as_str(),
            "https://s3.example.vn/tve-evidence/hcm/sha256/ab/abcd"
        );
        let hosted = S3::new(&S3Settings {
            path_style: false,
            ..settings()
        })
        .unwrap();
        assert_eq!(
            hosted.object_url("sha256/ab/abcd").unwrap().as_str(),
            "https://tve-evidence.s3.example.vn/sha256/ab/abcd"
        );
    }

    /// S3 refuses a PUT without a length (411) and checks the body against the signed hash: the
    /// upload streams from disk yet says both.
    #[tokio::test]
    async fn a_put_declares_its_length_and_signed_hash() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let store = S3::new(&S3Settings {
            endpoint: format!("http://{}", listener.local_addr().unwrap()),
            ..settings()
        })
        .unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then the 100 000 bytes of the body.
            let complete = |r: &[u8]| {
                r.windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .is_some_and(|end| r.len() >= end + 4 + 100_000)
            };
            while !complete(&request) {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the body ended early");
                request.extend_from_slice(&buf[..n]);
            }
            let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            request.truncate(end + 4);
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&request).to_lowercase()
        });
        let dir = tempfile::tempdir().unwrap();
        let spooled = dir.path().join("blob");
        let body = vec![7u8; 100_000];
        std::fs::write(&spooled, &body).unwrap();
        let sha = Sha256Digest::of(&body);
        store
            .keep(
                "sha256/ab/abcd",
                &sha,
                &spooled,
                body.len() as u64,
                "video/mp4",
            )
            .await
            .unwrap();
        let head = server.await.unwrap();
        assert!(
            head.starts_with("put /tve-evidence/sha256/ab/abcd http/1.1"),
            "{head}"
        );
        assert!(head.contains("content-length: 100000\r\n"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert!(
            head.contains(&format!("x-amz-content-sha256: {}", sha.to_hex())),
            "{head}"
        );
        assert!(
            head.contains("authorization: aws4-hmac-sha256 credential=akiaexample/"),
            "{head}"
        );
        assert!(head.contains("content-type: video/mp4"), "{head}");
        assert!(!spooled.exists(), "the spooled file is gone once kept");
    }

    #[test]
    fn the_secret_stays_out_of_the_log() {
        let text = format!("{:?}", settings());
        assert!(!text.contains("wJalr"), "{text}");
        assert!(text.contains("AKIAEXAMPLE"));
    }
}
