//! Officers, their roles, sign-in and sessions.
//!
//! Passwords are hashed with Argon2id. A session is a random token in an `HttpOnly`,
//! `SameSite=Strict` cookie (or an `Authorization: Bearer` header for API clients); only its
//! SHA-256 is stored. Every state-changing request made with the cookie must carry the session's
//! CSRF token in `x-csrf-token`.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use axum::{
    extract::FromRequestParts,
    http::{Method, StatusCode, header, request::Parts},
};
use protocol::Sha256Digest;
use serde::Serialize;

use crate::{db::officers, error::ServiceError, routes::ApiError, state::AppState};

pub const SESSION_COOKIE: &str = "tve_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What an officer may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reviews the queue: corrects plates, approves, rejects.
    Reviewer,
    /// A reviewer who can also reverse decisions and handles disputes.
    Supervisor,
    /// Devices, cameras, officers, the fine schedule.
    Admin,
    /// Reads everything and the audit log; changes nothing.
    Auditor,
    /// Holds sanctioning authority ("người có thẩm quyền xử phạt", Decree 189/2025/NĐ-CP
    /// Article 8 for the police titles): issues penalty decisions on answered cases. Distinct
    /// from the reviewer who confirms camera events.
    Sanctioning,
}

impl Role {
    pub const ALL: [Self; 5] = [
        Self::Reviewer,
        Self::Supervisor,
        Self::Admin,
        Self::Auditor,
        Self::Sanctioning,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reviewer => "reviewer",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::Sanctioning => "sanctioning",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// May decide on violations (correct plates, approve, reject).
    pub fn reviews(self) -> bool {
        matches!(self, Self::Reviewer | Self::Supervisor)
    }

    /// May print notices for the post: the roles that handle cases.
    pub fn prints_notices(self) -> bool {
        matches!(self, Self::Reviewer | Self::Supervisor | Self::Sanctioning)
    }

    /// May issue penalty decisions.
    pub fn decides(self) -> bool {
        matches!(self, Self::Sanctioning)
    }

    /// May see drivers' licence points.
    pub fn sees_points(self) -> bool {
        matches!(
            self,
            Self::Sanctioning | Self::Supervisor | Self::Reviewer | Self::Auditor
        )
    }

    /// May answer owners' disputes.
    pub fn supervises(self) -> bool {
        matches!(self, Self::Supervisor)
    }

    /// May administer: officers, devices, the fine schedule.
    pub fn administers(self) -> bool {
        matches!(self, Self::Admin)
    }

    /// May read the audit log.
    pub fn audits(self) -> bool {
        matches!(self, Self::Auditor | Self::Supervisor | Self::Admin)
    }
}

/// A signed-in officer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Officer {
    pub username: String,
    pub full_name: String,
    pub role: Role,
}

impl Officer {
    /// The actor name in the audit log.
    pub fn actor(&self) -> String {
        format!("officer:{}", self.username)
    }

    /// Refuses (`forbidden`) unless `allowed` holds for this officer's role.
    pub fn require(&self, allowed: fn(Role) -> bool, what: &str) -> Result<(), ServiceError> {
        if allowed(self.role) {
            Ok(())
        } else {
            Err(ServiceError::forbidden(
                "forbidden",
                format!("the {} role may not {what}", self.role.as_str()),
            ))
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// An Argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Why `password` is too weak for the officer `username`, if it is: under 12 characters,
/// containing the username, or made of fewer than 6 different characters (`aaaaaaaaaaaa`,
/// `123123123123`). Length over composition rules, as NIST SP 800-63B advises.
pub fn password_weakness(password: &str, username: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    let distinct: std::collections::BTreeSet<char> = lower.chars().collect();
    if password.chars().count() < 12 {
        Some("at least 12 characters")
    } else if username.len() >= 3 && lower.contains(&username.to_lowercase()) {
        Some("must not contain the username")
    } else if distinct.len() < 6 {
        Some("at least 6 different characters")
    } else {
        None
    }
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// How a session token is stored.
pub fn token_digest(token: &str) -> String {
    Sha256Digest::of(token.as_bytes()).to_hex()
}

/// The session token of a request, and whether it came from the cookie (a bearer header wins).
pub fn session_token(headers: &axum::http::HeaderMap) -> Option<(String, bool)> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((bearer.trim().to_owned(), false));
    }
    service_kit::http::cookie(headers, SESSION_COOKIE).map(|value| (value.to_owned(), true))
}

/// The officer behind a request: from the session cookie (with the CSRF check on every
/// state-changing method) or a bearer token.
#[derive(Debug, Clone)]
pub struct Signed(pub Officer);

impl FromRequestParts<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthenticated =
            || ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first");
        let (token, from_cookie) = session_token(&parts.headers).ok_or_else(unauthenticated)?;
        let idle = state.review.session_idle();
        let (officer, csrf) = officers::session(&state.db, &token_digest(&token), idle)
            .await?
            .ok_or_else(unauthenticated)?;
        let changes_state = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if from_cookie && changes_state {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !sent.is_some_and(|sent| protocol::same_token(sent, &csrf)) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong x-csrf-token",
                ));
            }
        }
        Ok(Self(officer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_named_for_what_is_weak() {
        let weak = |p| password_weakness(p, "nguyen.van.an");
        assert_eq!(weak("ngắn quá"), Some("at least 12 characters"));
        assert_eq!(
            weak("NGUYEN.VAN.AN-2025"),
            Some("must not contain the username")
        );
        assert_eq!(
            weak("123123123123"),
            Some("at least 6 different characters")
        );
        assert_eq!(
            weak("aaaaaaaaaaaaaaaa"),
            Some("at least 6 different characters")
        );
        assert_eq!(weak("mật khẩu của cán bộ 2025"), None);
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let phc = hash_password("mật khẩu dài 2025").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("mật khẩu dài 2025", &phc));
        assert!(!verify_password("mật khẩu dài 2026", &phc));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn roles_and_their_powers() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(Role::Reviewer.reviews() && Role::Supervisor.reviews());
        assert!(!Role::Auditor.reviews() && !Role::Admin.reviews());
        assert!(Role::Auditor.audits() && !Role::Reviewer.audits());
        assert!(Role::Supervisor.supervises());
        assert!(!Role::Reviewer.supervises() && !Role::Admin.supervises());
    }
}
