//! Service-to-service requests (central-api → citizen-notify and back) are authenticated with an
//! HMAC-SHA256 over the request time and body, under a secret both sides share:
//!
//! `x-tve-signature: t=<unix ms>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`
//!
//! The receiver checks the time against its clock (a captured request replays only within the
//! allowed skew, and the receivers are idempotent) and compares the MAC in constant time.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::time::UtcTimestamp;

pub const SIGNATURE_HEADER: &str = "x-tve-signature";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAuthError {
    #[error("header `x-tve-signature` is missing")]
    Missing,
    #[error("header `x-tve-signature` is malformed: expected t=<ms>,v1=<hex>")]
    Malformed,
    #[error("request time is more than {0} s from this server's clock")]
    Skew(u64),
    #[error("signature does not verify")]
    Mismatch,
}

fn mac(secret: &[u8], at_ms: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(at_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `at`.
pub fn sign(secret: &[u8], at: UtcTimestamp, body: &[u8]) -> String {
    let tag = mac(secret, at.unix_ms(), body).finalize().into_bytes();
    format!("t={},v1={}", at.unix_ms(), hex::encode(tag))
}

/// Checks a header value against `body`, the time against `now`.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: UtcTimestamp,
    max_skew: Duration,
) -> Result<(), ServiceAuthError> {
    let header = header.ok_or(ServiceAuthError::Missing)?;
    let mut at = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => at = v.parse::<i64>().ok(),
            Some(("v1", v)) => tag = hex::decode(v).ok(),
            _ => return Err(ServiceAuthError::Malformed),
        }
    }
    let (Some(at), Some(tag)) = (at, tag) else {
        return Err(ServiceAuthError::Malformed);
    };
    if u128::from((now.unix_ms() - at).unsigned_abs()) > max_skew.as_millis() {
        return Err(ServiceAuthError::Skew(max_skew.as_secs()));
    }
    mac(secret, at, body)
        .verify_slice(&tag)
        .map_err(|_| ServiceAuthError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bodies_verify_and_changed_ones_do_not() {
        let at = UtcTimestamp::from_unix_ms(1_764_146_096_250).unwrap();
        let skew = Duration::from_secs(300);
        let header = sign(b"shared secret", at, b"{\"fine\":1}");
        assert_eq!(
            verify(b"shared secret", Some(&header), b"{\"fine\":1}", at, skew),
            Ok(())
        );
        assert_eq!(
            verify(b"shared secret", Some(&header), b"{\"fine\":2}", at, skew),
            Err(ServiceAuthError::Mismatch)
        );
        assert_eq!(
            verify(b"other secret", Some(&header), b"{\"fine\":1}", at, skew),
            Err(ServiceAuthError::Mismatch)
        );
        let later = UtcTimestamp::from_unix_ms(at.unix_ms() + 301_000).unwrap();
        assert_eq!(
            verify(
                b"shared secret",
                Some(&header),
                b"{\"fine\":1}",
                later,
                skew
            ),
            Err(ServiceAuthError::Skew(300))
        );
        assert_eq!(
            verify(b"shared secret", None, b"", at, skew),
            Err(ServiceAuthError::Missing)
        );
        assert_eq!(
            verify(b"shared secret", Some("v2=00"), b"", at, skew),
            Err(ServiceAuthError::Malformed)
        );
    }
}
