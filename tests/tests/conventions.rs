//! Every binary follows the conventions of DESIGN.md: `--help`, `--config`,
//! `--print-default-config`, environment overrides with its prefix, exit status 0 / 1 / 2, and
//! `/healthz` and `/metrics` on `http.bind`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use tests::binary;

const SERVICES: [(&str, &str); 3] = [
    ("edge-agent", "EDGE"),
    ("central-api", "CENTRAL"),
    ("citizen-notify", "NOTIFY"),
];

/// A process of `name` in a world of its own: a fresh working folder (where the embedded
/// defaults keep their files) and free ports for what it would otherwise listen on by default.
fn command(name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let dir = std::env::temp_dir().join(tests::unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(binary(name).unwrap());
    command
        .current_dir(dir)
        .args(args)
        .env("CENTRAL__MQTT__EMBEDDED_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command
}

fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = command(name, args, env).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_names_the_shared_flags() {
    for (name, _) in SERVICES {
        let (code, out, _) = run(name, &["--help"], &[]);
        assert_eq!(code, 0, "{name} --help");
        assert!(
            out.contains("--config") && out.contains("--print-default-config"),
            "{name}: {out}"
        );
    }
}

#[test]
fn default_config_is_toml_on_loopback_and_loads_back() {
    for (name, _) in SERVICES {
        let (code, out, err) = run(name, &["--print-default-config"], &[]);
        assert_eq!(code, 0, "{name}: {err}");
        let doc: toml::Table = toml::from_str(&out).unwrap();
        let bind = doc["http"]["bind"].as_str().unwrap();
        assert!(bind.starts_with("127.0.0.1:"), "{name}: {bind}");

        // The printed file is a valid configuration file.
        let dir = std::env::temp_dir().join(tests::unique(name));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, out.replace(bind, "127.0.0.1:0")).unwrap();
        let (code, _, err) = start_and_stop(name, &["--config", path.to_str().unwrap()], &[]);
        assert_eq!(code, 0, "{name} with its own default file: {err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn bad_usage_and_bad_configuration_exit_2_naming_the_problem() {
    for (name, prefix) in SERVICES {
        let (code, _, err) = run(name, &["--no-such-flag"], &[]);
        assert_eq!(code, 2, "{name}: {err}");

        let (code, _, err) = run(name, &["--config", "/nonexistent/tve.toml"], &[]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains("/nonexistent/tve.toml"), "{name}: {err}");

        let var = format!("{prefix}__HTTP__BIND");
        let (code, _, err) = run(name, &[], &[(var.as_str(), "not-an-address")]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(
            err.contains("http.bind") && err.contains(&var),
            "{name}: {err}"
        );

        let var = format!("{prefix}__NO_SUCH_SECTION");
        let (code, _, err) = run(name, &[], &[(var.as_str(), "1")]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains("no_such_section"), "{name}: {err}");
    }
}

#[test]
fn a_port_already_taken_is_a_runtime_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (name, prefix) in SERVICES {
        let var = format!("{prefix}__HTTP__BIND");
        let (code, _, err) = run(name, &[], &[(var.as_str(), addr.as_str())]);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains("http.bind"), "{name}: {err}");
    }
}

#[test]
fn services_answer_health_and_metrics_and_stop_cleanly_on_sigterm() {
    for (name, prefix) in SERVICES {
        let var = format!("{prefix}__HTTP__BIND");
        let mut child = spawn(name, &[], &[(var.as_str(), "127.0.0.1:0")]);
        let addr = wait_for_listen_addr(&mut child);

        let health = ureq::get(format!("http://{addr}/healthz"))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        assert_eq!(health, "ok", "{name}");
        let metrics = ureq::get(format!("http://{addr}/metrics"))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        assert!(
            metrics.contains(&format!("tve_build_info{{service=\"{name}\"")),
            "{name}: {metrics}"
        );

        terminate(&child);
        let status = exit_status(&mut child);
        assert_eq!(status.code(), Some(0), "{name} after SIGTERM");
    }
}

fn spawn(name: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    command(name, args, env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the service's log until it says where its HTTP server listens (`listening
/// service=… addr=…`), within a bounded time.
fn wait_for_listen_addr(child: &mut Child) -> String {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !(line.contains(" listening ") && line.contains("service=")) {
                continue;
            }
            if let Some(addr) = line
                .split_whitespace()
                .find_map(|word| word.strip_prefix("addr="))
            {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the service logs its listen address")
}

/// Waits for the process to exit, at most 20 s; a service that does not stop fails the test.
fn exit_status(child: &mut Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the service did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn start_and_stop(name: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut child = spawn(name, args, env);
    let addr = wait_for_listen_addr(&mut child);
    terminate(&child);
    let status = exit_status(&mut child);
    (status.code().unwrap_or(-1), addr, String::new())
}
