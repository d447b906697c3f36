//! Reports to central-api of what becomes of each fine here: each written to the `reports`
//! outbox in the transaction that records the change (a delivery's final outcome, the owner's
//! answer, the payment), sent as a [`protocol::FineUpdate`] signed with the shared secret — the
//! documents attached to an answer put into central's store first —, and kept until central
//! answers 2xx. A timeout, 5xx, 408 or 429 is tried again after a growing
//! wait; any other refusal is final and logged (central does not know the fine: nothing to
//! retry). A refused answer (after its deadline, or a driver the population database does not
//! know) is taken back, so the citizen may answer again, and its reason kept to show them.

use std::time::Duration;

use protocol::{UtcTimestamp, service_auth};
use service_kit::{
    outbox::{Outcome, classify},
    retry::backoff,
};
use time::OffsetDateTime;

use crate::{
    config::CentralSettings,
    db::{self, Db, DbError, SealingKey},
};

/// The sender's HTTP side.
#[derive(Debug, Clone)]
pub struct Reporter {
    http: reqwest::Client,
    settings: CentralSettings,
    secret: String,
}

impl Reporter {
    /// Reports to `settings.url`, signed with `secret` (the intake's shared secret: one secret
    /// between the two services, both ways).
    pub fn new(settings: CentralSettings, secret: &str) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: service_kit::tls::client_builder(Duration::from_millis(settings.timeout_ms))
                .build()?,
            settings,
            secret: secret.to_owned(),
        })
    }

    /// Sends every report due at `now`; returns how many central took.
    #[tracing::instrument(name = "report_pass", skip_all)]
    pub async fn send_due(
        &self,
        db: &Db,
        key: &SealingKey,
        now: OffsetDateTime,
    ) -> Result<usize, DbError> {
        let url = format!(
            "{}/api/v1/fine-updates",
            self.settings.url.trim_end_matches('/')
        );
        let mut sent = 0;
        for report in db::due_reports(db, key, now).await? {
            // The documents the update names reach central before it.
            let mut outcome = Outcome::Delivered;
            for (document, body) in db::documents_of_report(db, key, &report.update_id).await? {
                outcome = self.send_document(&document, body).await;
                if outcome != Outcome::Delivered {
                    break;
                }
            }
            if outcome == Outcome::Delivered {
                let signature = service_auth::sign(
                    self.secret.as_bytes(),
                    UtcTimestamp::now(),
                    report.payload.as_bytes(),
                );
                let answer = self
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(service_auth::SIGNATURE_HEADER, signature)
                    .body(report.payload)
                    .send()
                    .await;
                outcome = classify(answer).await;
            }
            let (state, error) = match outcome {
                Outcome::Delivered => ("delivered", None),
                Outcome::Retry(e) => ("pending", Some(e)),
                Outcome::Refused(e) => ("refused", Some(e)),
            };
            let next = now + backoff(report.attempts + 1, self.settings.max_backoff_s);
            match (state, &error) {
                ("delivered", _) => {
                    sent += 1;
                    tracing::info!(
                        fine_id = report.fine_id,
                        kind = report.kind,
                        "reported to central"
                    );
                }
                ("pending", Some(e)) => tracing::warn!(
                    fine_id = report.fine_id,
                    kind = report.kind,
                    error = e,
                    retry_s = (next - now).whole_seconds(),
                    "report not taken by central"
                ),
                (_, e) => tracing::error!(
                    fine_id = report.fine_id,
                    kind = report.kind,
                    error = e.as_deref().unwrap_or_default(),
                    "central refused the report"
                ),
            }
            if state == "refused" && db::Answer::parse(&report.kind).is_some() {
                let code = error.as_deref().map(refusal_code).unwrap_or_default();
                db::answer_refused(db, &report.fine_id, &report.kind, &code).await?;
            }
            db::report_attempted(db, report.id, state, next, error.as_deref()).await?;
        }
        Ok(sent)
    }
}

impl Reporter {
    /// Puts one document an answer names into central's store
    /// ([`protocol::answer_document::DOCUMENTS_PATH`]), signed like the reports.
    async fn send_document(&self, document: &protocol::AnswerDocument, body: Vec<u8>) -> Outcome {
        let url = format!(
            "{}{}/{}",
            self.settings.url.trim_end_matches('/'),
            protocol::answer_document::DOCUMENTS_PATH,
            document.sha256
        );
        let signature = service_auth::sign(self.secret.as_bytes(), UtcTimestamp::now(), &body);
        let sent = self
            .http
            .put(&url)
            .header("content-type", &document.content_type)
            .header(service_auth::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        classify(sent).await
    }
}

/// Central's error code in a refusal's detail (`422 Unprocessable Entity: {"error":"…", …}`,
/// perhaps cut short); `refused` when it has none.
fn refusal_code(detail: &str) -> String {
    detail
        .split_once(r#""error":""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(code, _)| code)
        .filter(|code| {
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
        .unwrap_or("refused")
        .to_owned()
}

/// Runs until `shutdown`, looking for due reports every second.
pub async fn run(
    db: Db,
    key: SealingKey,
    reporter: Reporter,
    shutdown: service_kit::http::Shutdown,
) -> anyhow::Result<()> {
    shutdown
        .every(Duration::from_secs(1), "report pass", || {
            reporter.send_due(&db, &key, OffsetDateTime::now_utc())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::refusal_code;

    #[test]
    fn the_code_of_a_refusal_is_read_from_centrals_error_body() {
        assert_eq!(
            refusal_code(
                r#"422 Unprocessable Entity: {"error":"unknown_citizen","message":"no citizen"}"#
            ),
            "unknown_citizen"
        );
        assert_eq!(
            refusal_code(r#"422 Unprocessable Entity: {"error":"answer_late","message":"the no"#),
            "answer_late",
            "cut short"
        );
        assert_eq!(refusal_code("404 Not Found: no such page"), "refused");
    }
}
