//! `models/manifest.toml`: which model does what, in which format, and its sha256, which is
//! checked before a byte of the model is used.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ModelError;

/// One model of the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub task: String,
    pub format: String,
    pub file: String,
    pub sha256: String,
    pub input: Vec<i64>,
    pub input_name: String,
    pub outputs: Vec<String>,
    #[serde(default)]
    pub preprocess: String,
    #[serde(default)]
    pub labels: Vec<String>,
    /// A plate recognizer's crop: each side lies this share of the plate's width outside the
    /// plate's corners (`protocol::geometry::widen_quad`), as in the crops it was trained on.
    #[serde(default)]
    pub crop_margin: f32,
    /// A detector's operating threshold: detections at or above it start and keep tracks
    /// (what its figures at the operating point were measured at).
    #[serde(default)]
    pub min_score: Option<f32>,
    pub licence: String,
    pub provenance: String,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

impl ModelEntry {
    /// `name@sha256-prefix`: what goes into an event's model versions.
    pub fn version(&self) -> String {
        format!(
            "{}@{}",
            self.name,
            &self.sha256[..self.sha256.len().min(12)]
        )
    }

    /// Input height and width.
    pub fn input_hw(&self) -> Result<(usize, usize), ModelError> {
        match self.input.as_slice() {
            [_, 3, h, w] if *h > 0 && *w > 0 => Ok((*h as usize, *w as usize)),
            other => Err(ModelError::Format {
                model: self.name.clone(),
                reason: format!("input {other:?} is not [N, 3, H, W]"),
            }),
        }
    }
}

#[derive(Debug, Deserialize)]
struct File {
    model: Vec<ModelEntry>,
}

/// The parsed manifest and the folder its files are in.
#[derive(Debug, Clone)]
pub struct Manifest {
    dir: PathBuf,
    models: Vec<ModelEntry>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|e| ModelError::Manifest {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            dir: path.parent().unwrap_or(Path::new(".")).to_owned(),
            models: file.model,
        })
    }

    /// The manifest shipped in the repository (`models/manifest.toml`).
    pub fn shipped() -> Result<Self, ModelError> {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/manifest.toml"))
    }

    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// The model named `name`.
    pub fn get(&self, name: &str) -> Result<&ModelEntry, ModelError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| ModelError::Missing(name.to_owned()))
    }

    /// The first model for `task`.
    pub fn for_task(&self, task: &str) -> Result<&ModelEntry, ModelError> {
        self.models
            .iter()
            .find(|m| m.task == task)
            .ok_or_else(|| ModelError::Missing(format!("a {task}")))
    }

    pub fn path_of(&self, entry: &ModelEntry) -> PathBuf {
        self.dir.join(&entry.file)
    }

    /// The model's bytes, after checking their sha256 against the manifest.
    pub fn read_checked(&self, entry: &ModelEntry) -> Result<Vec<u8>, ModelError> {
        read_verified(&self.path_of(entry), &entry.sha256)
    }
}

/// A file's bytes, after checking their sha256 (hex) against `sha256`.
pub fn read_verified(path: &Path, sha256: &str) -> Result<Vec<u8>, ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(ModelError::Checksum {
            path: path.to_owned(),
            expected: sha256.to_owned(),
            actual,
        });
    }
    Ok(bytes)
}
