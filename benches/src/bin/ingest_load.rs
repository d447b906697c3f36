//! Ingest load harness: signed events from simulated devices through Mosquitto into central-api
//! on PostgreSQL (or SQLite) at an offered rate, counted from the first publication until every
//! one is acknowledged; every fifth event is sent twice (a replay), which central acknowledges
//! again without storing it, and after every fiftieth comes a message central must refuse
//! (malformed, unsigned or forged), which must become a dead letter.
//!
//! `ingest-load [EVENTS] [DEVICES] [postgres|sqlite] [RATE] [tuned|stock]` prints one table
//! row; RATE is the messages a second (replays included) offered by all devices together (0: as
//! fast as they can). The broker is a Mosquitto of the harness's own with the limits of
//! `deploy/mosquitto-central.conf` (`tuned`, the default), or the machine's as installed
//! (`stock`, `TVE_TEST_MQTT_URL`).

use anyhow::bail;
use benches::{
    ingest::{Central, Pace},
    row,
};
use central_api::db::{dead_letters, violations};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let devices: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(4);
    let engine = args.get(3).map(String::as_str).unwrap_or("postgres");
    let rate: f64 = args.get(4).map(|a| a.parse()).transpose()?.unwrap_or(0.0);
    let broker = args.get(5).map(String::as_str).unwrap_or("tuned");
    let central = match broker {
        "tuned" => Central::start(engine, true).await?,
        "stock" => Central::start(engine, false).await?,
        other => bail!("broker `{other}`: tuned or stock"),
    };
    let fleet = central.fleet(devices).await?;
    let pace = Pace {
        rate: rate / devices as f64,
        duplicate_every: 5,
        bad_every: 50,
    };
    let sent = central.load(fleet, events / devices, pace).await?;
    // Counted in full: the review queue counts its total only up to 1 000.
    let stored = violations::count(&central.db.db).await?;
    if stored != sent.events as i64 {
        bail!("{} events sent, {stored} stored", sent.events);
    }
    // Each refused message was taken before the events after it were acknowledged.
    let refused: i64 = dead_letters::recent(&central.db.db, i64::MAX)
        .await?
        .iter()
        .map(|l| l.times)
        .sum();
    if refused != sent.bad as i64 {
        bail!(
            "{} messages to refuse sent, {refused} dead letters",
            sent.bad
        );
    }
    let offered = if rate > 0.0 {
        format!("{rate:.0} messages/s offered")
    } else {
        "as fast as they publish".into()
    };
    row(
        &format!(
            "central ingest: MQTT (Mosquitto, {broker}) → {engine}, {devices} devices, {offered}"
        ),
        format!(
            "{:.0} events/s stored, {:.0} messages/s",
            sent.rate(),
            sent.rate() * (sent.events + sent.duplicates) as f64 / sent.events as f64
        ),
        "",
        &format!(
            "acknowledged p50 {:.0} ms, p95 {:.0} ms; {} events stored once, {} replays acknowledged and not stored again, {} refused messages dead-lettered, {} sent again for want of an ack; peak RSS {} MiB (central and devices)",
            1000.0 * sent.ack_quantile(0.5),
            1000.0 * sent.ack_quantile(0.95),
            sent.events,
            sent.duplicates,
            sent.bad,
            sent.republished,
            peak_rss_mib()
        ),
    );
    central.stop().await
}

/// The process's peak resident memory (`VmHWM`), MiB.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
