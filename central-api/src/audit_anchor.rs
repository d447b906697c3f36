//! Anchors of the audit chain outside the database. The chain ([`crate::audit`]) shows any entry
//! changed, removed or inserted in its middle, but not entries cut from its end, nor the whole
//! chain rewritten from some entry on by whoever holds the database: its hashes have no key.
//! So every `audit.anchor_every_s` central writes the chain's head — the last entry's number and
//! hash, and when — as one line of the file `audit.anchor_file`, signed with its control key
//! ([`crate::control`]), which the database does not hold. `GET /api/v1/audit/verify` then
//! checks every anchored entry is still there with the hash it had: a chain cut after an
//! anchor, truncated, or rewritten before one no longer verifies, and neither does an anchor
//! line changed in the file.
//!
//! What an anchor cannot show: entries after the latest anchor (at most `anchor_every_s` of
//! them) cut together with that line's successors in the file. Keep the file where the
//! database's holders cannot rewrite it: an append-only mount (`chattr +a`), a log shipped off
//! the machine, WORM object storage.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use protocol::{DevicePublicKey, Signature, UtcTimestamp};
use serde::{Deserialize, Serialize};
use service_kit::http::Shutdown;

use crate::{
    audit::{AuditLog, ChainBreak},
    control::ControlKey,
    db::DbError,
};

/// Where the anchors go and how often (`[audit]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnchorSettings {
    /// The file of anchors, one signed line each, appended to and never rewritten.
    pub anchor_file: PathBuf,
    /// How often the chain's head is anchored (when it moved).
    pub anchor_every_s: u64,
    /// Former control keys (base64) whose anchors still verify: a rotated control key's
    /// public half goes here.
    pub anchor_keys: Vec<String>,
}

impl Default for AnchorSettings {
    fn default() -> Self {
        Self {
            anchor_file: "data/central/audit-anchors.jsonl".into(),
            anchor_every_s: 60,
            anchor_keys: Vec::new(),
        }
    }
}

impl AnchorSettings {
    /// The former control keys, parsed; the error names the one that is not a key.
    pub fn former_keys(&self) -> Result<Vec<DevicePublicKey>, String> {
        self.anchor_keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                DevicePublicKey::from_base64(k).map_err(|e| format!("audit.anchor_keys[{i}]: {e}"))
            })
            .collect()
    }
}

/// The chain's head at a moment: entry `seq` had hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    /// UTC, to the millisecond.
    pub at: String,
}

/// One line of the file: an anchor and central's signature over its canonical JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: i64,
    hash: String,
    at: String,
    signature: Signature,
}

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("audit.anchor_file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("audit.anchor_file line {line}: {reason}")]
    BadLine { line: usize, reason: String },
}

fn canonical(anchor: &Anchor) -> Vec<u8> {
    // An anchor is integers and strings: it always has a canonical form.
    serde_json_canonicalizer::to_vec(anchor).unwrap_or_default()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AnchorError + '_ {
    move |source| AnchorError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The anchors in `path`, oldest first, each verified under one of `keys`; none when there is
/// no file yet.
pub fn read(path: &Path, keys: &[DevicePublicKey]) -> Result<Vec<Anchor>, AnchorError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    let mut anchors = Vec::new();
    for (i, raw) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |reason: String| AnchorError::BadLine {
            line: i + 1,
            reason,
        };
        let line: Line = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        let anchor = Anchor {
            seq: line.seq,
            hash: line.hash,
            at: line.at,
        };
        if !keys
            .iter()
            .any(|k| k.verify(&canonical(&anchor), &line.signature).is_ok())
        {
            return Err(bad(
                "its signature does not verify with the control key".into()
            ));
        }
        anchors.push(anchor);
    }
    Ok(anchors)
}

/// Appends an anchor of the chain's head to `path`, signed with `key`, when the head moved since
/// the last anchor (`last`); returns the new anchor. The line is on disk when this returns.
pub async fn anchor(
    audit: &AuditLog,
    key: &ControlKey,
    path: &Path,
    last: Option<&Anchor>,
) -> Result<Option<Anchor>, AnchorError> {
    let Some((seq, hash)) = audit.head().await? else {
        return Ok(None);
    };
    if last.is_some_and(|l| l.seq == seq && l.hash == hash) {
        return Ok(None);
    }
    let anchor = Anchor {
        seq,
        hash,
        at: UtcTimestamp::now().to_string(),
    };
    let line = Line {
        seq: anchor.seq,
        hash: anchor.hash.clone(),
        at: anchor.at.clone(),
        signature: key.sign_bytes(&canonical(&anchor)),
    };
    let mut text = serde_json::to_string(&line).map_err(|e| AnchorError::BadLine {
        line: 0,
        reason: e.to_string(),
    })?;
    text.push('\n');
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || append_line(&owned, &text))
        .await
        .map_err(|e| io(path)(std::io::Error::other(e)))?
        .map_err(io(path))?;
    Ok(Some(anchor))
}

fn append_line(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        service_kit::secret_file::create_private_dir(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

/// Checks the chain in the database against `anchors`: each anchored entry must be there with
/// the hash it had. The first that is not, and why.
pub async fn check(audit: &AuditLog, anchors: &[Anchor]) -> Result<Option<ChainBreak>, DbError> {
    let head = audit.head().await?.map_or(0, |(seq, _)| seq);
    for a in anchors.iter().rev() {
        match audit.hash_of(a.seq).await? {
            Some(hash) if hash == a.hash => {}
            Some(_) => {
                return Ok(Some(ChainBreak {
                    seq: a.seq,
                    reason: format!(
                        "its hash is not the one anchored at {}: the chain was rewritten",
                        a.at
                    ),
                }));
            }
            None => {
                return Ok(Some(ChainBreak {
                    seq: a.seq,
                    reason: format!(
                        "anchored at {} but gone: the chain ends at entry {head}",
                        a.at
                    ),
                }));
            }
        }
    }
    Ok(None)
}

/// Anchors the chain every `settings.anchor_every_s` until `shutdown`.
pub async fn run(
    audit: AuditLog,
    key: ControlKey,
    settings: AnchorSettings,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut keys = settings.former_keys().map_err(anyhow::Error::msg)?;
    keys.push(key.public_key());
    let path = settings.anchor_file.clone();
    // A file that does not read back is reported by every verification; anchoring goes on.
    let last = read(&path, &keys).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the audit anchors do not read back");
        Vec::new()
    });
    let last = std::sync::Arc::new(tokio::sync::Mutex::new(last.last().cloned()));
    shutdown
        .every(
            Duration::from_secs(settings.anchor_every_s.max(1)),
            "audit anchor",
            || {
                let (audit, key, path, last) = (&audit, &key, &path, last.clone());
                async move {
                    let mut last = last.lock().await;
                    if let Some(a) = anchor(audit, key, path, last.as_ref()).await? {
                        tracing::debug!(seq = a.seq, "audit chain anchored");
                        *last = Some(a);
                    }
                    Ok::<_, AnchorError>(())
                }
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key() -> ControlKey {
        ControlKey::from_key(protocol::DeviceKey::from_seed([7; 32]))
    }

    fn line(anchor: &Anchor, key: &ControlKey) -> String {
        serde_json::to_string(&Line {
            seq: anchor.seq,
            hash: anchor.hash.clone(),
            at: anchor.at.clone(),
            signature: key.sign_bytes(&canonical(anchor)),
        })
        .unwrap()
    }

    #[test]
    fn anchors_read_back_only_under_the_control_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchors.jsonl");
        assert!(read(&path, &[key().public_key()]).unwrap().is_empty());
        let a = Anchor {
            seq: 12,
            hash: "ab".repeat(32),
            at: "2026-12-05T10:00:00.000Z".into(),
        };
        std::fs::write(&path, format!("{}\n", line(&a, &key()))).unwrap();
        assert_eq!(
            read(&path, &[key().public_key()]).unwrap(),
            std::slice::from_ref(&a)
        );
        // Moved back to an earlier entry in the file: the signature no longer holds.
        let edited = line(&a, &key()).replace("\"seq\":12", "\"seq\":11");
        std::fs::write(&path, format!("{edited}\n")).unwrap();
        let err = read(&path, &[key().public_key()]).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        // A line of another key's, unless that key is named as a former control key.
        let other = ControlKey::from_key(protocol::DeviceKey::from_seed([8; 32]));
        std::fs::write(&path, format!("{}\n", line(&a, &other))).unwrap();
        assert!(read(&path, &[key().public_key()]).is_err());
        assert!(read(&path, &[key().public_key(), other.public_key()]).is_ok());
    }
}
