//! What the portal holds about a citizen, for them to take away: the data subject's right to be
//! given their personal data (Law 91/2025/QH15 on Personal Data Protection, Article 4 clause 1
//! point d; answered within the times of Decree 356/2025/NĐ-CP, Article 5). One document per
//! request, for the signed-in citizen only: every notice of their vehicles with its penalty
//! decision, their answers (and those central refused), the answer to a dispute, every payment
//! attempt, the channels the notice went through, and the record of their earlier exports.
//! Each export is recorded before it is served.

use protocol::{PenaltyDecision, ViolationNotice as FineNotice, vi::local_time};
use serde::Serialize;
use serde_json::Value;
use service_kit::paper::{self, MARGIN, PAGE, Sheet};
use time::OffsetDateTime;

use crate::db::{self, Db, DbError, SealingKey};

/// Where the data comes from and whom to ask to correct it, in the export itself.
pub const ABOUT: &str = "Dữ liệu cổng tra cứu vi phạm giao thông lưu về bạn: thông báo vi phạm, \
quyết định xử phạt, câu trả lời, thanh toán. Thông tin về phương tiện và chủ phương tiện lấy từ \
cơ sở dữ liệu đăng ký xe và cơ sở dữ liệu quốc gia về dân cư; đề nghị chỉnh sửa gửi đơn vị xử lý \
ghi trên thông báo (Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15, Điều 4). \
What the traffic-fine portal holds about you; to correct it, write to the handling unit named \
on the notice.";

/// The whole export.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub about: &'static str,
    pub exported_at: protocol::UtcTimestamp,
    pub citizen_id: String,
    pub name: String,
    pub fines: Vec<FineRecord>,
    /// This citizen's exports, this one included.
    pub exports: Vec<ExportRecord>,
}

/// One fine and all that happened on it in the portal.
#[derive(Debug, Clone, Serialize)]
pub struct FineRecord {
    #[serde(skip)]
    pub typed: (FineNotice, Option<PenaltyDecision>),
    /// The notice of violation as received from the police.
    pub notice: Value,
    /// The penalty decision, once an officer with sanctioning authority made it.
    pub decision: Option<Value>,
    /// The citizen's answer: its kind and what it says.
    pub answer: Option<Answered>,
    /// The last answer central refused, and why.
    pub refused_answer: Option<Answered>,
    /// The documents attached to the answer: name, kind, digest and size (the files themselves
    /// the citizen has).
    pub documents: Vec<protocol::AnswerDocument>,
    /// How the case came out other than by a decision: the answer to a dispute, or the case
    /// closed by central (time-barred, moved to the person named).
    pub resolution: Option<Resolution>,
    pub payments: Vec<PaymentRecord>,
    /// The channels the notice was delivered through, and how that went.
    pub deliveries: Vec<DeliveryRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answered {
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub outcome: String,
    /// `dispute`, `time_barred` or `transferred`.
    pub ground: String,
    pub answer: String,
    pub decided_at: protocol::UtcTimestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentRecord {
    pub txn_ref: String,
    pub amount_vnd: u64,
    pub state: &'static str,
    pub started_at: protocol::UtcTimestamp,
    pub transaction_no: Option<String>,
    pub pay_date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub channel: String,
    pub state: String,
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportRecord {
    pub format: String,
    pub at: protocol::UtcTimestamp,
}

fn json<M: Serialize>(message: &M) -> Result<Value, DbError> {
    serde_json::to_value(message).map_err(|e| DbError::Corrupt(format!("export: {e}")))
}

/// Records an export of `citizen_id`'s data as `format` at `now`, then gathers it.
pub async fn export(
    db: &Db,
    key: &SealingKey,
    citizen_id: &str,
    name: &str,
    format: &str,
    now: OffsetDateTime,
) -> Result<Export, DbError> {
    db::record_export(db, citizen_id, format, now).await?;
    let mut fines = Vec::new();
    for notice in db::notices_of(db, key, citizen_id).await? {
        let id = notice.fine_id.hyphenated().to_string();
        let decision = db::decision_of(db, key, &id).await?;
        let mut deliveries = Vec::new();
        for channel in db::delivery_channels_of(db, &id).await? {
            if let Some(d) = db::delivery_of(db, &id, &channel).await? {
                deliveries.push(DeliveryRecord {
                    channel,
                    state: d.state,
                    attempts: d.attempts,
                });
            }
        }
        fines.push(FineRecord {
            notice: json(&notice)?,
            decision: decision.as_ref().map(json).transpose()?,
            typed: (notice, decision),
            answer: db::answer_of(db, key, &id)
                .await?
                .map(|(kind, text)| Answered {
                    kind: kind.as_str().to_owned(),
                    text,
                }),
            refused_answer: db::refused_answer_of(db, &id)
                .await?
                .map(|(kind, text)| Answered { kind, text }),
            documents: db::documents_of_answer(db, &id).await?,
            resolution: db::resolution_of(db, key, &id).await?.map(|r| Resolution {
                outcome: r.outcome.as_str().to_owned(),
                ground: r.ground.as_str().to_owned(),
                answer: r.answer,
                decided_at: protocol::UtcTimestamp::from_datetime(r.decided_at),
            }),
            payments: db::payments_of(db, &id)
                .await?
                .into_iter()
                .map(|p| PaymentRecord {
                    txn_ref: p.txn_ref,
                    amount_vnd: p.amount_vnd,
                    state: p.state.as_str(),
                    started_at: protocol::UtcTimestamp::from_datetime(p.created_at),
                    transaction_no: p.transaction_no,
                    pay_date: p.pay_date,
                })
                .collect(),
            deliveries,
        });
    }
    let exports = db::exports_of(db, citizen_id)
        .await?
        .into_iter()
        .map(|(format, at)| ExportRecord {
            format,
            at: protocol::UtcTimestamp::from_datetime(at),
        })
        .collect();
    Ok(Export {
        about: ABOUT,
        exported_at: protocol::UtcTimestamp::from_datetime(now),
        citizen_id: citizen_id.to_owned(),
        name: name.to_owned(),
        fines,
        exports,
    })
}

/// The export on A4 pages, in Vietnamese, for reading and printing.
pub fn pdf(export: &Export) -> Result<Vec<u8>, String> {
    let font = paper::font()?;
    let width = PAGE.0 - 2.0 * MARGIN;
    let mut pages = vec![Sheet::new(&font)];
    // The page to write on: this one while it has room for a few more lines (a paragraph may
    // wrap), else a new one.
    fn room<'f>(pages: &mut Vec<Sheet<'f>>, font: &'f paper::FontRef<'static>, lines: f32) {
        if pages.last().is_none_or(|p| p.y - 14.0 * lines < MARGIN) {
            pages.push(Sheet::new(font));
        }
    }
    let mut item = |lines: &[(Option<&str>, String)], heading: Option<&str>| {
        if let Some(h) = heading {
            // A heading keeps its first lines with it.
            room(&mut pages, &font, 5.0);
            if let Some(page) = pages.last_mut() {
                page.y -= 6.0;
                page.paragraph(11.0, MARGIN, width, Some(h), "");
            }
        }
        for (label, text) in lines {
            room(&mut pages, &font, 3.0);
            if let Some(page) = pages.last_mut() {
                page.paragraph(9.5, MARGIN, width, *label, text);
            }
        }
    };
    item(
        &[
            (None, format!("Xuất lúc {}", local_time(export.exported_at))),
            (
                Some("Người được cấp:"),
                format!("{}, số định danh {}", export.name, export.citizen_id),
            ),
            (None, ABOUT.to_owned()),
        ],
        Some("DỮ LIỆU CÁ NHÂN CỦA TÔI — CỔNG TRA CỨU VI PHẠM GIAO THÔNG"),
    );
    if export.fines.is_empty() {
        item(
            &[(None, "Không có thông báo vi phạm nào.".to_owned())],
            None,
        );
    }
    for (i, f) in export.fines.iter().enumerate() {
        let (n, decision) = &f.typed;
        let mut lines = vec![
            (Some("Vụ việc:"), n.fine_id.hyphenated().to_string()),
            (
                Some("Phương tiện:"),
                format!("{} ({})", n.plate, n.vehicle_class.label_vi()),
            ),
            (
                Some("Thời gian, địa điểm:"),
                format!("{}, {}, {}", local_time(n.occurred_at), n.place, n.address),
            ),
            (Some("Căn cứ:"), n.legal_reference.clone()),
            (
                Some("Thông báo:"),
                format!(
                    "{} ngày {}; trả lời trước {}",
                    n.issuing_unit,
                    local_time(n.issued_at),
                    local_time(n.answer_due)
                ),
            ),
        ];
        if let Some(d) = decision {
            lines.push((
                Some("Quyết định xử phạt:"),
                format!(
                    "số {}, {} ₫, trừ {} điểm, {} ngày {}",
                    d.decision_number,
                    protocol::vi::vnd(d.amount_vnd),
                    d.points,
                    d.decided_by,
                    local_time(d.decided_at)
                ),
            ));
        }
        if let Some(a) = &f.answer {
            lines.push((Some("Trả lời:"), format!("{} — {}", a.kind, a.text)));
        }
        for d in &f.documents {
            lines.push((
                Some("Tài liệu đính kèm:"),
                format!("{} ({}, {} byte)", d.name, d.content_type, d.bytes),
            ));
        }
        if let Some(a) = &f.refused_answer {
            lines.push((
                Some("Trả lời bị từ chối:"),
                format!("{} — {}", a.kind, a.text),
            ));
        }
        if let Some(r) = &f.resolution {
            lines.push((
                Some("Kết quả giải quyết:"),
                format!(
                    "{} ({}) — {} ({})",
                    r.outcome,
                    r.ground,
                    r.answer,
                    local_time(r.decided_at)
                ),
            ));
        }
        for p in &f.payments {
            lines.push((
                Some("Thanh toán:"),
                format!(
                    "{} ₫, {} ({}), mã {}",
                    protocol::vi::vnd(p.amount_vnd),
                    p.state,
                    local_time(p.started_at),
                    p.txn_ref
                ),
            ));
        }
        for d in &f.deliveries {
            lines.push((
                Some("Gửi thông báo:"),
                format!("{}: {} sau {} lần", d.channel, d.state, d.attempts),
            ));
        }
        let heading = format!("{}. {}", i + 1, n.kind.label_vi());
        item(&lines, Some(&heading));
    }
    let exports: Vec<String> = export
        .exports
        .iter()
        .map(|e| format!("{} ({})", local_time(e.at), e.format))
        .collect();
    item(&[(None, exports.join("; "))], Some("Các lần tải dữ liệu"));
    Ok(paper::write(&font, &pages))
}
