//! OpenID Connect as both sides use it here: the citizen portal (relying party) and the identity
//! provider that stands in for VNeID in tests and the demo. No I/O: the discovery document,
//! JSON Web Keys, ID-token claims, compact JWS with EdDSA (Ed25519, RFC 8037) and PKCE (S256,
//! RFC 7636).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::time::UtcTimestamp;

/// The JWS algorithm of Ed25519 signatures.
pub const EDDSA: &str = "EdDSA";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a compact JWS")]
    Malformed,
    #[error("token algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("no key {0} in the provider's key set")]
    UnknownKey(String),
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token claim `{0}` is wrong")]
    Claim(&'static str),
    #[error("token has expired")]
    Expired,
}

/// `/.well-known/openid-configuration`, the parts a relying party uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub subject_types_supported: Vec<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// One JSON Web Key (an Ed25519 public key: `kty` OKP, `crv` Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub crv: String,
    #[serde(default)]
    pub x: String,
    #[serde(default)]
    pub kid: String,
    #[serde(default, rename = "use")]
    pub usage: String,
    #[serde(default)]
    pub alg: String,
}

impl Jwk {
    pub fn ed25519(kid: &str, key: &VerifyingKey) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: B64URL.encode(key.as_bytes()),
            kid: kid.into(),
            usage: "sig".into(),
            alg: EDDSA.into(),
        }
    }

    fn verifying_key(&self) -> Option<VerifyingKey> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return None;
        }
        let bytes: [u8; 32] = B64URL.decode(&self.x).ok()?.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok()
    }
}

/// `jwks_uri`'s document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// The claims of an ID token this system issues and accepts. `sub` is the citizen's personal
/// identification number (12 digits), as VNeID identifies people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    /// Seconds since the epoch.
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: String,
    #[serde(default)]
    typ: String,
}

/// `header.payload.signature`, signed with Ed25519.
pub fn sign<T: Serialize>(key: &SigningKey, kid: &str, claims: &T) -> String {
    let header = Header {
        alg: EDDSA.into(),
        kid: kid.into(),
        typ: "JWT".into(),
    };
    let input = format!("{}.{}", b64_json(&header), b64_json(claims));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64URL.encode(signature.to_bytes()))
}

/// base64url of the JSON of `v` (serializing these plain structs cannot fail).
fn b64_json<T: Serialize + ?Sized>(v: &T) -> String {
    B64URL.encode(serde_json::to_vec(v).unwrap_or_default())
}

/// Verifies a compact JWS against a key set (EdDSA only; the key chosen by `kid`) and returns
/// its claims. The claims' meaning is checked by the caller (see [`check_id_token`]).
pub fn verify<T: DeserializeOwned>(token: &str, keys: &JwkSet) -> Result<T, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = B64URL
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if header.alg != EDDSA {
        return Err(TokenError::Algorithm(header.alg));
    }
    let key = keys
        .keys
        .iter()
        .find(|k| k.kid == header.kid)
        .and_then(Jwk::verifying_key)
        .ok_or_else(|| TokenError::UnknownKey(header.kid.clone()))?;
    let signature: [u8; 64] = B64URL
        .decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(TokenError::Malformed)?;
    key.verify(
        format!("{h}.{p}").as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .map_err(|_| TokenError::BadSignature)?;
    B64URL
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)
}

/// Verifies an ID token and checks its issuer, audience, nonce and lifetime (one minute of
/// clock skew allowed).
pub fn check_id_token(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: UtcTimestamp,
) -> Result<IdClaims, TokenError> {
    let claims: IdClaims = verify(token, keys)?;
    if claims.iss != issuer {
        return Err(TokenError::Claim("iss"));
    }
    if claims.aud != client_id {
        return Err(TokenError::Claim("aud"));
    }
    if claims.nonce != nonce {
        return Err(TokenError::Claim("nonce"));
    }
    let now_s = now.unix_ms() / 1000;
    if claims.exp + 60 < now_s {
        return Err(TokenError::Expired);
    }
    if claims.iat - 60 > now_s {
        return Err(TokenError::Claim("iat"));
    }
    Ok(claims)
}

/// PKCE's S256 challenge of a verifier: base64url(SHA-256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    B64URL.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> IdClaims {
        IdClaims {
            iss: "http://idp.test".into(),
            sub: "079203012345".into(),
            aud: "portal".into(),
            exp: now + 300,
            iat: now,
            nonce: "n-0S6_WzA2Mj".into(),
            name: "Nguyễn Văn A".into(),
        }
    }

    #[test]
    fn an_id_token_verifies_only_as_issued() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let keys = JwkSet {
            keys: vec![Jwk::ed25519("k1", &key.verifying_key())],
        };
        let now = UtcTimestamp::now();
        let s = now.unix_ms() / 1000;
        let token = sign(&key, "k1", &claims(s));
        let check = |t: &str, aud: &str, nonce: &str| {
            check_id_token(t, &keys, "http://idp.test", aud, nonce, now)
        };
        assert_eq!(check(&token, "portal", "n-0S6_WzA2Mj"), Ok(claims(s)));
        assert_eq!(
            check(&token, "another-app", "n-0S6_WzA2Mj"),
            Err(TokenError::Claim("aud"))
        );
        assert_eq!(
            check(&token, "portal", "other"),
            Err(TokenError::Claim("nonce"))
        );
        // Another key under the same kid, a changed payload, an unsigned token.
        let forged = sign(&SigningKey::from_bytes(&[8u8; 32]), "k1", &claims(s));
        assert_eq!(
            check(&forged, "portal", "n-0S6_WzA2Mj"),
            Err(TokenError::BadSignature)
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = B64URL.encode(
            serde_json::to_vec(&IdClaims {
                sub: "001099000001".into(),
                ..claims(s)
            })
            .unwrap_or_default(),
        );
        parts[1] = &other;
        assert_eq!(
            check(&parts.join("."), "portal", "n-0S6_WzA2Mj"),
            Err(TokenError::BadSignature)
        );
        let none = format!(
            "{}.{}.",
            B64URL.encode(br#"{"alg":"none"}"#),
            token.split('.').nth(1).unwrap_or_default()
        );
        assert_eq!(
            check(&none, "portal", "n-0S6_WzA2Mj"),
            Err(TokenError::Algorithm("none".into()))
        );
        let old = sign(
            &key,
            "k1",
            &IdClaims {
                exp: s - 3600,
                iat: s - 3900,
                ..claims(s)
            },
        );
        assert_eq!(
            check(&old, "portal", "n-0S6_WzA2Mj"),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn pkce_s256_matches_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
