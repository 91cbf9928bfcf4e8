//! Every loaded model, and scoring a batch of texts: one pass per encoder
//! (all its heads read the same embeddings) and one per sequence classifier.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::head::Mlp;
use super::manifest::{Catalog, ModelDetail, ModelKind};
use super::metrics::ClassifyMetrics;
use super::model::{l2_normalize, OnnxModel, PassLimits};
use super::{runtime, ClassifyError, ClassifyOptions, TextScores};

/// A head and where its labels start in a score vector.
#[derive(Debug)]
struct HeadEntry {
    name: String,
    mlp: Mlp,
    offset: usize,
}

/// An encoder and the heads reading its embeddings.
#[derive(Debug)]
struct EncoderEntry {
    model: OnnxModel,
    heads: Vec<HeadEntry>,
}

/// A sequence classifier and where its labels start.
#[derive(Debug)]
struct ClassifierEntry {
    model: OnnxModel,
    offset: usize,
}

/// Per-window outputs of one model for a batch of texts.
struct Passes {
    /// Vectors of every window, texts one after the other.
    vectors: Vec<Vec<f32>>,
    /// Window range of each text in `vectors`.
    spans: Vec<std::ops::Range<usize>>,
    truncated: Vec<bool>,
}

/// The loaded models.
#[derive(Debug)]
pub(crate) struct Engine {
    pub catalog: Catalog,
    encoders: Vec<EncoderEntry>,
    classifiers: Vec<ClassifierEntry>,
    default_encoder: Option<usize>,
    limits: PassLimits,
    metrics: ClassifyMetrics,
}

/// The encoder used for embeddings: `minilm` if present, else the first.
pub const DEFAULT_ENCODER: &str = "minilm";

impl Engine {
    /// Loads every model of `dir`.
    pub fn load(dir: &Path, opts: &ClassifyOptions) -> Result<Self, ClassifyError> {
        let catalog = Catalog::load(dir)?;
        let env = if catalog.is_empty() {
            None
        } else {
            Some(runtime::environment()?)
        };
        let mut encoders = Vec::new();
        let mut classifiers = Vec::new();
        let mut offset = 0;
        for spec in catalog.specs() {
            let env = env.as_ref().expect("models need the runtime");
            match spec.kind {
                ModelKind::Encoder => encoders.push(EncoderEntry {
                    model: OnnxModel::load(env, spec, opts)?,
                    heads: Vec::new(),
                }),
                ModelKind::SequenceClassifier => {
                    let model = OnnxModel::load(env, spec, opts)?;
                    if model.dim != spec.labels.len() {
                        return Err(ClassifyError::Session {
                            model: spec.name.clone(),
                            message: format!(
                                "output `{}` has {} values per text but the manifest lists {} labels",
                                model.spec.output,
                                model.dim,
                                spec.labels.len()
                            ),
                        });
                    }
                    classifiers.push(ClassifierEntry { model, offset });
                }
                ModelKind::Head => {}
            }
            offset += spec.labels.len();
        }
        // Heads after every encoder is loaded (names sort independently).
        let mut offset = 0;
        for spec in catalog.specs() {
            if let ModelDetail::Head { encoder, mlp } = &spec.detail {
                let entry = encoders
                    .iter_mut()
                    .find(|e| &e.model.name == encoder)
                    .expect("the catalog checked head encoders");
                if mlp.input_dim() != entry.model.dim {
                    return Err(ClassifyError::Manifest {
                        path: spec.dir.join(super::manifest::MANIFEST_FILE),
                        message: format!(
                            "the head's input_dim is {} but encoder `{encoder}` outputs {} values",
                            mlp.input_dim(),
                            entry.model.dim
                        ),
                    });
                }
                entry.heads.push(HeadEntry {
                    name: spec.name.clone(),
                    mlp: mlp.clone(),
                    offset,
                });
            }
            offset += spec.labels.len();
        }
        let default_encoder = encoders
            .iter()
            .position(|e| e.model.name == DEFAULT_ENCODER)
            .or(if encoders.is_empty() { None } else { Some(0) });
        Ok(Self {
            catalog,
            encoders,
            classifiers,
            default_encoder,
            limits: PassLimits {
                rows: opts.max_pass_rows.max(1),
                tokens: opts.max_batch_tokens.max(1),
            },
            metrics: opts.metrics.clone(),
        })
    }

    /// Name of the encoder whose embeddings [`TextScores`] carry.
    pub fn embedding_model(&self) -> Option<&str> {
        self.default_encoder
            .map(|i| self.encoders[i].model.name.as_str())
    }

    /// Tokenises and runs `texts` through `model`.
    fn passes(
        &self,
        model: &OnnxModel,
        slot: usize,
        texts: &[&str],
    ) -> Result<Passes, ClassifyError> {
        let mut windows = Vec::new();
        let mut spans = Vec::with_capacity(texts.len());
        let mut truncated = Vec::with_capacity(texts.len());
        for text in texts {
            let w = model
                .tokenizer
                .windows(text)
                .map_err(|message| ClassifyError::Tokenizer {
                    path: model.spec.tokenizer.clone(),
                    message,
                })?;
            spans.push(windows.len()..windows.len() + w.windows.len());
            truncated.push(w.truncated);
            windows.extend(w.windows);
        }
        let rows: Vec<&[u32]> = windows.iter().map(Vec::as_slice).collect();
        let vectors = model.run(slot, &rows, self.limits)?;
        Ok(Passes {
            vectors,
            spans,
            truncated,
        })
    }

    /// Scores `texts` with every model. `slot` picks the sessions.
    pub fn score(&self, slot: usize, texts: &[&str]) -> Result<Vec<TextScores>, ClassifyError> {
        let labels = self.catalog.label_count();
        let mut out: Vec<TextScores> = texts
            .iter()
            .map(|_| TextScores {
                scores: vec![0.0; labels],
                embeddings: Vec::new(),
                windows: 0,
                truncated: false,
            })
            .collect();
        for (e, entry) in self.encoders.iter().enumerate() {
            let is_default = Some(e) == self.default_encoder;
            if entry.heads.is_empty() && !is_default {
                continue;
            }
            let started = Instant::now();
            let passes = self.passes(&entry.model, slot, texts)?;
            self.observe(&entry.model.name, started);
            for head in &entry.heads {
                let started = Instant::now();
                for (t, span) in passes.spans.iter().enumerate() {
                    let per_window = passes.vectors[span.clone()]
                        .iter()
                        .map(|v| head.mlp.forward(v));
                    max_into(&mut out[t].scores[head.offset..], per_window);
                }
                self.observe(&head.name, started);
            }
            for (t, span) in passes.spans.iter().enumerate() {
                out[t].truncated |= passes.truncated[t];
                if is_default {
                    out[t].windows = span.len();
                    out[t].embeddings = passes.vectors[span.clone()]
                        .iter()
                        .map(|v| Arc::from(v.as_slice()))
                        .collect();
                }
            }
        }
        for entry in &self.classifiers {
            let started = Instant::now();
            let passes = self.passes(&entry.model, slot, texts)?;
            let activation = self
                .catalog
                .model(&entry.model.name)
                .and_then(|m| m.onnx())
                .map(|s| s.activation)
                .expect("classifier in catalog");
            for (t, span) in passes.spans.iter().enumerate() {
                let per_window = passes.vectors[span.clone()].iter().map(|v| {
                    let mut v = v.clone();
                    activation.apply(&mut v);
                    v
                });
                max_into(&mut out[t].scores[entry.offset..], per_window);
                out[t].truncated |= passes.truncated[t];
                if out[t].windows == 0 {
                    out[t].windows = span.len();
                }
            }
            self.observe(&entry.model.name, started);
        }
        Ok(out)
    }

    /// Embeds `texts` with the default encoder: the mean of a text's window
    /// embeddings, normalised when the encoder normalises.
    pub fn embed(&self, slot: usize, texts: &[&str]) -> Result<Vec<Vec<f32>>, ClassifyError> {
        let entry = self
            .default_encoder
            .map(|i| &self.encoders[i])
            .ok_or(ClassifyError::NoEncoder)?;
        let started = Instant::now();
        let passes = self.passes(&entry.model, slot, texts)?;
        self.observe(&entry.model.name, started);
        Ok(passes
            .spans
            .iter()
            .map(|span| {
                let windows = &passes.vectors[span.clone()];
                if windows.len() == 1 {
                    return windows[0].clone();
                }
                let mut mean = vec![0.0f32; entry.model.dim];
                for w in windows {
                    mean.iter_mut().zip(w).for_each(|(m, x)| *m += x);
                }
                mean.iter_mut().for_each(|m| *m /= windows.len() as f32);
                if entry.model.spec.normalize {
                    l2_normalize(&mut mean);
                }
                mean
            })
            .collect())
    }

    /// The loaded ONNX model called `name` (tests).
    #[cfg(test)]
    pub fn onnx_model(&self, name: &str) -> Option<&OnnxModel> {
        self.encoders
            .iter()
            .map(|e| &e.model)
            .chain(self.classifiers.iter().map(|c| &c.model))
            .find(|m| m.name == name)
    }

    fn observe(&self, model: &str, started: Instant) {
        self.metrics
            .duration
            .with_label_values(&[model])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Writes the per-label max over `windows` into the front of `dest`.
fn max_into(dest: &mut [f32], windows: impl Iterator<Item = Vec<f32>>) {
    let mut first = true;
    for window in windows {
        for (d, s) in dest.iter_mut().zip(&window) {
            *d = if first { *s } else { d.max(*s) };
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_over_windows() {
        let mut dest = [9.0, 9.0, 9.0];
        max_into(
            &mut dest[..2],
            vec![vec![0.1, 0.7], vec![0.4, 0.2]].into_iter(),
        );
        assert_eq!(dest, [0.4, 0.7, 9.0]);
    }
}
