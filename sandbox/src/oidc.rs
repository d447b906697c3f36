//! An OpenID Connect provider in VNeID's role: discovery, JWKS, the authorization-code flow
//! with PKCE (S256 required), and ID tokens signed with Ed25519 whose `sub` is the citizen's
//! personal identification number. The sign-in page lists the test citizens; choosing one is
//! signing in as them.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use ed25519_dalek::SigningKey;
use gateways::oidc::{self, Discovery, IdClaims, Jwk, JwkSet};
use protocol::UtcTimestamp;
use serde::Deserialize;

use crate::escape;
use serde_json::json;

/// A person who can sign in.
#[derive(Debug, Clone)]
pub struct Citizen {
    /// The 12-digit personal identification number.
    pub id: String,
    pub name: String,
}

/// An application registered with the provider.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    /// Exact redirect URIs; nothing else is redirected to.
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
struct Request {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    challenge: String,
}

#[derive(Debug, Clone)]
struct Grant {
    request: Request,
    citizen: Citizen,
    expires_ms: i64,
}

#[derive(Debug, Default)]
struct Pending {
    requests: HashMap<String, Request>,
    codes: HashMap<String, Grant>,
}

/// How the provider signs its ID tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// RS256 with a 2048-bit RSA key: what OpenID Connect requires every provider to offer,
    /// and what national identity providers use.
    Rs256,
    /// EdDSA with an Ed25519 key.
    EdDsa,
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            oidc::RS256 => Ok(Self::Rs256),
            oidc::EDDSA => Ok(Self::EdDsa),
            other => Err(format!("{other}: expected RS256 or EdDSA")),
        }
    }
}

enum Key {
    Rs256(openssl::pkey::PKey<openssl::pkey::Private>),
    EdDsa(Box<SigningKey>),
}

impl Key {
    fn new(algorithm: Algorithm) -> anyhow::Result<Self> {
        Ok(match algorithm {
            Algorithm::Rs256 => Self::Rs256(openssl::pkey::PKey::from_rsa(
                openssl::rsa::Rsa::generate(2048)?,
            )?),
            Algorithm::EdDsa => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
                Self::EdDsa(Box::new(SigningKey::from_bytes(&seed)))
            }
        })
    }

    fn alg(&self) -> &'static str {
        match self {
            Self::Rs256(_) => oidc::RS256,
            Self::EdDsa(_) => oidc::EDDSA,
        }
    }

    fn jwk(&self, kid: &str) -> anyhow::Result<Jwk> {
        Ok(match self {
            Self::Rs256(key) => {
                let rsa = key.rsa()?;
                Jwk::rsa(kid, &rsa)
            }
            Self::EdDsa(key) => Jwk::ed25519(kid, &key.verifying_key()),
        })
    }

    fn sign(&self, kid: &str, claims: &IdClaims) -> anyhow::Result<String> {
        Ok(match self {
            Self::Rs256(key) => oidc::sign_rs256(key, kid, claims)?,
            Self::EdDsa(key) => oidc::sign(key, kid, claims),
        })
    }
}

/// The provider; clone to share.
#[derive(Clone)]
pub struct IdentityProvider {
    issuer: Arc<String>,
    key: Arc<Key>,
    kid: Arc<String>,
    clients: Arc<Vec<Client>>,
    citizens: Arc<Vec<Citizen>>,
    pending: Arc<Mutex<Pending>>,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl IdentityProvider {
    /// A provider at `issuer` (its own base URL) with a new RS256 signing key.
    pub fn new(issuer: &str, clients: Vec<Client>, citizens: Vec<Citizen>) -> anyhow::Result<Self> {
        Self::signing_with(Algorithm::Rs256, issuer, clients, citizens)
    }

    /// A provider at `issuer` with a new key for `algorithm`.
    pub fn signing_with(
        algorithm: Algorithm,
        issuer: &str,
        clients: Vec<Client>,
        citizens: Vec<Citizen>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            issuer: Arc::new(issuer.trim_end_matches('/').to_owned()),
            key: Arc::new(Key::new(algorithm)?),
            kid: Arc::new(protocol::random_token(8)?),
            clients: Arc::new(clients),
            citizens: Arc::new(citizens),
            pending: Arc::new(Mutex::new(Pending::default())),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn discovery(&self) -> Discovery {
        let at = |path: &str| format!("{}{path}", self.issuer);
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Discovery {
            issuer: self.issuer.to_string(),
            authorization_endpoint: at("/authorize"),
            token_endpoint: at("/token"),
            jwks_uri: at("/jwks"),
            response_types_supported: list(&["code"]),
            subject_types_supported: list(&["public"]),
            id_token_signing_alg_values_supported: list(&[self.key.alg()]),
            code_challenge_methods_supported: list(&["S256"]),
            scopes_supported: list(&["openid", "profile"]),
            token_endpoint_auth_methods_supported: list(&["client_secret_post"]),
        }
    }
}

/// `/.well-known/openid-configuration`, `/jwks`, `/authorize`, `/authorize/login`, `/token`.
pub fn router(idp: IdentityProvider) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/authorize/login", post(login))
        .route("/token", post(token))
        .with_state(idp)
}

async fn discovery(State(idp): State<IdentityProvider>) -> Json<Discovery> {
    Json(idp.discovery())
}

async fn jwks(State(idp): State<IdentityProvider>) -> Response {
    match idp.key.jwk(&idp.kid) {
        Ok(jwk) => Json(JwkSet { keys: vec![jwk] }).into_response(),
        Err(e) => page(StatusCode::INTERNAL_SERVER_ERROR, &escape(&e.to_string())),
    }
}

fn page(status: StatusCode, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Định danh điện tử (sandbox)</title>{body}</html>"
        )),
    )
        .into_response()
}

fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", q.finish())
}

async fn authorize(
    State(idp): State<IdentityProvider>,
    Query(p): Query<BTreeMap<String, String>>,
) -> Response {
    let field = |k: &str| p.get(k).cloned().unwrap_or_default();
    let (client_id, redirect_uri, state) =
        (field("client_id"), field("redirect_uri"), field("state"));
    // An unknown client or redirect is shown here, never redirected to (RFC 6749 §4.1.2.1).
    let known = idp
        .clients
        .iter()
        .any(|c| c.client_id == client_id && c.redirect_uris.contains(&redirect_uri));
    if !known {
        return page(
            StatusCode::BAD_REQUEST,
            "<h1>Ứng dụng không hợp lệ</h1><p id=\"error\">unknown client_id or redirect_uri</p>",
        );
    }
    let refuse = |error: &str, description: &str| {
        redirect(with_query(
            &redirect_uri,
            &[
                ("error", error),
                ("error_description", description),
                ("state", &state),
            ],
        ))
    };
    if field("response_type") != "code" {
        return refuse("unsupported_response_type", "only the code flow");
    }
    if !field("scope").split(' ').any(|s| s == "openid") {
        return refuse("invalid_scope", "scope must include openid");
    }
    if field("code_challenge_method") != "S256" || field("code_challenge").len() < 43 {
        return refuse("invalid_request", "PKCE with S256 is required");
    }
    let Ok(id) = protocol::random_token(16) else {
        return refuse("server_error", "no randomness");
    };
    idp.pending().requests.insert(
        id.clone(),
        Request {
            client_id,
            redirect_uri,
            state,
            nonce: field("nonce"),
            challenge: field("code_challenge"),
        },
    );
    let buttons: String = idp
        .citizens
        .iter()
        .map(|c| {
            format!(
                "<button name=\"citizen\" value=\"{0}\" id=\"citizen-{0}\">{1} — {0}</button><br>",
                escape(&c.id),
                escape(&c.name)
            )
        })
        .collect();
    page(
        StatusCode::OK,
        &format!(
            "<h1>Đăng nhập bằng định danh điện tử (thử nghiệm)</h1>\
             <form method=\"post\" action=\"/authorize/login\">\
             <input type=\"hidden\" name=\"request\" value=\"{id}\">{buttons}</form>"
        ),
    )
}

#[derive(Debug, Deserialize)]
struct Login {
    request: String,
    citizen: String,
}

async fn login(State(idp): State<IdentityProvider>, Form(f): Form<Login>) -> Response {
    let Some(request) = idp.pending().requests.remove(&f.request) else {
        return page(
            StatusCode::BAD_REQUEST,
            "<h1>Phiên đăng nhập đã hết hạn</h1>",
        );
    };
    let Some(citizen) = idp.citizens.iter().find(|c| c.id == f.citizen).cloned() else {
        return page(StatusCode::BAD_REQUEST, "<h1>Không có công dân này</h1>");
    };
    let Ok(code) = protocol::random_token(32) else {
        return page(StatusCode::INTERNAL_SERVER_ERROR, "<h1>Lỗi</h1>");
    };
    let to = with_query(
        &request.redirect_uri,
        &[("code", &code), ("state", &request.state)],
    );
    idp.pending().codes.insert(
        code,
        Grant {
            request,
            citizen,
            expires_ms: UtcTimestamp::now().unix_ms() + 60_000,
        },
    );
    redirect(to)
}

fn token_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

async fn token(
    State(idp): State<IdentityProvider>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return token_error("unsupported_grant_type");
    }
    let client_ok = idp
        .clients
        .iter()
        .any(|c| c.client_id == field("client_id") && c.client_secret == field("client_secret"));
    if !client_ok {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    // A code is good once.
    let Some(grant) = idp.pending().codes.remove(field("code")) else {
        return token_error("invalid_grant");
    };
    let now = UtcTimestamp::now();
    if grant.request.client_id != field("client_id")
        || grant.request.redirect_uri != field("redirect_uri")
        || grant.expires_ms < now.unix_ms()
        || oidc::pkce_challenge(field("code_verifier")) != grant.request.challenge
    {
        return token_error("invalid_grant");
    }
    let s = now.unix_ms() / 1000;
    let claims = IdClaims {
        iss: idp.issuer.to_string(),
        sub: grant.citizen.id.clone(),
        aud: grant.request.client_id.as_str().into(),
        azp: None,
        exp: s + 300,
        iat: s,
        nonce: grant.request.nonce.clone(),
        name: grant.citizen.name.clone(),
    };
    let (Ok(access_token), Ok(id_token)) =
        (protocol::random_token(32), idp.key.sign(&idp.kid, &claims))
    else {
        return token_error("server_error");
    };
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}
