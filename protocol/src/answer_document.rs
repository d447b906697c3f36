//! Documents a citizen attaches to an answer: the sale contract of a vehicle sold, the police
//! report of a theft, what supports an explanation ("giải trình" in writing, Law 15/2012/QH13,
//! Article 61 clause 2). The portal takes each file, checks what it is by its first bytes (never
//! by the name or the type the browser claims), keeps it with the answer and sends it to
//! central before the answer that names it ([`DOCUMENTS_PATH`]); the answer's
//! [`crate::FineUpdate::documents`] names each by its digest.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{event::Sha256Digest, wire::Invalid};

/// Where central takes a document, followed by `/{sha256}`: `PUT` with the bytes as the body,
/// its `content-type`, signed like every request between the services
/// ([`crate::service_auth`]). `201` stored (or held already), `401` unsigned, `413` too large,
/// `422` not what it says (another digest, another kind of file).
pub const DOCUMENTS_PATH: &str = "/api/v1/answer-documents";

/// The largest document taken: a few scanned pages.
pub const MAX_DOCUMENT_BYTES: u64 = 5 * 1024 * 1024;

/// At most this many documents with one answer.
pub const MAX_DOCUMENTS: usize = 3;

/// The kinds of file taken: PDF, JPEG and PNG, what a phone's camera or scanner makes.
pub const DOCUMENT_TYPES: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];

/// The file extension of a document of `content_type`, one of [`DOCUMENT_TYPES`].
pub fn extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        "application/pdf" => Some("pdf"),
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        _ => None,
    }
}

/// One document attached to an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDocument {
    /// The file's name as the citizen's device gave it, without any folder.
    pub name: String,
    /// One of [`DOCUMENT_TYPES`], as the bytes show it.
    pub content_type: String,
    pub sha256: Sha256Digest,
    pub bytes: u64,
}

impl AnswerDocument {
    /// The kind of file `bytes` is, by its first bytes: one of [`DOCUMENT_TYPES`], or `None`.
    pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
        if bytes.starts_with(b"%PDF-") {
            Some("application/pdf")
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some("image/jpeg")
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some("image/png")
        } else {
            None
        }
    }

    /// The document of `bytes` named `name` (its folders dropped), when they are a kind of
    /// file taken and not too large; why not otherwise.
    pub fn of(name: &str, bytes: &[u8]) -> Result<Self, Invalid> {
        let content_type = Self::sniff(bytes)
            .ok_or_else(|| Invalid::new("document", "only a PDF, JPEG or PNG file is taken"))?;
        let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
        let doc = Self {
            name: if base.is_empty() { "tai-lieu" } else { base }
                .chars()
                .take(100)
                .collect(),
            content_type: content_type.to_owned(),
            sha256: Sha256Digest::of(bytes),
            bytes: bytes.len() as u64,
        };
        doc.validate("document")?;
        Ok(doc)
    }

    /// A document as a store keeps it: its digest in hex; why not, when the digest is no
    /// digest.
    pub fn stored(
        name: String,
        content_type: String,
        sha256_hex: &str,
        bytes: u64,
    ) -> Result<Self, String> {
        Ok(Self {
            name,
            content_type,
            sha256: Sha256Digest::parse(sha256_hex)
                .map_err(|e| format!("document {sha256_hex}: {e}"))?,
            bytes,
        })
    }

    /// Checks the name, the kind and the size; `field` names the document in the error.
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        let name_ok = !self.name.trim().is_empty()
            && self.name.chars().count() <= 100
            && !self.name.contains(['/', '\\'])
            && !self.name.chars().any(char::is_control);
        if !name_ok {
            return Err(Invalid::new(
                format!("{field}.name"),
                "must be 1-100 characters, no folder",
            ));
        }
        if !DOCUMENT_TYPES.contains(&self.content_type.as_str()) {
            return Err(Invalid::new(
                format!("{field}.content_type"),
                "must be application/pdf, image/jpeg or image/png",
            ));
        }
        if self.bytes == 0 || self.bytes > MAX_DOCUMENT_BYTES {
            return Err(Invalid::new(
                format!("{field}.bytes"),
                format!("must be 1-{MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_what_its_first_bytes_say_and_no_larger_than_five_megabytes() {
        let pdf = b"%PDF-1.7\n1 0 obj\n".to_vec();
        let doc = AnswerDocument::of("C:\\Scans\\hop-dong.pdf", &pdf).unwrap();
        assert_eq!(
            (doc.name.as_str(), doc.content_type.as_str(), doc.bytes),
            ("hop-dong.pdf", "application/pdf", 17)
        );
        assert_eq!(doc.sha256, Sha256Digest::of(&pdf));
        assert_eq!(extension(&doc.content_type), Some("pdf"));
        assert_eq!(
            AnswerDocument::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some("image/jpeg")
        );
        assert_eq!(
            AnswerDocument::of("bien-ban.png", b"\x89PNG\r\n\x1a\nIHDR")
                .unwrap()
                .content_type,
            "image/png"
        );
        // A page or a program named .pdf is not a PDF.
        for not_taken in [&b"<html><script>"[..], b"MZ\x90\x00", b""] {
            let refused = AnswerDocument::of("hop-dong.pdf", not_taken).unwrap_err();
            assert_eq!(refused.field, "document");
        }
        let mut large = b"%PDF-".to_vec();
        large.resize(MAX_DOCUMENT_BYTES as usize + 1, b' ');
        assert_eq!(
            AnswerDocument::of("a.pdf", &large).unwrap_err().field,
            "document.bytes"
        );
        let wrong = AnswerDocument {
            name: "../etc/passwd".into(),
            ..doc
        };
        assert_eq!(wrong.validate("d").unwrap_err().field, "d.name");
    }
}
