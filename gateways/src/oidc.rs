//! OpenID Connect as both sides use it here: the citizen portal (relying party) and the identity
//! provider that stands in for VNeID in tests and the demo. No I/O: the discovery document,
//! JSON Web Keys, ID-token claims, compact JWS with EdDSA (Ed25519, RFC 8037) and — feature
//! `rs256` — RS256 (RFC 7518 §3.3, the algorithm OpenID Connect requires of every provider), and
//! PKCE (S256, RFC 7636).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use protocol::time::UtcTimestamp;

/// The JWS algorithm of Ed25519 signatures.
pub const EDDSA: &str = "EdDSA";
/// The JWS algorithm RSASSA-PKCS1-v1_5 with SHA-256 (verified with feature `rs256`).
pub const RS256: &str = "RS256";
/// The smallest RSA modulus accepted, in bits.
pub const RSA_MIN_BITS: u32 = 2048;

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

/// One JSON Web Key: an Ed25519 public key (`kty` OKP, `crv` Ed25519, `x`) or an RSA public key
/// (`kty` RSA, `n`, `e`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub crv: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub x: String,
    /// An RSA key's modulus and exponent, base64url big-endian.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub n: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub e: String,
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
            n: String::new(),
            e: String::new(),
            kid: kid.into(),
            usage: "sig".into(),
            alg: EDDSA.into(),
        }
    }

    /// The public half of an RSA key, for RS256.
    #[cfg(feature = "rs256")]
    pub fn rsa<T: openssl::pkey::HasPublic>(kid: &str, key: &openssl::rsa::RsaRef<T>) -> Self {
        Self {
            kty: "RSA".into(),
            crv: String::new(),
            x: String::new(),
            n: B64URL.encode(key.n().to_vec()),
            e: B64URL.encode(key.e().to_vec()),
            kid: kid.into(),
            usage: "sig".into(),
            alg: RS256.into(),
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
    pub aud: Audience,
    /// The party the token was issued to, when the audience names several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Seconds since the epoch.
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub name: String,
}

/// `aud`: one client id, or several (OpenID Connect Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

impl From<&str> for Audience {
    fn from(client_id: &str) -> Self {
        Self::One(client_id.to_owned())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: String,
    #[serde(default)]
    typ: String,
}

/// The signing input, `header.payload`, of a token with `alg` and `kid`.
fn signing_input<T: Serialize>(alg: &str, kid: &str, claims: &T) -> String {
    let header = Header {
        alg: alg.into(),
        kid: kid.into(),
        typ: "JWT".into(),
    };
    format!("{}.{}", b64_json(&header), b64_json(claims))
}

/// `header.payload.signature`, signed with Ed25519.
pub fn sign<T: Serialize>(key: &SigningKey, kid: &str, claims: &T) -> String {
    let input = signing_input(EDDSA, kid, claims);
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64URL.encode(signature.to_bytes()))
}

/// `header.payload.signature`, signed with RS256.
#[cfg(feature = "rs256")]
pub fn sign_rs256<T: Serialize>(
    key: &openssl::pkey::PKeyRef<openssl::pkey::Private>,
    kid: &str,
    claims: &T,
) -> Result<String, openssl::error::ErrorStack> {
    let input = signing_input(RS256, kid, claims);
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key)?;
    signer.update(input.as_bytes())?;
    let signature = signer.sign_to_vec()?;
    Ok(format!("{input}.{}", B64URL.encode(signature)))
}

/// Whether `signature` is `key`'s RS256 signature of `input` (an RSA key of at least
/// [`RSA_MIN_BITS`]).
#[cfg(feature = "rs256")]
fn rs256_verifies(key: &Jwk, input: &[u8], signature: &[u8]) -> bool {
    use openssl::{bn::BigNum, hash::MessageDigest, pkey::PKey, rsa::Rsa, sign::Verifier};
    if key.kty != "RSA" {
        return false;
    }
    let number = |text: &str| {
        B64URL
            .decode(text)
            .ok()
            .and_then(|b| BigNum::from_slice(&b).ok())
    };
    let (Some(n), Some(e)) = (number(&key.n), number(&key.e)) else {
        return false;
    };
    if n.num_bits() < RSA_MIN_BITS as i32 {
        return false;
    }
    let verified = Rsa::from_public_components(n, e)
        .and_then(PKey::from_rsa)
        .and_then(|pkey| {
            let mut verifier = Verifier::new(MessageDigest::sha256(), &pkey)?;
            verifier.update(input)?;
            verifier.verify(signature)
        });
    verified.unwrap_or(false)
}

/// base64url of the JSON of `v` (serializing these plain structs cannot fail).
fn b64_json<T: Serialize + ?Sized>(v: &T) -> String {
    B64URL.encode(serde_json::to_vec(v).unwrap_or_default())
}

/// Verifies a compact JWS against a key set and returns its claims: EdDSA, and RS256 with
/// feature `rs256`; the key chosen by `kid` (or, without one, any key of the set of the right
/// kind). The claims' meaning is checked by the caller (see [`check_id_token`]).
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
    let signature = B64URL.decode(s).map_err(|_| TokenError::Malformed)?;
    let input = format!("{h}.{p}");
    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| header.kid.is_empty() || k.kid == header.kid)
        .collect();
    let verified = match header.alg.as_str() {
        EDDSA => {
            let signature: [u8; 64] = signature.try_into().map_err(|_| TokenError::Malformed)?;
            let signature = ed25519_dalek::Signature::from_bytes(&signature);
            let usable: Vec<VerifyingKey> = candidates
                .iter()
                .filter_map(|k| k.verifying_key())
                .collect();
            if usable.is_empty() {
                return Err(TokenError::UnknownKey(header.kid));
            }
            usable
                .iter()
                .any(|k| k.verify(input.as_bytes(), &signature).is_ok())
        }
        #[cfg(feature = "rs256")]
        RS256 => {
            let usable: Vec<&&Jwk> = candidates.iter().filter(|k| k.kty == "RSA").collect();
            if usable.is_empty() {
                return Err(TokenError::UnknownKey(header.kid));
            }
            usable
                .iter()
                .any(|k| rs256_verifies(k, input.as_bytes(), &signature))
        }
        _ => return Err(TokenError::Algorithm(header.alg)),
    };
    if !verified {
        return Err(TokenError::BadSignature);
    }
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
    let audience = claims.aud.names();
    if !audience.iter().any(|a| a == client_id) {
        return Err(TokenError::Claim("aud"));
    }
    // Several audiences: the token must have been issued to this client (Core §3.1.3.7).
    if (audience.len() > 1 || claims.azp.is_some()) && claims.azp.as_deref() != Some(client_id) {
        return Err(TokenError::Claim("azp"));
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
            azp: None,
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

    #[cfg(feature = "rs256")]
    #[test]
    fn an_rs256_id_token_verifies_only_with_its_providers_key() {
        use openssl::{pkey::PKey, rsa::Rsa};
        let rsa = |bits| PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap();
        let key = rsa(2048);
        let keys = JwkSet {
            keys: vec![
                Jwk::ed25519("ed", &SigningKey::from_bytes(&[7u8; 32]).verifying_key()),
                Jwk::rsa("rsa-1", &key.rsa().unwrap()),
            ],
        };
        let now = UtcTimestamp::now();
        let s = now.unix_ms() / 1000;
        let check =
            |t: &str| check_id_token(t, &keys, "http://idp.test", "portal", "n-0S6_WzA2Mj", now);
        let token = sign_rs256(&key, "rsa-1", &claims(s)).unwrap();
        assert_eq!(check(&token), Ok(claims(s)));
        // Without a kid, the set's RSA key is tried.
        assert_eq!(
            check(&sign_rs256(&key, "", &claims(s)).unwrap()),
            Ok(claims(s))
        );
        // Another key under the provider's kid; a key too short to trust; an unknown kid.
        let other = sign_rs256(&rsa(2048), "rsa-1", &claims(s)).unwrap();
        assert_eq!(check(&other), Err(TokenError::BadSignature));
        let short = rsa(1024);
        let weak = JwkSet {
            keys: vec![Jwk::rsa("short", &short.rsa().unwrap())],
        };
        let token_weak = sign_rs256(&short, "short", &claims(s)).unwrap();
        assert_eq!(
            verify::<IdClaims>(&token_weak, &weak),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            check(&sign_rs256(&key, "gone", &claims(s)).unwrap()),
            Err(TokenError::UnknownKey("gone".into()))
        );
        // The RSA key does not verify an EdDSA header: no algorithm confusion.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[0] = B64URL.encode(br#"{"alg":"EdDSA","kid":"rsa-1"}"#);
        assert_eq!(
            check(&parts.join(".")),
            Err(TokenError::Malformed),
            "an RSA signature is no Ed25519 signature"
        );
        // Several audiences: only with this portal as the authorized party.
        let many = IdClaims {
            aud: Audience::Many(vec!["portal".into(), "another-app".into()]),
            ..claims(s)
        };
        assert_eq!(
            check(&sign_rs256(&key, "rsa-1", &many).unwrap()),
            Err(TokenError::Claim("azp"))
        );
        let for_us = IdClaims {
            azp: Some("portal".into()),
            ..many
        };
        assert_eq!(
            check(&sign_rs256(&key, "rsa-1", &for_us).unwrap()),
            Ok(for_us)
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
