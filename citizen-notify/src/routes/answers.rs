//! The citizen's answer to a notice, from the portal's forms: "I was driving" (for an
//! organisation, that it names no driver), an explanation ("giải trình"), another person named
//! as the driver, the vehicle sold or stolen — each with the documents attached to it
//! ([`super::answer_form`]) — checked as the law and the case allow, then recorded with its
//! report to central.

use axum::{
    extract::{FromRequest, Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use protocol::{Buyer, FineChange, NamedAs, NamedDriver};

use super::{
    AppState,
    answer_form::AnswerForm,
    portal::{CsrfForm, citizen, failure, html, own_fine, poster, see_other},
};
use crate::{
    db::{self, Answer},
    pages::message,
};

/// A form the portal cannot take, with what is wrong and the way back.
fn unprocessable(fine_id: &str, vi: &str, en: &str) -> Response {
    html(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Chưa thể gửi",
        message(
            vi,
            en,
            Some((&format!("/fines/{fine_id}"), "Quay lại / Back")),
        ),
    )
}

/// The answer a form gives, as reported to central, or what is wrong with the form (in
/// Vietnamese and English).
fn given(form: &CsrfForm, kind: Answer) -> Result<FineChange, (&'static str, &'static str)> {
    match kind {
        Answer::Confirmed => Ok(FineChange::Confirmed),
        Answer::Disputed => {
            let reason = form.reason.trim();
            if reason.is_empty() || reason.chars().count() > 2000 {
                return Err((
                    "Vui lòng ghi nội dung giải trình",
                    "An explanation needs its text (up to 2000 characters).",
                ));
            }
            Ok(FineChange::Disputed {
                reason: reason.to_owned(),
            })
        }
        Answer::DriverNamed => {
            let (full_name, citizen_id) = named_person(form)?;
            let licence_no = form.licence_no.trim().to_owned();
            if !NamedDriver::valid_licence(&licence_no) {
                return Err((
                    "Số giấy phép lái xe gồm 12 chữ số",
                    "A driving licence number is 12 digits.",
                ));
            }
            Ok(FineChange::DriverNamed {
                driver: NamedDriver {
                    full_name,
                    citizen_id,
                    licence_no,
                },
            })
        }
        Answer::VehicleSold => {
            let (full_name, citizen_id) = named_person(form)?;
            Ok(FineChange::VehicleSold {
                buyer: Buyer {
                    full_name,
                    citizen_id,
                },
                sold_on: day_of(form)?,
                contract: document_of(form)?,
            })
        }
        Answer::VehicleStolen => Ok(FineChange::VehicleStolen {
            reported_on: day_of(form)?,
            report: document_of(form)?,
        }),
    }
}

/// The person a form names: full name (spaces tidied) and identity number.
fn named_person(
    form: &CsrfForm,
) -> Result<(String, protocol::CitizenId), (&'static str, &'static str)> {
    let full_name = form
        .driver_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if full_name.is_empty() || full_name.chars().count() > 100 {
        return Err((
            "Vui lòng ghi họ và tên",
            "The person's full name is needed (up to 100 characters).",
        ));
    }
    let citizen_id = protocol::CitizenId::parse(form.driver_id.trim()).map_err(|_| {
        (
            "Số định danh cá nhân gồm 12 chữ số",
            "An identity number is 12 digits.",
        )
    })?;
    Ok((full_name, citizen_id))
}

/// The day a form gives, `YYYY-MM-DD`, not after today (Vietnam time).
fn day_of(form: &CsrfForm) -> Result<String, (&'static str, &'static str)> {
    let day = form.day.trim();
    let today = protocol::UtcTimestamp::now()
        .as_datetime()
        .to_offset(protocol::time::VIETNAM)
        .date();
    match protocol::notice::parse_day(day) {
        Some(d) if d <= today => Ok(day.to_owned()),
        _ => Err(("Ngày không hợp lệ", "The day is missing or in the future.")),
    }
}

/// The document a form cites (a contract, a police report): 1–200 characters.
fn document_of(form: &CsrfForm) -> Result<String, (&'static str, &'static str)> {
    let text = form.document.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Err((
            "Vui lòng ghi giấy tờ chứng minh",
            "The document that proves it is needed (up to 200 characters).",
        ));
    }
    Ok(text.to_owned())
}

/// How many times a fine's owner may name a person central then refuses (no such citizen, or
/// not by that name) before naming one online is closed to them.
const MAX_REFUSED_NAMINGS: i64 = 3;

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    fine_id: &str,
    posted: AnswerForm<CsrfForm>,
    kind: Answer,
) -> Response {
    let form = &posted.fields;
    let who = match poster(state, headers, form).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let (who, notice) = match own_fine(state, who, fine_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some((vi, en)) = posted.problem {
        return unprocessable(fine_id, vi, en);
    }
    if kind == Answer::Confirmed && !posted.attached.is_empty() {
        return unprocessable(
            fine_id,
            "Tài liệu được đính kèm với giải trình, khai báo người điều khiển, bán xe hoặc mất cắp",
            "Documents go with an explanation, a person named, a sale or a theft.",
        );
    }
    if protocol::UtcTimestamp::now().as_datetime() > notice.answer_due.as_datetime() {
        return unprocessable(
            fine_id,
            "Đã quá thời hạn trả lời trực tuyến",
            "The time to answer online has passed: come to the handling unit.",
        );
    }
    match db::resolution_of(&state.db, &state.sealing, fine_id).await {
        Ok(Some(r)) if r.cancelled() => {
            return unprocessable(
                fine_id,
                "Vụ việc đã kết thúc: không cần trả lời",
                "The case is closed: there is nothing to answer.",
            );
        }
        Err(e) => return failure(&e),
        _ => {}
    }
    let passes_on = matches!(
        kind,
        Answer::DriverNamed | Answer::VehicleSold | Answer::VehicleStolen
    );
    let may_pass_on = match notice.named_as {
        None => true,
        // A buyer answers as the owner does, except for what only the registered owner can say.
        Some(NamedAs::Buyer) => kind == Answer::DriverNamed,
        Some(NamedAs::Driver) => false,
    };
    if passes_on && !may_pass_on {
        return unprocessable(
            fine_id,
            "Người được chủ phương tiện khai báo tự trả lời thông báo",
            "A person the owner named answers for themselves.",
        );
    }
    // Each refusal tells whether a citizen id exists under a name: a few mistakes are the
    // owner's to mend, more are questions to the population database, answered in person.
    if matches!(kind, Answer::DriverNamed | Answer::VehicleSold) {
        match db::refused_namings(&state.db, fine_id).await {
            Ok(n) if n >= MAX_REFUSED_NAMINGS => {
                return unprocessable(
                    fine_id,
                    "Đã khai báo người không khớp với Cơ sở dữ liệu quốc gia về dân cư quá số lần \
                     cho phép: vui lòng đến cơ quan xử lý để khai báo trực tiếp",
                    "The people named did not match the population database too many times: \
                     come to the handling unit to name them in person.",
                );
            }
            Err(e) => return failure(&e),
            Ok(_) => {}
        }
    }
    let change = match given(form, kind) {
        Ok(c) => c,
        Err((vi, en)) => return unprocessable(fine_id, vi, en),
    };
    match db::paid_payment_of(&state.db, fine_id).await {
        Ok(Some(_)) if kind != Answer::Confirmed => {
            return html(
                StatusCode::CONFLICT,
                "Đã nộp phạt",
                message("Khoản phạt đã được nộp", "This fine is paid.", None),
            );
        }
        Err(e) => return failure(&e),
        _ => {}
    }
    match db::answer(
        &state.db,
        &state.sealing,
        fine_id,
        &who.citizen_id,
        change,
        &posted.attached,
    )
    .await
    {
        Ok(_) => {
            tracing::info!(fine_id, answer = kind.as_str(), "citizen answered");
            see_other(&format!("/fines/{fine_id}"))
        }
        Err(e) => failure(&e),
    }
}

/// `POST /fines/{id}/confirm`, `/dispute`, `/driver`, `/sold`, `/stolen`: the citizen answers
/// the notice as `kind`, with the documents attached to it (URL-encoded, or multipart with
/// files: [`AnswerForm`]).
pub fn answering(kind: Answer) -> axum::routing::MethodRouter<AppState> {
    axum::routing::post(
        move |State(state): State<AppState>,
              Path(fine_id): Path<String>,
              headers: HeaderMap,
              request: axum::extract::Request| async move {
            // The body, documents and all, is read for a signed-in citizen only.
            match citizen(&state, &headers).await {
                Ok(Some(_)) => {}
                Ok(None) => return see_other("/login"),
                Err(e) => return failure(&e),
            }
            match AnswerForm::<CsrfForm>::from_request(request, &state).await {
                Ok(posted) => answer(&state, &headers, &fine_id, posted, kind).await,
                Err(refused) => refused,
            }
        },
    )
    .layer(super::answer_form::body_limit())
}
