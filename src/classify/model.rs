//! ONNX models (encoders and sequence classifiers) loaded into sessions, and
//! batched passes over token windows.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Instant;

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;

use super::manifest::{InputName, ModelSpec, OnnxSpec, Pooling};
use super::window::TextTokenizer;
use super::{ClassifyError, ClassifyOptions};

/// An ONNX model ready to run: tokenizer, one session per worker, output width.
pub(crate) struct OnnxModel {
    pub name: String,
    pub spec: OnnxSpec,
    pub tokenizer: TextTokenizer,
    sessions: Vec<Mutex<Session>>,
    /// Width of one output vector (embedding size or number of logits).
    pub dim: usize,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("name", &self.name)
            .field("dim", &self.dim)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

/// Limits of one session run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassLimits {
    /// Rows (windows) per run.
    pub rows: usize,
    /// Rows times padded length per run.
    pub tokens: usize,
}

impl OnnxModel {
    /// Creates the sessions and checks the graph's inputs and output against
    /// the manifest with one probe run.
    pub fn load(
        env: &Environment,
        model: &ModelSpec,
        opts: &ClassifyOptions,
    ) -> Result<Self, ClassifyError> {
        let spec = model
            .onnx()
            .expect("load is only called for ONNX models")
            .clone();
        let session_err = |message: String| ClassifyError::Session {
            model: model.name.clone(),
            message,
        };
        let tokenizer = TextTokenizer::load(&spec.tokenizer, spec.max_tokens, opts.max_windows)
            .map_err(|message| ClassifyError::Tokenizer {
                path: spec.tokenizer.clone(),
                message,
            })?;
        let count = opts.workers.max(1);
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            let session = session_builder(env, opts)
                .map_err(|e| session_err(e.to_string()))?
                .commit_from_file(&spec.model)
                .map_err(|e| session_err(format!("{}: {e}", spec.model.display())))?;
            sessions.push(Mutex::new(session));
        }
        check_io(&sessions[0], &spec).map_err(session_err)?;
        let mut loaded = Self {
            name: model.name.clone(),
            spec,
            tokenizer,
            sessions,
            dim: 0,
        };
        let probe =
            loaded
                .tokenizer
                .windows("hello")
                .map_err(|message| ClassifyError::Tokenizer {
                    path: loaded.spec.tokenizer.clone(),
                    message,
                })?;
        let limits = PassLimits {
            rows: 1,
            tokens: usize::MAX,
        };
        let out = loaded.run(0, &[probe.windows[0].as_slice()], limits)?;
        loaded.dim = out[0].len();
        if loaded.dim == 0 {
            return Err(session_err(format!(
                "output `{}` is empty",
                loaded.spec.output
            )));
        }
        Ok(loaded)
    }

    /// Runs every window through the model, in passes of similar length
    /// within `limits`, and returns one pooled (and, for encoders,
    /// normalised) vector per window, in input order. `slot` picks the session.
    pub fn run(
        &self,
        slot: usize,
        windows: &[&[u32]],
        limits: PassLimits,
    ) -> Result<Vec<Vec<f32>>, ClassifyError> {
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| windows[i].len());
        let mut out = vec![Vec::new(); windows.len()];
        let mut start = 0;
        while start < order.len() {
            // Sorted by length: the last row of a pass is its longest.
            let mut end = start + 1;
            while end < order.len()
                && end - start < limits.rows
                && (end - start + 1) * windows[order[end]].len().max(1) <= limits.tokens
            {
                end += 1;
            }
            let rows: Vec<&[u32]> = order[start..end].iter().map(|&i| windows[i]).collect();
            for (i, vector) in order[start..end].iter().zip(self.pass(slot, &rows)?) {
                out[*i] = vector;
            }
            start = end;
        }
        Ok(out)
    }

    /// Locks the first session (tests: stalls the worker that needs it).
    #[cfg(test)]
    pub fn hold(&self) -> std::sync::MutexGuard<'_, Session> {
        self.sessions[0].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One session run over `rows` padded to the longest.
    fn pass(&self, slot: usize, rows: &[&[u32]]) -> Result<Vec<Vec<f32>>, ClassifyError> {
        let err = |message: String| ClassifyError::Inference {
            model: self.name.clone(),
            message,
        };
        let batch = rows.len();
        let seq = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0i64; batch * seq];
        let mut mask = vec![0i64; batch * seq];
        for (r, row) in rows.iter().enumerate() {
            for (t, &id) in row.iter().enumerate() {
                ids[r * seq + t] = i64::from(id);
                mask[r * seq + t] = 1;
            }
        }
        let shape = [batch as i64, seq as i64];
        let mut inputs: Vec<(Cow<'static, str>, SessionInputValue<'static>)> = Vec::new();
        for input in &self.spec.inputs {
            let data = match input {
                InputName::InputIds => ids.clone(),
                InputName::AttentionMask => mask.clone(),
                InputName::TokenTypeIds => vec![0i64; batch * seq],
            };
            let tensor = Tensor::from_array((shape, data)).map_err(|e| err(e.to_string()))?;
            inputs.push((Cow::Borrowed(input.as_str()), tensor.into()));
        }
        let session = &self.sessions[slot % self.sessions.len()];
        let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let outputs = session.run(inputs).map_err(|e| err(e.to_string()))?;
        let value = outputs
            .get(&self.spec.output)
            .ok_or_else(|| err(format!("no output `{}`", self.spec.output)))?;
        let (out_shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| err(format!("output `{}`: {e}", self.spec.output)))?;
        let dims: Vec<usize> = out_shape.iter().map(|&d| d.max(0) as usize).collect();
        let vectors = pool(&dims, data, &mask, batch, seq, self.spec.pooling).map_err(err)?;
        tracing::trace!(model = %self.name, batch, seq, elapsed = ?started.elapsed(), "onnx pass");
        Ok(vectors
            .into_iter()
            .map(|mut v| {
                if self.spec.normalize {
                    l2_normalize(&mut v);
                }
                v
            })
            .collect())
    }
}

/// A session builder with the runtime's settings.
fn session_builder(env: &Environment, opts: &ClassifyOptions) -> ort::Result<SessionBuilder> {
    Ok(Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::All)?
        .with_intra_threads(opts.intra_threads.max(1))?
        .with_inter_threads(1)?
        .with_intra_op_spinning(opts.spin)?)
}

/// Checks that the graph has the manifest's output and exactly its inputs.
fn check_io(session: &Mutex<Session>, spec: &OnnxSpec) -> Result<(), String> {
    let session = session.lock().unwrap_or_else(|e| e.into_inner());
    let graph_inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    for input in &spec.inputs {
        if !graph_inputs.contains(&input.as_str()) {
            return Err(format!(
                "the graph has no input `{}` (it has {graph_inputs:?})",
                input.as_str()
            ));
        }
    }
    if let Some(extra) = graph_inputs
        .iter()
        .find(|name| !spec.inputs.iter().any(|i| i.as_str() == **name))
    {
        return Err(format!(
            "the graph needs input `{extra}`, which the manifest's `inputs` does not list"
        ));
    }
    if !session.outputs().iter().any(|o| o.name() == spec.output) {
        let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        return Err(format!(
            "the graph has no output `{}` (it has {names:?})",
            spec.output
        ));
    }
    Ok(())
}

/// One vector per row from an output of shape `dims`.
fn pool(
    dims: &[usize],
    data: &[f32],
    mask: &[i64],
    batch: usize,
    seq: usize,
    pooling: Pooling,
) -> Result<Vec<Vec<f32>>, String> {
    match (pooling, dims) {
        (Pooling::None, [b, dim]) if *b == batch => {
            Ok(data.chunks_exact(*dim).map(<[f32]>::to_vec).collect())
        }
        (Pooling::Cls, [b, s, dim]) if *b == batch && *s == seq => Ok((0..batch)
            .map(|r| data[r * seq * dim..r * seq * dim + dim].to_vec())
            .collect()),
        (Pooling::Mean, [b, s, dim]) if *b == batch && *s == seq => Ok((0..batch)
            .map(|r| {
                let mut sum = vec![0.0f32; *dim];
                let mut count = 0.0f32;
                for t in 0..seq {
                    if mask[r * seq + t] == 0 {
                        continue;
                    }
                    count += 1.0;
                    let token = &data[(r * seq + t) * dim..(r * seq + t + 1) * dim];
                    sum.iter_mut().zip(token).for_each(|(s, x)| *s += x);
                }
                sum.iter_mut().for_each(|s| *s /= count.max(1.0));
                sum
            })
            .collect()),
        _ => Err(format!(
            "output shape {dims:?} does not fit pooling {pooling:?} for a batch of {batch} x {seq}"
        )),
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub(crate) fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_modes() {
        // batch 1, seq 3, dim 2; the last token is padding.
        let data = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        let mask = [1, 1, 0];
        let mean = pool(&[1, 3, 2], &data, &mask, 1, 3, Pooling::Mean).unwrap();
        assert_eq!(mean, vec![vec![2.0, 3.0]]);
        let cls = pool(&[1, 3, 2], &data, &mask, 1, 3, Pooling::Cls).unwrap();
        assert_eq!(cls, vec![vec![1.0, 2.0]]);
        let none = pool(&[3, 2], &data, &mask, 3, 1, Pooling::None).unwrap();
        assert_eq!(none.len(), 3);
        assert!(pool(&[1, 3, 2], &data, &mask, 1, 3, Pooling::None).is_err());
    }

    #[test]
    fn normalize() {
        let mut v = [3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut z = [0.0, 0.0];
        l2_normalize(&mut z);
        assert_eq!(z, [0.0, 0.0]);
    }
}
