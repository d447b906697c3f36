//! The one place a domain error becomes an HTTP answer: each kind of [`ServiceError`] its status,
//! with the code and message the service layer gave. The JSON routes and the review pages both
//! answer through [`ApiError`] (a page shows it in its alert box).

use axum::http::StatusCode;
pub use service_kit::http::ApiError;

use crate::error::ServiceError;

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let (status, code, message) = match e {
            ServiceError::Invalid { code, message } => (StatusCode::BAD_REQUEST, code, message),
            ServiceError::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message),
            ServiceError::NotFound { code, message } => (StatusCode::NOT_FOUND, code, message),
            ServiceError::Conflict { code, message } => (StatusCode::CONFLICT, code, message),
            ServiceError::Gone { code, message } => (StatusCode::GONE, code, message),
            ServiceError::Unavailable { code, message } => {
                (StatusCode::SERVICE_UNAVAILABLE, code, message)
            }
            ServiceError::Db(e) => return e.into(),
            ServiceError::Internal(e) => return ApiError::internal(e),
        };
        ApiError::new(status, code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::review::Refused;

    #[test]
    fn each_kind_answers_with_its_status_and_keeps_its_code() {
        let cases = [
            (
                ServiceError::bad_request("plate", "no"),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                ServiceError::forbidden("forbidden", "no"),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (
                ServiceError::from(Refused::NoOwner),
                StatusCode::CONFLICT,
                "no_owner",
            ),
            (
                ServiceError::gone("purged", "gone"),
                StatusCode::GONE,
                "purged",
            ),
            (
                ServiceError::unavailable("registry", "timeout"),
                StatusCode::SERVICE_UNAVAILABLE,
                "registry",
            ),
            (
                ServiceError::internal("disk on fire"),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
        ];
        for (e, status, code) in cases {
            let api = ApiError::from(e);
            assert_eq!((api.status, api.code), (status, code));
        }
    }
}
