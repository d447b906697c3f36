//! An answer's form as the browser posts it: URL-encoded, or `multipart/form-data` when the
//! citizen attaches documents (a sale contract, a police report, what supports an explanation).
//! Each file is read up to [`MAX_DOCUMENT_BYTES`] and taken for what its first bytes show
//! ([`AnswerDocument::of`]); a file that is not a PDF, JPEG or PNG, one too large, or more than
//! [`MAX_DOCUMENTS`] of them are not refused here but reported in [`AnswerForm::problem`], for
//! the handler to answer once it knows the form is the signed-in citizen's own.

use axum::{
    Form,
    extract::{DefaultBodyLimit, FromRequest, Multipart, Request},
    http::header,
    response::{IntoResponse, Response},
};
use protocol::{
    AnswerDocument,
    answer_document::{MAX_DOCUMENT_BYTES, MAX_DOCUMENTS},
};
use serde::de::DeserializeOwned;

use crate::db::Attached;

/// The name of the form's file input.
pub const FILE_FIELD: &str = "document_file";

/// The largest body an answer's form may have: its documents and the text around them.
pub fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_DOCUMENTS * MAX_DOCUMENT_BYTES as usize + 256 * 1024)
}

/// What is wrong with the documents of a form, in Vietnamese and in English.
pub type Problem = (&'static str, &'static str);

/// An answer's form: its text fields as `F`, and the documents attached.
#[derive(Debug)]
pub struct AnswerForm<F> {
    pub fields: F,
    pub attached: Vec<Attached>,
    pub problem: Option<Problem>,
}

const NOT_A_DOCUMENT: Problem = (
    "Tài liệu đính kèm phải là tệp PDF, JPEG hoặc PNG",
    "An attached document must be a PDF, JPEG or PNG file.",
);
const TOO_LARGE: Problem = (
    "Mỗi tài liệu đính kèm không quá 5 MB",
    "Each attached document may be at most 5 MB.",
);
const TOO_MANY: Problem = (
    "Đính kèm tối đa 3 tài liệu",
    "At most 3 documents may be attached.",
);

impl<S, F> FromRequest<S> for AnswerForm<F>
where
    S: Send + Sync,
    F: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let Form(fields) = Form::<F>::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            return Ok(Self {
                fields,
                attached: Vec::new(),
                problem: None,
            });
        }
        let mut parts = Multipart::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut text = serde_json::Map::new();
        let mut attached = Vec::new();
        let mut problem = None;
        while let Some(mut field) = parts
            .next_field()
            .await
            .map_err(IntoResponse::into_response)?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name != FILE_FIELD {
                let value = field.text().await.map_err(IntoResponse::into_response)?;
                text.insert(name, serde_json::Value::String(value));
                continue;
            }
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let mut body = Vec::new();
            let mut too_large = false;
            while let Some(chunk) = field.chunk().await.map_err(IntoResponse::into_response)? {
                if too_large {
                    continue;
                }
                if body.len() + chunk.len() > MAX_DOCUMENT_BYTES as usize {
                    too_large = true;
                    body = Vec::new();
                } else {
                    body.extend_from_slice(&chunk);
                }
            }
            // A file input left empty is sent as a part with no name and no bytes.
            if file_name.is_empty() && body.is_empty() && !too_large {
                continue;
            }
            if too_large {
                problem.get_or_insert(TOO_LARGE);
                continue;
            }
            match AnswerDocument::of(&file_name, &body) {
                // The same file chosen twice is one document.
                Ok(d)
                    if attached
                        .iter()
                        .any(|(a, _): &Attached| a.sha256 == d.sha256) => {}
                Ok(_) if attached.len() == MAX_DOCUMENTS => {
                    problem.get_or_insert(TOO_MANY);
                }
                Ok(document) => attached.push((document, body)),
                Err(_) => {
                    problem.get_or_insert(NOT_A_DOCUMENT);
                }
            }
        }
        let fields = serde_json::from_value(serde_json::Value::Object(text)).map_err(|e| {
            (axum::http::StatusCode::BAD_REQUEST, format!("form: {e}")).into_response()
        })?;
        Ok(Self {
            fields,
            attached,
            problem,
        })
    }
}
