//! Helpers for the end-to-end tests: the project's binaries as real processes, the services on
//! loopback, and the shared real data.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

use anyhow::{Context, bail};

pub mod browser;
mod central;
mod edge;
mod process;

pub use central::*;
pub use edge::*;
pub use process::*;

/// The password the tests give the officers they create.
pub const OFFICER_PASSWORD: &str = "mật khẩu của cán bộ 2025";

/// The root of the workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The path of the project binary `name`, so these tests run the same processes an operator
/// would. The workspace is built first (once per test process) with the same targets and
/// features as `cargo test --workspace --all-targets`, so after that command it is a no-op, and
/// a test run on its own still gets current binaries. With `TVE_TEST_RELEASE` set (the soak
/// run), the release binaries are built and run instead, as a roadside box runs them.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let release = std::env::var_os("TVE_TEST_RELEASE").is_some();
    static BUILT: OnceLock<Mutex<Option<Result<(), String>>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built
        .lock()
        .map_err(|_| anyhow::anyhow!("build lock poisoned"))?;
    let result = built.get_or_insert_with(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let args: &[&str] = if release {
            &["build", "--quiet", "--release", "--workspace", "--bins"]
        } else {
            &["build", "--quiet", "--workspace", "--all-targets"]
        };
        match Command::new(cargo)
            .current_dir(workspace_root())
            .args(args)
            .status()
        {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("cargo build --workspace failed: {status}")),
            Err(e) => Err(format!("running cargo build: {e}")),
        }
    });
    if let Err(e) = result {
        bail!("{e}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target
        .join(if release { "release" } else { "debug" })
        .join(name);
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// The MQTT broker the tests use (Mosquitto on loopback, started by `make deps`).
pub fn mqtt_url() -> String {
    std::env::var("TVE_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into())
}

/// Host and port of [`mqtt_url`].
pub fn mqtt_host_port() -> anyhow::Result<(String, u16)> {
    let url = mqtt_url();
    let rest = url
        .strip_prefix("mqtt://")
        .with_context(|| format!("TVE_TEST_MQTT_URL `{url}` is not mqtt://host:port"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .with_context(|| format!("TVE_TEST_MQTT_URL `{url}` has no port"))?;
    Ok((
        host.to_owned(),
        port.parse().context("TVE_TEST_MQTT_URL port")?,
    ))
}

/// The shared real data (`../shared/data`), or `None` with a message saying the test is skipped.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping {test}: ../shared/data is absent (it holds real data that is not in the repository)"
        );
        None
    }
}

/// A loopback port free now, for a process that must be told its port before it starts.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A name unique to this test run, for topics, devices and databases.
pub fn unique(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// `GET url` without credentials, read as JSON (a stand-in's record, a service's status).
pub fn get_json_at(url: &str) -> anyhow::Result<serde_json::Value> {
    let body = ureq::get(url)
        .call()
        .with_context(|| format!("GET {url}"))?
        .into_body()
        .read_to_string()?;
    Ok(serde_json::from_str(&body)?)
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `seconds`.
pub fn eventually<T>(
    seconds: u64,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if std::time::Instant::now() > deadline {
            bail!("{what} did not happen within {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Sleeps until `secs` after `start`.
pub fn sleep_until(start: std::time::SystemTime, secs: f64) {
    let due = start + std::time::Duration::from_secs_f64(secs);
    if let Ok(wait) = due.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(wait);
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Borrowed pairs of an environment, as [`Service::start`] takes them.
pub fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
