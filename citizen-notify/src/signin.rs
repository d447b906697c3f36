//! Signing citizens in through an OpenID Connect provider (VNeID's role): the authorization
//! code flow with PKCE (S256), a nonce, and the ID token verified against the provider's keys
//! (fetched from its discovery document, fetched again when a token names a key not yet seen).

use gateways::oidc::{self, Discovery, IdClaims, JwkSet, TokenError};
use protocol::{CitizenId, UtcTimestamp};
use serde::Deserialize;

use crate::config::PortalSettings;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("sign-in is not configured (portal.issuer_url)")]
    Disabled,
    #[error("identity provider: {0}")]
    Provider(String),
    #[error("identity provider refused: {0}")]
    Refused(String),
    #[error("id token: {0}")]
    Token(#[from] TokenError),
    #[error("the identity provider's subject {0} is not a citizen id")]
    NotACitizen(String),
}

#[derive(Debug, Clone)]
struct Provider {
    discovery: Discovery,
    keys: JwkSet,
}

/// The relying party: its settings and the provider's documents, cached.
#[derive(Debug)]
pub struct Oidc {
    settings: PortalSettings,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Provider>>,
}

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub citizen_id: CitizenId,
    pub name: String,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: String,
}

impl Oidc {
    pub fn new(settings: PortalSettings) -> Self {
        Self {
            settings,
            http: reqwest::Client::new(),
            provider: tokio::sync::Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &PortalSettings {
        &self.settings
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SignInError> {
        let response = self
            .http
            .get(url)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| SignInError::Provider(format!("{url}: {e}")))?;
        let bytes = service_kit::tls::read_capped(response, service_kit::tls::ANSWER_BYTES)
            .await
            .map_err(|e| SignInError::Provider(format!("{url}: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| SignInError::Provider(format!("{url}: {e}")))
    }

    /// The provider's documents; fetched again when `refresh`.
    async fn provider(&self, refresh: bool) -> Result<Provider, SignInError> {
        if !self.settings.enabled() {
            return Err(SignInError::Disabled);
        }
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref().filter(|_| !refresh) {
            return Ok(p.clone());
        }
        let issuer = self.settings.issuer_url.trim_end_matches('/');
        let discovery: Discovery = self
            .get_json(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        if discovery.issuer != issuer {
            return Err(SignInError::Provider(format!(
                "discovery names issuer {}, configured {issuer}",
                discovery.issuer
            )));
        }
        let keys: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        let p = Provider { discovery, keys };
        *cached = Some(p.clone());
        Ok(p)
    }

    /// Where to send the browser to sign in.
    pub async fn authorize_url(
        &self,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<String, SignInError> {
        let p = self.provider(false).await?;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("scope", "openid profile")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &oidc::pkce_challenge(verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        let endpoint = &p.discovery.authorization_endpoint;
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{endpoint}{sep}{query}"))
    }

    /// Trades the callback's code for an ID token and verifies it.
    pub async fn finish(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<SignedIn, SignInError> {
        let p = self.provider(false).await?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("client_secret", self.settings.client_secret.expose())
            .append_pair("code_verifier", verifier)
            .finish();
        let response = self
            .http
            .post(&p.discovery.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| SignInError::Provider(e.to_string()))?;
        let status = response.status();
        let bytes = service_kit::tls::read_capped(response, service_kit::tls::ANSWER_BYTES)
            .await
            .map_err(|e| SignInError::Provider(e.to_string()))?;
        if !status.is_success() {
            return Err(SignInError::Refused(
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            ));
        }
        let token: TokenResponse =
            serde_json::from_slice(&bytes).map_err(|e| SignInError::Provider(e.to_string()))?;
        let check = |keys: &JwkSet| -> Result<IdClaims, TokenError> {
            oidc::check_id_token(
                &token.id_token,
                keys,
                &p.discovery.issuer,
                &self.settings.client_id,
                nonce,
                UtcTimestamp::now(),
            )
        };
        let claims = match check(&p.keys) {
            // The provider may have rolled its key since the set was fetched.
            Err(TokenError::UnknownKey(_)) => check(&self.provider(true).await?.keys)?,
            other => other?,
        };
        let citizen_id = CitizenId::parse(&claims.sub)
            .map_err(|_| SignInError::NotACitizen(claims.sub.clone()))?;
        Ok(SignedIn {
            citizen_id,
            name: claims.name,
        })
    }
}
