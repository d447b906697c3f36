//! A mail relay's SMTP side (RFC 5321), in the role of the provider citizen-notify submits its
//! e-mail notices to: `EHLO`/`HELO`, `AUTH PLAIN` when it is given credentials (then required),
//! `MAIL`, `RCPT`, `DATA` (dot-unstuffed, size-capped), `RSET`, `NOOP`, `QUIT`. It keeps each
//! message it takes — the envelope and the RFC 5322 text as sent — and shows them over HTTP
//! (`GET /sandbox/smtp/received`). For tests it can answer the next transactions with a
//! temporary failure (451) or a permanent one (554).

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, routing::get};
use base64::Engine as _;
use serde::Serialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// The largest message taken (`SIZE` in the `EHLO` answer).
const MAX_MESSAGE: usize = 10 << 20;
/// The longest command line (RFC 5321 §4.5.3.1.4: 512; a little more for extensions).
const MAX_LINE: usize = 2048;

/// A message as it was handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The RFC 5322 text, headers and body, lines ending in CRLF.
    pub data: String,
    /// The user that authenticated, when credentials are required.
    pub user: Option<String>,
}

#[derive(Debug, Default)]
struct Mail {
    received: Vec<Received>,
    fail_next: usize,
    refuse_next: usize,
}

/// The relay's mailbox; clone to share.
#[derive(Debug, Clone, Default)]
pub struct Relay {
    credentials: Option<Arc<(String, String)>>,
    mail: Arc<Mutex<Mail>>,
}

impl Relay {
    /// A relay that takes mail from anyone.
    pub fn open() -> Self {
        Self::default()
    }

    /// A relay that takes mail only after `AUTH PLAIN` as `user` with `password`.
    pub fn with_credentials(user: &str, password: &str) -> Self {
        Self {
            credentials: Some(Arc::new((user.to_owned(), password.to_owned()))),
            ..Self::default()
        }
    }

    fn mail(&self) -> std::sync::MutexGuard<'_, Mail> {
        self.mail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The messages taken so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.mail().received.clone()
    }

    /// The next `n` transactions are answered `451` at `MAIL` (try again later).
    pub fn fail_next(&self, n: usize) {
        self.mail().fail_next = n;
    }

    /// The next `n` messages are refused `554` after `DATA` (not delivered, do not retry).
    pub fn refuse_next(&self, n: usize) {
        self.mail().refuse_next = n;
    }
}

/// `GET /sandbox/smtp/received`: what the relay has taken.
pub fn router(relay: Relay) -> Router {
    Router::new()
        .route("/sandbox/smtp/received", get(received))
        .with_state(relay)
}

async fn received(State(relay): State<Relay>) -> Json<Vec<Received>> {
    Json(relay.received())
}

/// Serves SMTP on `listener` until dropped.
pub fn serve(listener: TcpListener, relay: Relay) -> std::io::Result<crate::Running> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let relay = relay.clone();
                    tokio::spawn(async move {
                        if let Err(e) = session(stream, &relay).await {
                            tracing::debug!(%peer, error = %e, "smtp session ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "smtp accept");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(crate::Running { addr, task })
}

/// One line from the client without its CRLF, or `None` at the end of the stream.
async fn read_line(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    limit: usize,
) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(limit as u64 + 2)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// The address inside `FROM:<…>` / `TO:<…>`, parameters after it ignored.
fn path_of(argument: &str, prefix: &str) -> Option<String> {
    let rest = argument.get(..prefix.len())?;
    if !rest.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = argument[prefix.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

/// Sends one reply (its lines already joined by CRLF).
async fn say(write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> std::io::Result<()> {
    write.write_all(format!("{text}\r\n").as_bytes()).await
}

async fn session(stream: TcpStream, relay: &Relay) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    say(&mut write, "220 smtp.sandbox ESMTP ready").await?;
    let mut greeted = false;
    let mut user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    while let Some(line) = read_line(&mut reader, MAX_LINE).await? {
        let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let verb = verb.to_ascii_uppercase();
        let authenticated = relay.credentials.is_none() || user.is_some();
        match verb.as_str() {
            "EHLO" => {
                greeted = true;
                let mut lines = vec!["250-smtp.sandbox".to_owned()];
                lines.push(format!("250-SIZE {MAX_MESSAGE}"));
                lines.push("250-8BITMIME".into());
                if relay.credentials.is_some() {
                    lines.push("250-AUTH PLAIN".into());
                }
                lines.push("250 SMTPUTF8".into());
                say(&mut write, &lines.join("\r\n")).await?;
            }
            "HELO" => {
                greeted = true;
                say(&mut write, "250 smtp.sandbox").await?;
            }
            "AUTH" => {
                let Some(expected) = &relay.credentials else {
                    say(&mut write, "503 5.5.1 authentication is not offered").await?;
                    continue;
                };
                let (mechanism, initial) = argument.split_once(' ').unwrap_or((argument, ""));
                if !mechanism.eq_ignore_ascii_case("PLAIN") {
                    say(&mut write, "504 5.5.4 only PLAIN").await?;
                    continue;
                }
                let response = if initial.is_empty() {
                    say(&mut write, "334 ").await?;
                    read_line(&mut reader, MAX_LINE).await?.unwrap_or_default()
                } else {
                    initial.to_owned()
                };
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(response.trim())
                    .unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                let ok = parts.len() == 3
                    && parts[1] == expected.0.as_bytes()
                    && parts[2] == expected.1.as_bytes();
                if ok {
                    user = Some(expected.0.clone());
                    say(&mut write, "235 2.7.0 authenticated").await?;
                } else {
                    say(&mut write, "535 5.7.8 authentication credentials invalid").await?;
                }
            }
            "MAIL" => {
                if !greeted {
                    say(&mut write, "503 5.5.1 EHLO first").await?;
                } else if !authenticated {
                    say(&mut write, "530 5.7.0 authentication required").await?;
                } else if let Some(path) = path_of(argument, "FROM:") {
                    let failing = {
                        let mut mail = relay.mail();
                        let failing = mail.fail_next > 0;
                        mail.fail_next = mail.fail_next.saturating_sub(1);
                        failing
                    };
                    if failing {
                        say(&mut write, "451 4.3.0 temporarily unavailable, try later").await?;
                    } else {
                        from = Some(path);
                        to.clear();
                        say(&mut write, "250 2.1.0 ok").await?;
                    }
                } else {
                    say(&mut write, "501 5.5.4 MAIL FROM:<address>").await?;
                }
            }
            "RCPT" => match (&from, path_of(argument, "TO:")) {
                (None, _) => say(&mut write, "503 5.5.1 MAIL first").await?,
                (Some(_), Some(path)) if path.contains('@') => {
                    to.push(path);
                    say(&mut write, "250 2.1.5 ok").await?;
                }
                _ => say(&mut write, "501 5.1.3 RCPT TO:<address>").await?,
            },
            "DATA" => {
                let Some(sender) = from.take() else {
                    say(&mut write, "503 5.5.1 MAIL first").await?;
                    continue;
                };
                if to.is_empty() {
                    say(&mut write, "554 5.5.1 no valid recipients").await?;
                    continue;
                }
                say(&mut write, "354 end with <CRLF>.<CRLF>").await?;
                let mut data = String::new();
                let mut too_big = false;
                loop {
                    let Some(line) = read_line(&mut reader, MAX_LINE).await? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    let line = line.strip_prefix('.').unwrap_or(&line);
                    if data.len() + line.len() > MAX_MESSAGE {
                        too_big = true;
                    } else {
                        data.push_str(line);
                        data.push_str("\r\n");
                    }
                }
                let recipients = std::mem::take(&mut to);
                if too_big {
                    say(&mut write, "552 5.3.4 message too big").await?;
                    continue;
                }
                let reply = {
                    let mut mail = relay.mail();
                    if mail.refuse_next > 0 {
                        mail.refuse_next -= 1;
                        "554 5.7.1 message refused".to_owned()
                    } else {
                        mail.received.push(Received {
                            from: sender,
                            to: recipients,
                            data,
                            user: user.clone(),
                        });
                        format!("250 2.0.0 ok queued as {}", mail.received.len())
                    }
                };
                say(&mut write, &reply).await?;
            }
            "RSET" => {
                from = None;
                to.clear();
                say(&mut write, "250 2.0.0 ok").await?;
            }
            "NOOP" => say(&mut write, "250 2.0.0 ok").await?,
            "QUIT" => {
                say(&mut write, "221 2.0.0 bye").await?;
                return Ok(());
            }
            _ => say(&mut write, "502 5.5.2 command not recognized").await?,
        }
    }
    Ok(())
}
