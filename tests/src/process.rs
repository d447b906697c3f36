//! The project's binaries and the services they need as processes: a service started from its
//! binary with its log kept, Mosquitto on a free port, a PostgreSQL database of its own.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use anyhow::{Context, bail};

use crate::*;

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
    pub fn stop(self) -> anyhow::Result<std::process::ExitStatus> {
        self.stop_within(std::time::Duration::from_secs(20))
    }

    /// Sends SIGTERM and waits at most `limit` for the process to exit (an edge agent:
    /// [`EDGE_STOP`]).
    pub fn stop_within(
        mut self,
        limit: std::time::Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.name);
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                bail!(
                    "{} did not stop within {limit:?} of SIGTERM; its log ends:\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// How long an edge agent may take to stop: it stores the evidence of the violations it saw
/// last before it exits, which a debug build on a busy machine takes seconds a violation to do.
pub const EDGE_STOP: std::time::Duration = std::time::Duration::from_secs(90);

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

    /// Every row of the database as `pg_dump --data-only` writes them: what a copied disk or
    /// a backup holds.
    pub fn dump(&self) -> String {
        let out = Command::new("pg_dump")
            .args(["--data-only", &self.url])
            .output()
            .expect("pg_dump (make deps installs PostgreSQL)");
        assert!(out.status.success(), "pg_dump {}: {:?}", self.name, out);
        String::from_utf8_lossy(&out.stdout).into_owned()
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

impl Drop for Service {
    /// A service the test did not stop is killed, so a failed test leaves nothing running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
