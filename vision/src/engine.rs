//! The one engine type: an ONNX Runtime session of a checked model. `Session::run` needs
//! `&mut`, so the session sits behind a mutex; a caller that wants parallel inference makes
//! one engine per thread.

use std::{
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
};

use ndarray::{Array2, Array4, ArrayD};
use ort::{environment::Environment, session::Session, value::TensorRef};

use crate::manifest::{Manifest, ModelEntry};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model manifest {path} is not valid: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("the manifest lists no {0}")]
    Missing(String),
    #[error("{path}: sha256 is {actual}, the manifest says {expected}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("model {model} is not in the expected format: {reason}")]
    Format { model: String, reason: String },
    #[error("onnx runtime: {0}")]
    Runtime(String),
}

fn runtime(e: impl std::fmt::Display) -> ModelError {
    ModelError::Runtime(e.to_string())
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment (there may be only one).
pub fn environment() -> Result<&'static Environment, ModelError> {
    ENVIRONMENT
        .get_or_init(|| {
            // Loaded here, so a missing library is an error that says what to do rather than
            // the panic `ort` raises when it loads the library itself.
            let library = std::env::var("ORT_DYLIB_PATH")
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| {
                    format!(
                        "{}onnxruntime{}",
                        std::env::consts::DLL_PREFIX,
                        std::env::consts::DLL_SUFFIX
                    )
                });
            ort::init_from(&library)
                .map_err(|e| {
                    format!(
                        "loading the onnx runtime library {library}: {e} (set ORT_DYLIB_PATH; \
                         `make deps` puts the library in .ort/lib)"
                    )
                })?
                .with_name("tve")
                .build()
                .map_err(|e| format!("starting onnx runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| ModelError::Runtime(e.clone()))
}

/// A loaded model.
#[derive(Debug)]
pub struct Engine {
    entry: ModelEntry,
    session: Mutex<Session>,
}

impl Engine {
    /// Loads `entry` from `manifest` with `threads` intra-op threads.
    pub fn load(
        manifest: &Manifest,
        entry: &ModelEntry,
        threads: usize,
    ) -> Result<Self, ModelError> {
        let bytes = manifest.read_checked(entry)?;
        Self::from_bytes(&bytes, entry, threads)
    }

    /// Loads a model file described by `entry` (a detector dropped in by configuration), after
    /// checking its sha256 against `entry.sha256`.
    pub fn load_file(path: &Path, entry: &ModelEntry, threads: usize) -> Result<Self, ModelError> {
        let bytes = crate::manifest::read_verified(path, &entry.sha256)?;
        Self::from_bytes(&bytes, entry, threads)
    }

    fn from_bytes(bytes: &[u8], entry: &ModelEntry, threads: usize) -> Result<Self, ModelError> {
        let session = Session::builder(environment()?)
            .map_err(runtime)?
            .with_intra_threads(threads.max(1))
            .map_err(runtime)?
            .with_inter_threads(1)
            .map_err(runtime)?
            .commit_from_memory(bytes)
            .map_err(|e| ModelError::Format {
                model: entry.name.clone(),
                reason: e.to_string(),
            })?;
        let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        if !inputs.contains(&entry.input_name.as_str()) {
            return Err(ModelError::Format {
                model: entry.name.clone(),
                reason: format!("no input named {} (it has {inputs:?})", entry.input_name),
            });
        }
        for output in &entry.outputs {
            if !session.outputs().iter().any(|o| o.name() == output) {
                return Err(ModelError::Format {
                    model: entry.name.clone(),
                    reason: format!("no output named {output}"),
                });
            }
        }
        Ok(Self {
            entry: entry.clone(),
            session: Mutex::new(session),
        })
    }

    pub fn entry(&self) -> &ModelEntry {
        &self.entry
    }

    /// Runs the model on one NCHW batch; returns its outputs in manifest order.
    pub fn run(&self, input: &Array4<f32>) -> Result<Vec<ArrayD<f32>>, ModelError> {
        self.run_typed(input, None)?
            .into_iter()
            .map(|t| t.into_f32(&self.entry.name))
            .collect()
    }

    /// Runs the model with a second input of image sizes (`orig_target_sizes` of DETR-family
    /// exports); outputs keep their element type.
    pub fn run_typed(
        &self,
        input: &Array4<f32>,
        sizes: Option<(&str, &Array2<i64>)>,
    ) -> Result<Vec<Output>, ModelError> {
        let tensor = TensorRef::from_array_view(input.view()).map_err(runtime)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| ModelError::Runtime("a previous inference panicked".into()))?;
        let outputs = match sizes {
            Some((name, sizes)) => {
                let sizes = TensorRef::from_array_view(sizes.view()).map_err(runtime)?;
                session.run(ort::inputs![self.entry.input_name.as_str() => tensor, name => sizes])
            }
            None => session.run(ort::inputs![self.entry.input_name.as_str() => tensor]),
        }
        .map_err(runtime)?;
        self.entry
            .outputs
            .iter()
            .map(|name| {
                let value = outputs
                    .get(name)
                    .ok_or_else(|| ModelError::Missing(format!("output {name}")))?;
                if let Ok(a) = value.try_extract_array::<f32>() {
                    Ok(Output::F32(a.to_owned()))
                } else {
                    value
                        .try_extract_array::<i64>()
                        .map(|a| Output::I64(a.to_owned()))
                        .map_err(runtime)
                }
            })
            .collect()
    }

    /// Names of the model's inputs.
    pub fn input_names(&self) -> Vec<String> {
        self.session
            .lock()
            .map(|s| s.inputs().iter().map(|o| o.name().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// One output of a model, in its element type.
#[derive(Debug, Clone)]
pub enum Output {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
}

impl Output {
    /// The output as floats (integer outputs are converted).
    pub fn into_f32(self, model: &str) -> Result<ArrayD<f32>, ModelError> {
        match self {
            Self::F32(a) => Ok(a),
            Self::I64(_) => Err(ModelError::Format {
                model: model.to_owned(),
                reason: "an output is integer where floats were expected".into(),
            }),
        }
    }

    pub fn as_f32(&self) -> Option<&ArrayD<f32>> {
        match self {
            Self::F32(a) => Some(a),
            Self::I64(_) => None,
        }
    }

    pub fn as_i64(&self) -> Option<&ArrayD<i64>> {
        match self {
            Self::I64(a) => Some(a),
            Self::F32(_) => None,
        }
    }
}
