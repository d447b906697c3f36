//! Helpers for the end-to-end tests: the project's binaries as real processes, the services on
//! loopback, and the shared real data.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
};

use anyhow::{Context, bail};
use protocol::{Ack, DeviceId, DeviceKey, Topic, ViolationEvent, wire};

pub mod browser;

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

/// A project binary running as a service: its process, the address its HTTP server logged, and
/// its log.
#[derive(Debug)]
pub struct Service {
    pub child: std::process::Child,
    pub addr: String,
    pub name: String,
    log: Arc<Mutex<Vec<String>>>,
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
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
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
                if let Ok(mut kept) = kept.lock() {
                    kept.push(line);
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
            log,
        })
    }

    /// The value of the field `field=` in every log line so far that contains `message`, e.g.
    /// the `event` of each `violation stored`.
    pub fn logged(&self, message: &str, field: &str) -> Vec<String> {
        let prefix = format!("{field}=");
        self.log
            .lock()
            .map(|lines| {
                lines
                    .iter()
                    .filter(|l| l.contains(message))
                    .filter_map(|l| {
                        l.split_whitespace()
                            .find_map(|w| w.strip_prefix(prefix.as_str()))
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The lines of the service's log so far that contain any of `needles` (personal data a
    /// log must never hold, say).
    pub fn lines_with(&self, needles: &[String]) -> Vec<String> {
        self.log
            .lock()
            .map(|lines| {
                lines
                    .iter()
                    .filter(|l| needles.iter().any(|n| l.contains(n.as_str())))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The last `n` lines of the service's log, for a failure report.
    pub fn log_tail(&self, n: usize) -> String {
        self.log
            .lock()
            .map(|lines| lines[lines.len().saturating_sub(n)..].join("\n"))
            .unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` as a bearer of `token`, read as JSON.
    pub fn get_json(&self, path: &str, token: &str) -> anyhow::Result<serde_json::Value> {
        let body = ureq::get(&self.url(path))
            .header("authorization", &format!("Bearer {token}"))
            .call()
            .with_context(|| format!("GET {path}"))?
            .into_body()
            .read_to_string()?;
        Ok(serde_json::from_str(&body)?)
    }

    /// `POST path` with a JSON `body`, as a bearer of `token` if given, read as JSON.
    pub fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let mut request = ureq::post(&self.url(path)).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let text = request
            .send(body)
            .with_context(|| format!("POST {path}"))?
            .into_body()
            .read_to_string()?;
        Ok(serde_json::from_str(&text)?)
    }

    /// A bearer token of the officer `reviewer` of [`seed_central`], from central's sign-in.
    pub fn reviewer_token(&self) -> anyhow::Result<String> {
        self.token_of("reviewer")
    }

    /// A bearer token of the officer `username` of [`seed_central`] (`reviewer`, `supervisor`
    /// or `chief`, who holds sanctioning authority), from central's sign-in.
    pub fn token_of(&self, username: &str) -> anyhow::Result<String> {
        let body = format!(r#"{{"username":"{username}","password":"{OFFICER_PASSWORD}"}}"#);
        let session = self.post_json("/api/v1/session", None, &body)?;
        session["token"]
            .as_str()
            .map(str::to_owned)
            .context("the session has no token")
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

/// A process that is killed when the test ends, however it ends.
#[derive(Debug)]
pub struct Running(pub Child);

impl Running {
    /// Starts a project binary with its output discarded.
    pub fn binary(name: &str, args: &[&str], dir: &Path) -> Self {
        Self::command(
            Command::new(binary(name).unwrap_or_else(|e| panic!("{e:#}")))
                .current_dir(dir)
                .args(args),
        )
    }

    /// Starts `command` with its input and output discarded.
    pub fn command(command: &mut Command) -> Self {
        Self(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {command:?}: {e}")),
        )
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Mosquitto of the test's own on a loopback port (anonymous, no persistence), which the test
/// may kill and start again on the same port; the machine's broker is shared with other tests.
#[derive(Debug)]
pub struct Mosquitto {
    pub port: u16,
    process: Running,
}

impl Mosquitto {
    pub fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let process = Self::spawn(port)?;
        Ok(Self { port, process })
    }

    fn spawn(port: u16) -> anyhow::Result<Running> {
        let process = Running::command(Command::new("mosquitto").args(["-p", &port.to_string()]));
        eventually(10, "mosquitto listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })?;
        Ok(process)
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Kills the broker (SIGKILL: sessions and queued messages are gone with it).
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.process.kill();
        self.process = Self::spawn(self.port)?;
        Ok(())
    }
}

/// A fresh PostgreSQL database on the test server (`TVE_TEST_DATABASE_URL`, made by `make
/// deps`); dropped with it.
#[derive(Debug)]
pub struct Database {
    admin_url: String,
    name: String,
    pub url: String,
}

impl Database {
    pub fn create(prefix: &str) -> Self {
        let admin_url = std::env::var("TVE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://tve:tve@127.0.0.1:5432/tve_test".into());
        let name = unique(prefix).replace('-', "_");
        let status = Command::new("psql")
            .args([&admin_url, "-q", "-c", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("psql (make deps installs PostgreSQL)");
        assert!(status.success(), "creating database {name}");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin_url,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .status();
    }
}

/// An edge box for one simulated camera, and central seeded for it as [`seed_central_for`] does:
/// a new device id, its configuration in `dir` (`sim setup SCENARIO` at `source`, seed 1; its key
/// and data in `dir`; the broker `mqtt`, central at `central_url`, the shipped models) and its
/// key registered with central (`central_env`). Returns the device id and the configuration's
/// path.
pub fn edge_box(
    central_env: &[(&str, &str)],
    dir: &Path,
    scenario: &str,
    source: &str,
    mqtt: &str,
    central_url: &str,
) -> (String, PathBuf) {
    let cameras = sim_setup(scenario, "hang-xanh-1", source);
    edge_box_with(central_env, dir, &cameras, mqtt, central_url)
}

/// The `[[cameras]]` configuration `sim setup SCENARIO` writes for a camera `id` at `source`.
pub fn sim_setup(scenario: &str, id: &str, source: &str) -> String {
    let camera = Command::new(binary("sim").unwrap_or_else(|e| panic!("{e:#}")))
        .args(["setup", scenario, "--id", id, "--source", source])
        .output()
        .unwrap_or_else(|e| panic!("sim setup: {e}"));
    assert!(camera.status.success(), "sim setup: {camera:?}");
    String::from_utf8_lossy(&camera.stdout).into_owned()
}

/// [`edge_box`] for the cameras configured by `cameras` (`[[cameras]]` tables).
pub fn edge_box_with(
    central_env: &[(&str, &str)],
    dir: &Path,
    cameras: &str,
    mqtt: &str,
    central_url: &str,
) -> (String, PathBuf) {
    let device = unique("edge");
    let path = dir.join("edge.toml");
    let control_key = central_control_key(central_env, dir);
    std::fs::write(
        &path,
        format!(
            "[device]\nid = \"{device}\"\nkey_path = \"{dir}/device.key\"\ndata_dir = \"{dir}/edge\"\n\n\
             [http]\nbind = \"127.0.0.1:0\"\n\n[mqtt]\nurl = \"{mqtt}\"\nstatus_every_s = 2\nrepublish_after_s = 5\n\n\
             [central]\nurl = \"{central_url}\"\ncontrol_keys = [\"{control_key}\"]\n\n[models]\nmanifest = \"{root}/models/manifest.toml\"\nvehicle_detector = \"{detector}\"\n\n{cameras}",
            dir = dir.display(),
            root = workspace_root().display(),
            detector = sim::setup::DETECTOR,
        ),
    )
    .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    let public_key = Command::new(binary("edge-agent").unwrap_or_else(|e| panic!("{e:#}")))
        .args(["--config", &path.to_string_lossy(), "public-key"])
        .output()
        .unwrap_or_else(|e| panic!("edge-agent public-key: {e}"));
    assert!(public_key.status.success(), "{public_key:?}");
    seed_central_for(
        central_env,
        dir,
        &DeviceId::parse(&device).unwrap_or_else(|e| panic!("{e}")),
        String::from_utf8_lossy(&public_key.stdout).trim(),
    );
    (device, path)
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

impl Drop for Service {
    /// A service the test did not stop is killed, so a failed test leaves nothing running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
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

/// Runs one administrative command of central-api (`officer-add`, `device-add`,
/// `registry-add`, …) on the database `central_env` names, in `dir` (where central runs);
/// officers get [`OFFICER_PASSWORD`]. Returns what it printed.
pub fn central_admin(central_env: &[(&str, &str)], dir: &Path, args: &[&str]) -> String {
    let output = Command::new(binary("central-api").unwrap_or_else(|e| panic!("{e:#}")))
        .current_dir(dir)
        .args(args)
        .envs(central_env.iter().copied())
        .env("TVE_OFFICER_PASSWORD", OFFICER_PASSWORD)
        .output()
        .unwrap_or_else(|e| panic!("running central-api {args:?}: {e}"));
    assert!(
        output.status.success(),
        "central-api {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The public half of the control key of central run in `dir` with `central_env` (made now
/// when it has none yet), as an installer pins it on a device.
pub fn central_control_key(central_env: &[(&str, &str)], dir: &Path) -> protocol::DevicePublicKey {
    let printed = central_admin(central_env, dir, &["control-key"]);
    protocol::DevicePublicKey::from_base64(printed.trim())
        .unwrap_or_else(|e| panic!("central-api control-key printed {printed:?}: {e}"))
}

/// Seeds central's database the way an operator would before start-up: the officers `reviewer`
/// (Trần Thị Bình), `supervisor` (Lê Văn Cường) and `chief` (Phạm Minh Đức, with sanctioning
/// authority), the device with a new key, and the white plate 51F-123.45 registered to
/// Nguyễn Văn An (079203012345). Returns the device's key.
pub fn seed_central(central_env: &[(&str, &str)], dir: &Path, device: &DeviceId) -> DeviceKey {
    let key = DeviceKey::generate().unwrap_or_else(|e| panic!("device key: {e}"));
    seed_central_for(central_env, dir, device, &key.public_key().to_base64());
    key
}

/// [`seed_central`] for a device whose key is elsewhere (an edge agent's), by its public key.
pub fn seed_central_for(
    central_env: &[(&str, &str)],
    dir: &Path,
    device: &DeviceId,
    public_key: &str,
) {
    let admin = |args: &[&str]| central_admin(central_env, dir, args);
    admin(&[
        "officer-add",
        "--username",
        "reviewer",
        "--full-name",
        "Trần Thị Bình",
        "--role",
        "reviewer",
    ]);
    for (username, name, role) in [
        ("supervisor", "Lê Văn Cường", "supervisor"),
        ("chief", "Phạm Minh Đức", "sanctioning"),
    ] {
        admin(&[
            "officer-add",
            "--username",
            username,
            "--full-name",
            name,
            "--role",
            role,
        ]);
    }
    admin(&[
        "device-add",
        "--id",
        device.as_str(),
        "--public-key",
        public_key,
        "--name",
        "Ngã tư Hàng Xanh",
    ]);
    admin(&[
        "registry-add",
        "--plate",
        "51F-123.45",
        "--class",
        "car",
        "--citizen-id",
        "079203012345",
        "--full-name",
        "Nguyễn Văn An",
        "--address",
        "12 Võ Văn Tần, Phường Xuân Hòa, TP.HCM",
    ]);
}

/// Uploads `bytes` of content type `ct` to central as `device`'s evidence, signed with its
/// `key`, as the edge does.
pub fn upload_evidence(
    central: &Service,
    device: &DeviceId,
    key: &DeviceKey,
    bytes: &[u8],
    ct: &str,
) {
    let sha = protocol::Sha256Digest::of(bytes);
    let auth = protocol::evidence::UploadAuth::sign(
        key,
        device.clone(),
        &sha,
        protocol::UtcTimestamp::now(),
    );
    let mut request =
        ureq::put(&central.url(&protocol::evidence::path(&sha))).header("content-type", ct);
    for (name, value) in auth.headers() {
        request = request.header(name, &value);
    }
    request
        .send(bytes)
        .unwrap_or_else(|e| panic!("uploading evidence {sha}: {e}"));
}

/// Publishes `event` as `device` through the test broker until central acknowledges it, as the
/// edge outbox does (central may not have subscribed yet when it first goes out), and verifies
/// the acknowledgement with central's `control_key` ([`central_control_key`]).
pub fn publish_until_acked(
    device: &DeviceId,
    key: &DeviceKey,
    control_key: &protocol::DevicePublicKey,
    event: &ViolationEvent,
) -> anyhow::Result<Ack> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    use std::time::Duration;
    let (host, port) = mqtt_host_port()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut options = MqttOptions::new(unique("edge"), host, port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(options, 16);
        client
            .subscribe(Topic::Ack(device.clone()).to_string(), QoS::AtLeastOnce)
            .await?;
        let payload = wire::encode_signed(event, key)?;
        let topic = Topic::Violation(device.clone()).to_string();
        let mut subscribed = false;
        for _ in 0..30 {
            if subscribed {
                client
                    .publish(&topic, QoS::AtLeastOnce, false, payload.clone())
                    .await?;
            }
            let wait = async {
                loop {
                    match events.poll().await? {
                        Event::Incoming(Packet::SubAck(_)) => return Ok(None),
                        Event::Incoming(Packet::Publish(p)) => {
                            // Verified as the edge does, with central's control key.
                            let ack = wire::decode_signed::<Ack>(&p.payload)?
                                .verify_by(std::slice::from_ref(control_key))?;
                            return Ok::<_, anyhow::Error>(Some(ack));
                        }
                        _ => {}
                    }
                }
            };
            match tokio::time::timeout(Duration::from_secs(1), wait).await {
                Ok(Ok(Some(ack))) => return Ok(ack),
                Ok(Ok(None)) => subscribed = true,
                Ok(Err(e)) => return Err(e),
                Err(_) => {}
            }
        }
        bail!("central did not acknowledge the event within 30 s")
    })
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

/// The events the edge agent logged as stored so far.
pub fn stored_events(edge: &Service) -> std::collections::BTreeSet<String> {
    edge.logged("violation stored", "event")
        .into_iter()
        .collect()
}

/// The environment of a central-api on `db`, the broker at `mqtt`, serving on `port`, its
/// evidence under `dir`: the group and client id its own, so several runs share a broker.
pub fn central_env(db: &Database, mqtt: &str, port: u16, dir: &Path) -> Vec<(String, String)> {
    [
        ("CENTRAL__HTTP__BIND", format!("127.0.0.1:{port}")),
        ("CENTRAL__DATABASE__URL", db.url.clone()),
        ("CENTRAL__MQTT__URL", mqtt.to_owned()),
        ("CENTRAL__MQTT__CLIENT_ID", unique("central")),
        ("CENTRAL__MQTT__SHARED_GROUP", unique("group")),
        (
            "CENTRAL__EVIDENCE__DIR",
            dir.join("evidence").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The environment of a central-api process of its own under `dir`: SQLite and its evidence
/// there, any free port, the test broker with a client id and a shared group of its own.
pub fn sqlite_central_env(dir: &Path) -> Vec<(String, String)> {
    [
        ("CENTRAL__HTTP__BIND", "127.0.0.1:0".to_owned()),
        (
            "CENTRAL__DATABASE__URL",
            format!("sqlite://{}/central.db", dir.display()),
        ),
        (
            "CENTRAL__EVIDENCE__DIR",
            dir.join("evidence").display().to_string(),
        ),
        ("CENTRAL__MQTT__URL", mqtt_url()),
        ("CENTRAL__MQTT__CLIENT_ID", unique("central")),
        ("CENTRAL__MQTT__SHARED_GROUP", unique("group")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Borrowed pairs of an environment, as [`Service::start`] takes them.
pub fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `sim serve SCENARIO --seed SEED`: the simulated junction's camera streaming, looping, at
/// `rtsp://127.0.0.1:{port}/{scenario}`.
pub fn serve_scenario(scenario: &str, seed: u64, port: u16, dir: &Path) -> Running {
    Running::binary(
        "sim",
        &[
            "serve",
            scenario,
            "--seed",
            &seed.to_string(),
            "--bind",
            &format!("127.0.0.1:{port}"),
        ],
        dir,
    )
}

/// The first `[[cameras]]` table of `sim setup SCENARIO`'s output (the overview camera, without
/// its plate camera), as camera `id` at `source`.
pub fn overview_camera(scenario: &str, id: &str, source: &str) -> String {
    let setup = sim_setup(scenario, id, source);
    let first = setup
        .split("\n[[cameras]]")
        .next()
        .unwrap_or_default()
        .to_owned();
    first
        .lines()
        .filter(|l| !l.starts_with("plate_camera"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n\n"
}

/// The red-light runners of a simulated junction: their classes and when they cross (seconds
/// into the scenario).
#[derive(Debug, Clone)]
pub struct Runners {
    pub crossings: Vec<(String, f64)>,
    pub first: f64,
    pub last: f64,
}

impl Runners {
    pub fn of(world: &sim::World) -> Self {
        let crossings: Vec<(String, f64)> = world
            .violations
            .iter()
            .filter(|v| v.kind == protocol::ViolationKind::RedLight)
            .map(|v| (format!("{:?}", v.class).to_lowercase(), f64::from(v.t_s)))
            .collect();
        let (first, last) = crossings
            .iter()
            .fold((f64::MAX, 0.0_f64), |(a, b), (_, t)| (a.min(*t), b.max(*t)));
        Self {
            crossings,
            first,
            last,
        }
    }

    /// Seconds into the scenario by which the last runner's violation is stored: once its clip
    /// is complete, some seconds after the crossing.
    pub fn stored_by(&self) -> f64 {
        self.last + 10.0
    }
}

/// Waits (at most `secs`) until the edge agent has delivered everything it holds.
pub fn wait_drained(edge: &Service, secs: u64) {
    let status_url = format!("http://{}/status", edge.addr);
    let count = |status: &serde_json::Value, key: &str| status[key].as_u64().unwrap_or(0);
    // What the cameras have seen so far: each one stored (or refused) before the outbox counts
    // as drained. A violation whose clip tail or plate camera it still waits for is not yet in
    // the outbox, and a loaded box takes longer than the stream over it.
    let seen: u64 = get_json_at(&status_url)
        .ok()
        .and_then(|s| {
            s["cameras"]
                .as_array()
                .map(|cs| cs.iter().map(|c| count(c, "violations")).sum())
        })
        .unwrap_or(0);
    eventually(secs, "the edge agent's outbox drains", || {
        let status = get_json_at(&status_url).ok()?;
        let done = count(&status, "violations_stored") + count(&status, "violations_refused");
        // Acknowledged events wait in the outbox for their files: drained is both at 0.
        (done >= seen
            && status["outbox_depth"] == 0
            && status["uploads_pending"] == 0
            && status["broker_connected"] == true)
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}; edge log:\n{}", edge.log_tail(40)));
}

/// The overview camera's stream of `world` (one keyframe a second, 3 Mbit/s), to be served
/// looping in real time.
pub fn overview_stream(world: &sim::World, spec: &sim::ScenarioSpec) -> sim::video::Encoded {
    sim::video::encode(
        &sim::Renderer::new(world),
        &sim::video::EncodeOptions {
            bitrate_kbps: 3000,
            keyframe_every: spec.fps,
            limit: None,
        },
    )
    .unwrap_or_else(|e| panic!("encoding the scenario: {e:#}"))
}
