//! Classification heads: a small MLP over an encoder embedding, read from
//! `head.json` (format `parapet-head/1`) and evaluated in plain Rust (f32).
//!
//! Each layer computes `y = act(W x + b)` with `W` stored row-major as
//! `[out][in]`; the head's final activation (sigmoid per label, softmax
//! across labels, or none) applies to the last layer's output.

use serde::Deserialize;

/// The only `format` value understood.
pub const HEAD_FORMAT: &str = "parapet-head/1";

/// An activation function (per layer or final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Identity.
    None,
    /// `max(0, x)` (layers only).
    Relu,
    /// `tanh(x)` (layers only).
    Tanh,
    /// Logistic function, per value.
    Sigmoid,
    /// Softmax across the vector (final only).
    Softmax,
}

impl Activation {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::None => "none",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Softmax => "softmax",
        }
    }

    /// Applies the activation in place.
    pub fn apply(self, v: &mut [f32]) {
        match self {
            Activation::None => {}
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
            Activation::Sigmoid => v.iter_mut().for_each(|x| *x = sigmoid(*x)),
            Activation::Softmax => softmax(v),
        }
    }
}

/// Numerically stable logistic function.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Softmax in place (max-subtracted).
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}

/// `head.json` as written by the training recipe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeadFile {
    pub format: String,
    pub input_dim: usize,
    pub labels: Vec<String>,
    pub layers: Vec<LayerFile>,
    pub activation: Activation,
}

/// One layer of `head.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayerFile {
    pub weight: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
    #[serde(default = "no_activation")]
    pub activation: Activation,
}

fn no_activation() -> Activation {
    Activation::None
}

/// A dense layer, weights flattened row-major `[out][in]`.
#[derive(Debug, Clone)]
struct Layer {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
    activation: Activation,
}

/// A validated MLP head.
#[derive(Debug, Clone)]
pub struct Mlp {
    input_dim: usize,
    layers: Vec<Layer>,
    activation: Activation,
}

impl Mlp {
    /// Validates a parsed `head.json`; the error names the offending field.
    pub(crate) fn from_file(file: HeadFile) -> Result<Self, String> {
        if file.format != HEAD_FORMAT {
            return Err(format!(
                "field `format`: expected `{HEAD_FORMAT}`, got `{}`",
                file.format
            ));
        }
        if file.input_dim == 0 {
            return Err("field `input_dim` must be positive".into());
        }
        if file.layers.is_empty() {
            return Err("field `layers` is empty".into());
        }
        if matches!(file.activation, Activation::Relu | Activation::Tanh) {
            return Err(format!(
                "field `activation`: `{}` is not a final activation (sigmoid, softmax or none)",
                file.activation.as_str()
            ));
        }
        let mut inputs = file.input_dim;
        let mut layers = Vec::with_capacity(file.layers.len());
        for (i, layer) in file.layers.into_iter().enumerate() {
            let outputs = layer.weight.len();
            if outputs == 0 {
                return Err(format!("field `layers[{i}].weight` has no rows"));
            }
            if let Some((r, row)) = layer
                .weight
                .iter()
                .enumerate()
                .find(|(_, row)| row.len() != inputs)
            {
                return Err(format!(
                    "field `layers[{i}].weight[{r}]` has {} values, expected {inputs} (the layer's input size)",
                    row.len()
                ));
            }
            if layer.bias.len() != outputs {
                return Err(format!(
                    "field `layers[{i}].bias` has {} values, expected {outputs} (rows of its weight)",
                    layer.bias.len()
                ));
            }
            if layer.activation == Activation::Softmax {
                return Err(format!(
                    "field `layers[{i}].activation`: softmax is only allowed as the head's final `activation`"
                ));
            }
            let values = layer.weight.iter().flatten().chain(layer.bias.iter());
            if values.clone().any(|x| !x.is_finite()) {
                return Err(format!("field `layers[{i}]` holds a non-finite value"));
            }
            layers.push(Layer {
                inputs,
                outputs,
                weight: layer.weight.into_iter().flatten().collect(),
                bias: layer.bias,
                activation: layer.activation,
            });
            inputs = outputs;
        }
        if inputs != file.labels.len() {
            return Err(format!(
                "the last layer has {inputs} outputs but field `labels` has {} labels",
                file.labels.len()
            ));
        }
        Ok(Self {
            input_dim: file.input_dim,
            layers,
            activation: file.activation,
        })
    }

    /// Length of the input vector.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Length of the output vector (the number of labels).
    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// The final activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Evaluates the head on one embedding of length [`Mlp::input_dim`].
    pub fn forward(&self, input: &[f32]) -> Vec<f32> {
        debug_assert_eq!(input.len(), self.input_dim);
        let mut x = input.to_vec();
        for layer in &self.layers {
            let mut y = layer.bias.clone();
            for (o, out) in y.iter_mut().enumerate() {
                let row = &layer.weight[o * layer.inputs..(o + 1) * layer.inputs];
                *out += dot(row, &x);
            }
            layer.activation.apply(&mut y);
            x = y;
        }
        self.activation.apply(&mut x);
        x
    }
}

/// Dot product with four accumulators (lets the compiler vectorise).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 4];
    let chunks = a.len() / 4;
    for i in 0..chunks {
        for (k, slot) in acc.iter_mut().enumerate() {
            *slot += a[i * 4 + k] * b[i * 4 + k];
        }
    }
    let mut sum = acc[0] + acc[1] + acc[2] + acc[3];
    for i in chunks * 4..a.len() {
        sum += a[i] * b[i];
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(json: &str) -> Result<Mlp, String> {
        Mlp::from_file(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn two_layer_sigmoid_matches_hand_computation() {
        // h = relu([[1,-1],[0.5,2]] x + [0, -1]); y = sigmoid([[1, 1]] h + [0.5])
        let mlp = head(
            r#"{"format":"parapet-head/1","input_dim":2,"labels":["a"],
                "layers":[{"weight":[[1,-1],[0.5,2]],"bias":[0,-1],"activation":"relu"},
                          {"weight":[[1,1]],"bias":[0.5],"activation":"none"}],
                "activation":"sigmoid"}"#,
        )
        .unwrap();
        // x = [2, 1]: h = relu([1, 2]) = [1, 2]; logit = 3.5.
        let y = mlp.forward(&[2.0, 1.0]);
        assert!((y[0] - 1.0 / (1.0 + (-3.5f32).exp())).abs() < 1e-6, "{y:?}");
        // x = [-1, 0]: h = relu([-1, -1.5]) = [0, 0]; logit = 0.5.
        let y = mlp.forward(&[-1.0, 0.0]);
        assert!((y[0] - 0.622_459_3).abs() < 1e-6, "{y:?}");
    }

    #[test]
    fn softmax_head_sums_to_one() {
        let mlp = head(
            r#"{"format":"parapet-head/1","input_dim":3,"labels":["safe","unsafe"],
                "layers":[{"weight":[[1,0,0],[0,1,1]],"bias":[0,0]}],"activation":"softmax"}"#,
        )
        .unwrap();
        let y = mlp.forward(&[1.0, 1.0, 1.0]);
        // logits [1, 2]: softmax = [1/(1+e), e/(1+e)].
        let e = std::f32::consts::E;
        assert!((y[0] - 1.0 / (1.0 + e)).abs() < 1e-6);
        assert!((y[1] - e / (1.0 + e)).abs() < 1e-6);
    }

    #[test]
    fn dims_are_checked_and_named() {
        let bad_row = head(
            r#"{"format":"parapet-head/1","input_dim":3,"labels":["a"],
                "layers":[{"weight":[[1,0]],"bias":[0]}],"activation":"sigmoid"}"#,
        )
        .unwrap_err();
        assert!(bad_row.contains("layers[0].weight[0]"), "{bad_row}");
        let bad_labels = head(
            r#"{"format":"parapet-head/1","input_dim":1,"labels":["a","b"],
                "layers":[{"weight":[[1]],"bias":[0]}],"activation":"sigmoid"}"#,
        )
        .unwrap_err();
        assert!(bad_labels.contains("`labels`"), "{bad_labels}");
        let bad_bias = head(
            r#"{"format":"parapet-head/1","input_dim":1,"labels":["a"],
                "layers":[{"weight":[[1]],"bias":[0,1]}],"activation":"sigmoid"}"#,
        )
        .unwrap_err();
        assert!(bad_bias.contains("layers[0].bias"), "{bad_bias}");
        let bad_format = head(
            r#"{"format":"x","input_dim":1,"labels":["a"],
                "layers":[{"weight":[[1]],"bias":[0]}],"activation":"sigmoid"}"#,
        )
        .unwrap_err();
        assert!(bad_format.contains("`format`"), "{bad_format}");
    }

    #[test]
    fn sigmoid_and_softmax_are_stable() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        let mut v = [1000.0, 1000.0];
        softmax(&mut v);
        assert_eq!(v, [0.5, 0.5]);
        assert!((dot(&[1.0; 7], &[2.0; 7]) - 14.0).abs() < 1e-6);
    }
}
