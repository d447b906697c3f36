//! Every binary follows the conventions of DESIGN.md: `--help`, `--config`,
//! `--print-default-config`, environment overrides with its prefix, exit status 0 / 1 / 2, and
//! `/healthz` and `/metrics` on `http.bind`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::{Command, Stdio};

use tests::{Service, binary};

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
        let service = start(name, &["--config", path.to_str().unwrap()], &[]);
        let status = service.stop().unwrap();
        assert_eq!(status.code(), Some(0), "{name} with its own default file");
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
        let service = start(name, &[], &[(var.as_str(), "127.0.0.1:0")]);
        let addr = service.addr.clone();

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

        let status = service.stop().unwrap();
        assert_eq!(status.code(), Some(0), "{name} after SIGTERM");
    }
}

/// Starts `name` in a folder of its own with free ports (see [`command`]).
fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> Service {
    let dir = std::env::temp_dir().join(tests::unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    let mut env = env.to_vec();
    env.push(("CENTRAL__MQTT__EMBEDDED_BIND", "127.0.0.1:0"));
    Service::start(name, args, &env, &dir).unwrap()
}
