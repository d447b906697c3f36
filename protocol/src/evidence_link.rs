//! Links through which a citizen's browser fetches the evidence of their own fine from
//! central-api: `GET /evidence/{sha256}?ct={content type}&exp={unix s}&sig={hex}`, where `sig`
//! is an HMAC-SHA256, under a secret central shares with citizen-notify, over the blob, its
//! content type and the expiry. citizen-notify mints them only for the files named in the
//! citizen's own notice; central serves a blob only on a valid, unexpired link. A link names
//! one file, for a few minutes, and cannot be changed into another.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{event::Sha256Digest, time::UtcTimestamp};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link has expired")]
    Expired,
    #[error("the link's signature does not verify")]
    BadSignature,
}

fn mac(secret: &[u8], sha256: &Sha256Digest, content_type: &str, expires_s: i64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("tve-evidence-link\n{sha256}\n{content_type}\n{expires_s}").as_bytes());
    mac
}

/// The path and query of a link to `sha256`, good until `expires_s` (unix seconds).
pub fn link(secret: &[u8], sha256: &Sha256Digest, content_type: &str, expires_s: i64) -> String {
    let sig = hex::encode(
        mac(secret, sha256, content_type, expires_s)
            .finalize()
            .into_bytes(),
    );
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("ct", content_type)
        .append_pair("exp", &expires_s.to_string())
        .append_pair("sig", &sig)
        .finish();
    format!("/evidence/{sha256}?{query}")
}

/// Checks a link's signature (in constant time) and expiry.
pub fn verify(
    secret: &[u8],
    sha256: &Sha256Digest,
    content_type: &str,
    expires_s: i64,
    sig: &str,
    now: UtcTimestamp,
) -> Result<(), LinkError> {
    let tag = hex::decode(sig).map_err(|_| LinkError::BadSignature)?;
    mac(secret, sha256, content_type, expires_s)
        .verify_slice(&tag)
        .map_err(|_| LinkError::BadSignature)?;
    if expires_s * 1000 < now.unix_ms() {
        return Err(LinkError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_one_file_until_it_expires() {
        let sha = Sha256Digest::of(b"at.jpg bytes");
        let other = Sha256Digest::of(b"someone else's clip");
        let now = UtcTimestamp::now();
        let exp = now.unix_ms() / 1000 + 600;
        let url = link(b"k", &sha, "image/jpeg", exp);
        let q: std::collections::BTreeMap<String, String> = form_urlencoded::parse(
            url.split_once('?')
                .map(|x| x.1)
                .unwrap_or_default()
                .as_bytes(),
        )
        .into_owned()
        .collect();
        assert!(url.starts_with(&format!("/evidence/{sha}?")));
        assert_eq!(q["ct"], "image/jpeg");
        let sig = &q["sig"];
        assert_eq!(verify(b"k", &sha, "image/jpeg", exp, sig, now), Ok(()));
        for (secret, sha, ct, exp) in [
            (&b"not k"[..], &sha, "image/jpeg", exp),
            (b"k", &other, "image/jpeg", exp),
            (b"k", &sha, "text/html", exp),
            (b"k", &sha, "image/jpeg", exp + 3600),
        ] {
            assert_eq!(
                verify(secret, sha, ct, exp, sig, now),
                Err(LinkError::BadSignature)
            );
        }
        let later = UtcTimestamp::from_unix_ms(now.unix_ms() + 601_000).unwrap_or(now);
        assert_eq!(
            verify(b"k", &sha, "image/jpeg", exp, sig, later),
            Err(LinkError::Expired)
        );
    }
}
