//! Delivery of notices of violation to the citizen (what was seen and how to answer; never an
//! amount to pay, which only a penalty decision sets): each notice, once stored, gets one delivery per
//! configured channel in the same transaction, so none is forgotten. A worker sends what is
//! due; an answer the channel may give differently later (a timeout, a 5xx, 408, 429) is tried
//! again after a growing wait, up to `delivery.max_attempts`; a refusal (another 4xx) or the
//! last attempt is final. Every attempt is logged with its outcome.
//!
//! Channels: `push`, a webhook to the citizen-app backend (the shape a VNeID or provincial-app
//! integration takes): a JSON message signed with the shared-secret HMAC of
//! [`protocol::service_auth`], the fine id as its idempotency key; `sms`, through an SMS
//! gateway's HTTP API (bearer key, registered sender name) to the owner's mobile number on
//! record; `email`, submitted over SMTP to the configured relay (TLS, credentials) for the
//! owner's e-mail address on record, its Message-ID made from the fine id so a message sent
//! again after an uncertain attempt is recognisably the same one. A relay's 4xx answer or a lost
//! connection is tried again; a 5xx is final.

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
    message::{
        Mailbox, SinglePart,
        header::{ContentTransferEncoding, ContentType},
    },
    transport::smtp::authentication::Credentials,
};
use protocol::{UtcTimestamp, ViolationNotice as FineNotice, service_auth};
use serde::Serialize;
use service_kit::retry::backoff;
use time::OffsetDateTime;

use crate::{
    config::DeliverySettings,
    db::{self, Db, DbError, DueDelivery, SealingKey},
    pages::local_time,
};

pub const PUSH: &str = "push";
pub const SMS: &str = "sms";
pub const EMAIL: &str = "email";

/// The message the citizen app shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushMessage {
    pub fine_id: String,
    pub citizen_id: String,
    pub title: String,
    pub body: String,
    /// The notice's page in the citizen portal.
    pub url: String,
    /// By when to come or answer.
    pub answer_due: UtcTimestamp,
}

impl PushMessage {
    pub fn of(notice: &FineNotice, portal_url: &str) -> Self {
        let fine_id = notice.fine_id.hyphenated().to_string();
        let url = format!("{}/fines/{fine_id}", portal_url.trim_end_matches('/'));
        Self {
            body: format!(
                "Phương tiện {} bị ghi nhận vi phạm: {} lúc {} tại {}. Xem hình ảnh và trả lời \
                 (người điều khiển, giải trình) trước {} tại {url}",
                notice.plate,
                notice.kind.label_vi(),
                local_time(notice.occurred_at),
                notice.place,
                local_time(notice.answer_due),
            ),
            title: "Thông báo vi phạm hành chính về trật tự, an toàn giao thông đường bộ".into(),
            citizen_id: notice.citizen_id.as_str().to_owned(),
            answer_due: notice.answer_due,
            fine_id,
            url,
        }
    }
}

pub use service_kit::outbox::Outcome;
use service_kit::outbox::classify;

/// The channels a notice goes through: the app push when configured, and SMS when configured
/// and the owner's mobile number is on record.
pub fn channels(settings: &DeliverySettings, notice: &FineNotice) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !settings.push_url.is_empty() {
        out.push(PUSH);
    }
    let phone = notice.contact.as_ref().and_then(|c| c.phone.as_ref());
    if !settings.sms_url.is_empty() && phone.is_some() {
        out.push(SMS);
    }
    let email = notice.contact.as_ref().and_then(|c| c.email.as_ref());
    if !settings.smtp_url.is_empty() && email.is_some() {
        out.push(EMAIL);
    }
    out
}

/// The e-mail notice: plain text, Vietnamese first with English beneath; what, when, where, the
/// provision, by when to answer, and the portal's own address to open — no amount (a notice
/// decides nothing), no link to the case's page and none to pay, since a link in a mail is what
/// fraudsters imitate (with a warning saying so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailNotice {
    pub subject: String,
    pub body: String,
}

impl EmailNotice {
    pub fn of(notice: &FineNotice, portal_url: &str) -> Self {
        // The portal itself, not a deep link: the citizen types the address they know.
        let url = portal_url.trim_end_matches('/');
        let at = local_time(notice.occurred_at);
        let day = at.split(' ').next().unwrap_or_default().to_owned();
        let due = local_time(notice.answer_due);
        let body = format!(
            "THÔNG BÁO VI PHẠM GIAO THÔNG ĐƯỜNG BỘ\n\n\
             Hệ thống camera giám sát đã ghi nhận phương tiện biển số {plate} vi phạm.\n\n\
             Hành vi: {kind}\n\
             Thời gian: {at}\n\
             Địa điểm: {place}, {address}\n\
             Căn cứ: {legal}\n\
             Đơn vị xử lý: {unit}\n\
             Thời hạn đến giải quyết: {due}\n\n\
             Chủ phương tiện đến đơn vị xử lý hoặc trả lời trực tuyến trước thời hạn trên: \
             ai là người điều khiển, hoặc giải trình. Mức phạt do người có thẩm quyền quyết định \
             sau đó.\n\n\
             Xem hình ảnh và video, trả lời hoặc giải trình: tự mở cổng thông tin chính thức \
             {url} (gõ địa chỉ, đừng bấm đường link trong thư lạ) và đăng nhập bằng VNeID.\n\n\
             Thư được gửi tự động, xin đừng trả lời. Cơ quan chức năng không bao giờ hỏi mật \
             khẩu hay mã OTP, và không gửi đường link nộp phạt qua thư.\n\n\
             --\n\
             Traffic violation notice. The camera system recorded the vehicle with plate \
             {plate}: {kind_en}, {at} (UTC+7), {place}. Answer by {due} (UTC+7): who was driving, \
             or your explanation; any fine is decided afterwards by the sanctioning officer. To \
             see the images and the clip and answer, open the official portal {url} yourself and \
             sign in with VNeID.\n",
            plate = notice.plate,
            kind = notice.kind.label_vi(),
            kind_en = notice.kind.label_en(),
            place = notice.place,
            address = notice.address,
            legal = notice.legal_reference,
            unit = notice.issuing_unit,
        );
        Self {
            subject: format!(
                "Thông báo vi phạm giao thông: xe {} ngày {day}",
                notice.plate
            ),
            body,
        }
    }
}

/// The SMS text, without diacritics (GSM-7, which every handset shows): that the vehicle has a
/// notice from that day, and to open the official app or portal — no link and no amount. The
/// Traffic Police tell the public they never send a violation by SMS with a link to pay: a text
/// that did would read exactly like the scams they warn of, so this one never does.
pub fn sms_text(notice: &FineNotice) -> String {
    let day = local_time(notice.occurred_at);
    let day = day.split(' ').next().unwrap_or_default();
    format!(
        "CSGT: xe {} co thong bao vi pham giao thong ngay {day}. Xem tren ung dung/cong TTDT \
         chinh thuc. Khong bam link la, khong dua ma OTP.",
        notice.plate,
    )
}

/// The relay e-mail goes through, and who it is from.
#[derive(Clone)]
struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of the Message-IDs.
    domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// The worker's side of the channels.
#[derive(Debug, Clone)]
pub struct Deliverer {
    http: reqwest::Client,
    mailer: Option<Mailer>,
    settings: DeliverySettings,
}

impl Deliverer {
    pub fn new(settings: DeliverySettings) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let timeout = Duration::from_millis(settings.timeout_ms);
        let mailer = if settings.smtp_url.is_empty() {
            None
        } else {
            let mut transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
                .context("delivery.smtp_url")?
                .timeout(Some(timeout));
            if !settings.smtp_username.is_empty() {
                transport = transport.credentials(Credentials::new(
                    settings.smtp_username.clone(),
                    settings.smtp_password.expose().to_owned(),
                ));
            }
            let from: Mailbox = settings.email_from.parse().context("delivery.email_from")?;
            Some(Mailer {
                transport: transport.build(),
                domain: from.email.domain().to_owned(),
                from,
            })
        };
        Ok(Self {
            http: service_kit::tls::client_builder(timeout).build()?,
            mailer,
            settings,
        })
    }

    async fn push(&self, notice: &FineNotice) -> Outcome {
        let message = PushMessage::of(notice, &self.settings.portal_url);
        let Ok(body) = serde_json::to_vec(&message) else {
            return Outcome::Refused("the message does not serialize".into());
        };
        let signature = service_auth::sign(
            self.settings.push_secret.expose().as_bytes(),
            UtcTimestamp::now(),
            &body,
        );
        let sent = self
            .http
            .post(&self.settings.push_url)
            .header("content-type", "application/json")
            .header("idempotency-key", &message.fine_id)
            .header(service_auth::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        classify(sent).await
    }

    async fn sms(&self, notice: &FineNotice) -> Outcome {
        let Some(phone) = notice.contact.as_ref().and_then(|c| c.phone.as_ref()) else {
            return Outcome::Refused("no mobile number on record".into());
        };
        let body = serde_json::json!({
            "from": self.settings.sms_sender,
            "to": phone,
            "text": sms_text(notice),
            "reference": notice.fine_id.hyphenated().to_string(),
        });
        let sent = self
            .http
            .post(&self.settings.sms_url)
            .bearer_auth(self.settings.sms_api_key.expose())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        classify(sent).await
    }

    async fn email(&self, notice: &FineNotice) -> Outcome {
        let Some(mailer) = &self.mailer else {
            return Outcome::Refused("no mail relay is configured".into());
        };
        let Some(address) = notice.contact.as_ref().and_then(|c| c.email.as_ref()) else {
            return Outcome::Refused("no e-mail address on record".into());
        };
        let to: Mailbox = match address.parse() {
            Ok(to) => to,
            Err(e) => return Outcome::Refused(format!("e-mail address {address}: {e}")),
        };
        let mail = EmailNotice::of(notice, &self.settings.portal_url);
        let message = Message::builder()
            .from(mailer.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!(
                "<fine-{}@{}>",
                notice.fine_id.hyphenated(),
                mailer.domain
            )))
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    // Text is CRLF-delimited in its canonical form (RFC 2046 §4.1.1).
                    .body(mail.body.replace('\n', "\r\n")),
            );
        let message = match message {
            Ok(message) => message,
            Err(e) => return Outcome::Refused(format!("the message: {e}")),
        };
        match mailer.transport.send(message).await {
            Ok(_) => Outcome::Delivered,
            Err(e) if e.is_permanent() => Outcome::Refused(e.to_string()),
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }

    async fn attempt(&self, due: &DueDelivery) -> Outcome {
        match due.channel.as_str() {
            PUSH => self.push(&due.notice).await,
            SMS => self.sms(&due.notice).await,
            EMAIL => self.email(&due.notice).await,
            other => Outcome::Refused(format!("no channel {other} is configured")),
        }
    }

    /// Sends every delivery due at `now`; returns how many were delivered.
    #[tracing::instrument(name = "delivery_pass", skip_all)]
    pub async fn deliver_due(
        &self,
        db: &Db,
        key: &SealingKey,
        now: OffsetDateTime,
    ) -> Result<usize, DbError> {
        let mut delivered = 0;
        for due in db::due_deliveries(db, key, now).await? {
            let outcome = self.attempt(&due).await;
            let attempt = due.attempts + 1;
            let next = match &outcome {
                Outcome::Retry(_) if attempt < self.settings.max_attempts => {
                    Some(now + backoff(attempt, self.settings.max_backoff_s))
                }
                _ => None,
            };
            let fine_id = due.notice.fine_id.to_string();
            match (&outcome, next) {
                (Outcome::Delivered, _) => {
                    delivered += 1;
                    tracing::info!(fine_id, channel = due.channel, "notice delivered");
                }
                (Outcome::Retry(e), Some(at)) => tracing::warn!(
                    fine_id,
                    channel = due.channel,
                    error = e,
                    retry_s = (at - now).whole_seconds(),
                    "notice not delivered"
                ),
                (Outcome::Retry(e) | Outcome::Refused(e), _) => tracing::error!(
                    fine_id,
                    channel = due.channel,
                    error = e,
                    attempts = attempt,
                    "notice delivery failed for good"
                ),
            }
            db::record_attempt(
                db,
                key,
                due.id,
                attempt,
                now,
                &outcome_record(&outcome, next),
            )
            .await?;
        }
        Ok(delivered)
    }
}

fn outcome_record(outcome: &Outcome, next: Option<OffsetDateTime>) -> db::AttemptRecord<'_> {
    match outcome {
        Outcome::Delivered => db::AttemptRecord {
            outcome: "delivered",
            detail: "",
            next,
        },
        Outcome::Retry(e) if next.is_some() => db::AttemptRecord {
            outcome: "retry",
            detail: e,
            next,
        },
        Outcome::Retry(e) | Outcome::Refused(e) => db::AttemptRecord {
            outcome: "failed",
            detail: e,
            next: None,
        },
    }
}

/// Runs until `shutdown`, looking for due deliveries every second.
pub async fn run(
    db: Db,
    key: SealingKey,
    deliverer: Deliverer,
    shutdown: service_kit::http::Shutdown,
) -> anyhow::Result<()> {
    shutdown
        .every(Duration::from_secs(1), "delivery pass", || {
            deliverer.deliver_due(&db, &key, OffsetDateTime::now_utc())
        })
        .await
}
