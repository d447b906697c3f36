//! An S3-compatible object store of a test's own: moto's server (installed by `make deps` into
//! `.venv-test`), which checks every request's SigV4 signature against the access key it issued.
//! Its first four requests go unchecked; they make the user `central`, its key, its policy
//! (everything on S3) and the bucket `evidence`.

use std::process::{Child, Command, Stdio};

use central_api::evidence_store::S3Settings;

#[derive(Debug)]
pub struct ObjectStore {
    child: Child,
    pub endpoint: String,
    access_key_id: String,
    secret_access_key: String,
}

pub const BUCKET: &str = "evidence";

impl ObjectStore {
    pub async fn start() -> Self {
        let server = std::env::var("TVE_TEST_S3_SERVER").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-test/bin/moto_server").into()
        });
        assert!(
            std::path::Path::new(&server).exists(),
            "{server} is missing: `make deps` installs the S3 test server"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {server}: {e}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while http
            .get(format!("{endpoint}/moto-api/"))
            .send()
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the S3 test server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Unsigned set-up; moto routes a request by the service named in its credential scope.
        let unsigned = |service: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential=SETUP/20260101/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host, Signature=0"
            )
        };
        let iam = |form: &[(&str, &str)]| {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .append_pair("Version", "2010-05-08")
                .finish();
            http.post(format!("{endpoint}/"))
                .header("authorization", unsigned("iam"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };
        let ok = |r: reqwest::Response| {
            assert!(r.status().is_success(), "S3 test server set-up: {r:?}");
            r
        };
        ok(iam(&[("Action", "CreateUser"), ("UserName", "central")])
            .await
            .unwrap());
        let key = ok(
            iam(&[("Action", "CreateAccessKey"), ("UserName", "central")])
                .await
                .unwrap(),
        )
        .text()
        .await
        .unwrap();
        let element = |name: &str| {
            let start = key.find(&format!("<{name}>")).unwrap() + name.len() + 2;
            let end = key.find(&format!("</{name}>")).unwrap();
            key[start..end].to_owned()
        };
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        ok(iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "central"),
            ("PolicyName", "evidence"),
            ("PolicyDocument", policy),
        ])
        .await
        .unwrap());
        ok(http
            .put(format!("{endpoint}/{BUCKET}"))
            .header("authorization", unsigned("s3"))
            .send()
            .await
            .unwrap());
        Self {
            child,
            endpoint,
            access_key_id: element("AccessKeyId"),
            secret_access_key: element("SecretAccessKey"),
        }
    }

    /// Central's settings for this store, its keys under `prefix`.
    pub fn settings(&self, prefix: &str) -> S3Settings {
        S3Settings {
            endpoint: self.endpoint.clone(),
            bucket: BUCKET.into(),
            prefix: prefix.into(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone().into(),
            timeout_s: 10,
            ..S3Settings::default()
        }
    }

    /// Stops the server (as a store that went down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ObjectStore {
    fn drop(&mut self) {
        self.stop();
    }
}
