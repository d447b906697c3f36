//! Helpers for the end-to-end tests: the project's binaries as real processes, the services on
//! loopback, and the shared real data.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

use anyhow::{Context, bail};

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
/// a test run on its own still gets current binaries.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Mutex<Option<Result<(), String>>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built
        .lock()
        .map_err(|_| anyhow::anyhow!("build lock poisoned"))?;
    let result = built.get_or_insert_with(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        match Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--quiet", "--workspace", "--all-targets"])
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
    let path = target.join("debug").join(name);
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

/// A name unique to this test run, for topics, devices and databases.
pub fn unique(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A project binary running as a service: its process and the address its HTTP server logged.
#[derive(Debug)]
pub struct Service {
    pub child: std::process::Child,
    pub addr: String,
    pub name: String,
}

impl Service {
    /// Starts `name` with `args` and `env`, in `dir`, and waits (at most 30 s) for it to log
    /// where its HTTP server listens.
    pub fn start(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: &Path,
    ) -> anyhow::Result<Self> {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(binary(name)?)
            .current_dir(dir)
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stderr = child
            .stderr
            .take()
            .context("the service's standard error")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let label = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("TVE_TEST_SHOW_LOGS").is_some() {
                    eprintln!("[{label}] {line}");
                }
                if line.contains(" listening ")
                    && line.contains("service=")
                    && let Some(addr) = line
                        .split_whitespace()
                        .find_map(|word| word.strip_prefix("addr="))
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .with_context(|| format!("{name} did not log its listen address within 30 s"))?;
        Ok(Self {
            child,
            addr,
            name: name.to_owned(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM and waits (at most 20 s) for the process to exit.
    pub fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.name);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("{} did not stop within 20 s of SIGTERM", self.name);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
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
