//! The review API under load: central-api on PostgreSQL with a queue of violations (ingested
//! through Mosquitto), an officer's bearer token, and `wrk` on loopback asking for queue pages
//! and for single violations. Central and wrk share the machine's cores.
//!
//! `review-load [SECONDS] [VIOLATIONS]` prints one table row per route, and one for sign-ins
//! (each a full Argon2id check, eight officers' browsers at once). `VIOLATIONS` (2 000, from four
//! devices) is the
//! queue's length: a page is read from the queue's index, so its cost should not grow with it.

use std::process::Command;

use anyhow::{Context, bail};
use benches::{ingest::Central, row};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(15), |a| a.parse())?;
    let violations: usize = std::env::args().nth(2).map_or(Ok(2000), |a| a.parse())?;
    let central = Central::start("postgres", false).await?;
    let fleet = central.fleet(4).await?;
    let violations = violations.div_ceil(4) * 4;
    central
        .load(
            fleet,
            violations / 4,
            benches::ingest::Pace {
                rate: 500.0,
                duplicate_every: 0,
                bad_every: 0,
            },
        )
        .await?;
    settle(&central.db.db).await?;
    let password = "a long password for the load test";
    central_api::admin::save_officer(
        &central.db.db,
        &central_api::audit::AuditLog::new(central.db.db.clone()),
        "bench",
        "bench",
        "Bench",
        "reviewer",
        password,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = format!("http://{}", central.addr);
    let http = reqwest::Client::new();
    let json = async |request: reqwest::RequestBuilder| -> anyhow::Result<serde_json::Value> {
        let text = request.send().await?.error_for_status()?.text().await?;
        Ok(serde_json::from_str(&text)?)
    };
    let session = json(
        http.post(format!("{base}/api/v1/session"))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "username": "bench", "password": password }).to_string()),
    )
    .await?;
    let token = session["token"].as_str().context("a session token")?;
    let auth = format!("Authorization: Bearer {token}");
    let page = json(
        http.get(format!("{base}/api/v1/violations?limit=50"))
            .header("authorization", format!("Bearer {token}")),
    )
    .await?;
    let one = page["items"][0]["event_id"]
        .as_str()
        .context("a violation in the queue")?;
    for (what, path) in [
        (
            "a queue page of 50",
            "/api/v1/violations?limit=50".to_owned(),
        ),
        (
            "one violation with its audit trail",
            format!("/api/v1/violations/{one}"),
        ),
    ] {
        let output = Command::new("wrk")
            .args([
                "-t1",
                "-c16",
                &format!("-d{seconds}s"),
                "--latency",
                "-H",
                &auth,
            ])
            .arg(format!("{base}{path}"))
            .output()
            .context("wrk (make deps-bench installs it)")?;
        if !output.status.success() {
            bail!("wrk: {}", String::from_utf8_lossy(&output.stderr));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let figure = |label: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(label))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("–")
                .to_owned()
        };
        let failures = text
            .lines()
            .find(|l| l.contains("Non-2xx"))
            .map_or("none".into(), |l| l.trim().to_owned());
        row(
            &format!(
                "review API under load (wrk, 16 connections on loopback, {violations} in the queue): {what}"
            ),
            format!("p50 {} · p99 {}", figure("50%"), figure("99%")),
            "",
            &format!(
                "{} requests/s; non-2xx: {failures}",
                figure("Requests/sec:")
            ),
        );
    }
    sign_ins(&http, &base, password, seconds).await?;
    central.stop().await
}

/// Eight clients signing the bench officer in, over and over, for `seconds`: sign-ins a
/// second, their latency, and how many were answered 503 (more passwords at once than
/// `review.sign_in_max_concurrent` checks; the client waits 100 ms before trying again).
async fn sign_ins(
    http: &reqwest::Client,
    base: &str,
    password: &str,
    seconds: u64,
) -> anyhow::Result<()> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let body = serde_json::json!({ "username": "bench", "password": password }).to_string();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url, body) = (http.clone(), format!("{base}/api/v1/session"), body.clone());
        clients.spawn(async move {
            let (mut took, mut busy) = (Vec::new(), 0u64);
            while std::time::Instant::now() < until {
                let start = std::time::Instant::now();
                let answer = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                match answer.status().as_u16() {
                    200 => took.push(start.elapsed()),
                    // Told to come back: a browser waits before trying again.
                    503 => {
                        busy += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    other => bail!("a sign-in answered {other}"),
                }
            }
            Ok::<_, anyhow::Error>((took, busy))
        });
    }
    let (mut took, mut busy) = (Vec::new(), 0);
    while let Some(done) = clients.join_next().await {
        let (t, b) = done??;
        took.extend(t);
        busy += b;
    }
    took.sort();
    let at = |q: f64| {
        took.get(((took.len() as f64 * q) as usize).min(took.len().saturating_sub(1)))
            .map_or("–".into(), |d| {
                format!("{:.0} ms", d.as_secs_f64() * 1000.0)
            })
    };
    row(
        "officers' sign-ins (Argon2id, 8 clients at once on loopback)",
        format!("p50 {} · p99 {}", at(0.5), at(0.99)),
        "",
        &format!(
            "{:.1} sign-ins/s; 503 (busy): {busy}",
            took.len() as f64 / seconds as f64
        ),
    );
    Ok(())
}

/// Waits until every violation loaded has its owner looked up (central does it after storing,
/// off the ingest path), then vacuums the table as autovacuum would within a minute: the queue
/// is measured at rest, not while the lookups of the load still run beside it.
async fn settle(db: &central_api::db::Db) -> anyhow::Result<()> {
    let central_api::db::Db::Postgres(pool) = db else {
        bail!("the review load runs on PostgreSQL");
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM violations WHERE owner_lookup IS NULL")
                .fetch_one(pool)
                .await?;
        if left == 0 {
            break;
        }
        if std::time::Instant::now() > until {
            bail!("{left} violations still without their owner lookup after 5 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    sqlx::query("VACUUM ANALYZE violations")
        .execute(pool)
        .await?;
    Ok(())
}
