//! `manifest.yaml` parsing and validation, and the [`Catalog`] of models.
//!
//! Every folder of the classifiers directory that holds a `manifest.yaml` is
//! one model, named after the folder; other folders (e.g. `train/`) are
//! skipped. Validation needs no ONNX Runtime: files must exist, labels must be
//! non-empty and unique, a head's encoder must be an encoder of the same
//! directory and its `head.json` must be internally consistent (the encoder's
//! output size is checked when the encoder is loaded).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::head::{Activation, HeadFile, Mlp};
use super::ClassifyError;

/// File name of a model's manifest.
pub const MANIFEST_FILE: &str = "manifest.yaml";

/// Default `max_tokens` when a manifest has none.
pub const DEFAULT_MAX_TOKENS: usize = 512;

/// What a model folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// An ONNX text encoder producing one embedding per text.
    Encoder,
    /// An MLP over an encoder's embedding (`head.json`).
    Head,
    /// An ONNX model producing logits per text (bring your own).
    SequenceClassifier,
}

impl ModelKind {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Encoder => "encoder",
            ModelKind::Head => "head",
            ModelKind::SequenceClassifier => "sequence_classifier",
        }
    }
}

/// How an encoder's output becomes one vector per text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The output already is `[batch, dim]`.
    None,
    /// `[batch, seq, dim]`, averaged over the attention mask.
    Mean,
    /// `[batch, seq, dim]`, the first token's vector.
    Cls,
}

/// An ONNX graph input the runtime knows how to fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputName {
    /// Word-piece ids, int64 `[batch, seq]`.
    InputIds,
    /// 1 for tokens, 0 for padding, int64 `[batch, seq]`.
    AttentionMask,
    /// All zeros (single sequence), int64 `[batch, seq]`.
    TokenTypeIds,
}

impl InputName {
    /// The tensor name in the graph.
    pub fn as_str(self) -> &'static str {
        match self {
            InputName::InputIds => "input_ids",
            InputName::AttentionMask => "attention_mask",
            InputName::TokenTypeIds => "token_type_ids",
        }
    }
}

/// `manifest.yaml` as written; which fields are allowed depends on `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    kind: ModelKind,
    description: Option<String>,
    model: Option<String>,
    tokenizer: Option<String>,
    max_tokens: Option<usize>,
    inputs: Option<Vec<InputName>>,
    output: Option<String>,
    pooling: Option<Pooling>,
    normalize: Option<bool>,
    encoder: Option<String>,
    weights: Option<String>,
    labels: Option<Vec<String>>,
    activation: Option<Activation>,
    thresholds: Option<BTreeMap<String, f64>>,
}

/// Settings of an ONNX model (encoder or sequence classifier).
#[derive(Debug, Clone)]
pub struct OnnxSpec {
    /// The `.onnx` file.
    pub model: PathBuf,
    /// The `tokenizer.json` file.
    pub tokenizer: PathBuf,
    /// Word pieces per window, `[CLS]`/`[SEP]` included.
    pub max_tokens: usize,
    /// Graph inputs to feed.
    pub inputs: Vec<InputName>,
    /// Output tensor name.
    pub output: String,
    /// Encoder pooling (`None` for sequence classifiers).
    pub pooling: Pooling,
    /// L2-normalise the pooled vector (encoders).
    pub normalize: bool,
    /// Activation on the logits (sequence classifiers; `None` for encoders).
    pub activation: Activation,
}

/// What a validated model needs to run.
#[derive(Debug, Clone)]
pub enum ModelDetail {
    /// An encoder or a sequence classifier.
    Onnx(OnnxSpec),
    /// A head over an encoder.
    Head {
        /// Name of the encoder model.
        encoder: String,
        /// The head's weights.
        mlp: Mlp,
    },
}

/// One validated model folder.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// The folder name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// The kind.
    pub kind: ModelKind,
    /// Free text from the manifest.
    pub description: Option<String>,
    /// Labels in output order (empty for encoders).
    pub labels: Vec<String>,
    /// Recommended thresholds per label (informational).
    pub thresholds: BTreeMap<String, f64>,
    /// Kind-specific settings.
    pub detail: ModelDetail,
}

impl ModelSpec {
    /// Reads and validates `dir/manifest.yaml`; the model is named `name`.
    pub fn load(name: &str, dir: &Path) -> Result<Self, ClassifyError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| ClassifyError::io(&path, e))?;
        let file: ManifestFile =
            serde_norway::from_str(&text).map_err(|e| ClassifyError::Manifest {
                path: path.clone(),
                message: e.to_string(),
            })?;
        validate(name, dir, file).map_err(|message| ClassifyError::Manifest { path, message })
    }

    /// The ONNX settings, for encoders and sequence classifiers.
    pub fn onnx(&self) -> Option<&OnnxSpec> {
        match &self.detail {
            ModelDetail::Onnx(spec) => Some(spec),
            ModelDetail::Head { .. } => None,
        }
    }
}

/// Rejects fields that `kind` does not use.
fn forbid(kind: ModelKind, fields: &[(&str, bool)]) -> Result<(), String> {
    match fields.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(format!(
            "field `{field}` is not allowed for kind {}",
            kind.as_str()
        )),
        None => Ok(()),
    }
}

fn required<T>(kind: ModelKind, field: &str, value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| format!("field `{field}` is required for kind {}", kind.as_str()))
}

/// A file named by `field`, relative to the model folder; it must exist.
fn existing_file(dir: &Path, field: &str, value: &str) -> Result<PathBuf, String> {
    if value.trim().is_empty() {
        return Err(format!("field `{field}` is empty"));
    }
    let path = dir.join(value);
    if !path.is_file() {
        return Err(format!(
            "field `{field}`: file {} does not exist",
            path.display()
        ));
    }
    Ok(path)
}

fn check_labels(labels: &[String]) -> Result<(), String> {
    if labels.is_empty() {
        return Err("field `labels` is empty".into());
    }
    let mut seen = HashSet::new();
    for label in labels {
        if label.is_empty() || label.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "field `labels`: `{label}` is not a valid label (empty or with spaces)"
            ));
        }
        if !seen.insert(label.as_str()) {
            return Err(format!("field `labels`: `{label}` appears twice"));
        }
    }
    Ok(())
}

fn check_thresholds(thresholds: &BTreeMap<String, f64>, labels: &[String]) -> Result<(), String> {
    for (label, value) in thresholds {
        if !labels.contains(label) {
            return Err(format!(
                "field `thresholds`: `{label}` is not one of the labels"
            ));
        }
        if !value.is_finite() {
            return Err(format!("field `thresholds.{label}` is not a number"));
        }
    }
    Ok(())
}

fn onnx_spec(dir: &Path, kind: ModelKind, file: &mut ManifestFile) -> Result<OnnxSpec, String> {
    let model = required(kind, "model", file.model.take())?;
    let tokenizer = required(kind, "tokenizer", file.tokenizer.take())?;
    let max_tokens = file.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if !(8..=8192).contains(&max_tokens) {
        return Err(format!(
            "field `max_tokens` must be between 8 and 8192, got {max_tokens}"
        ));
    }
    let inputs = file
        .inputs
        .take()
        .unwrap_or_else(|| vec![InputName::InputIds, InputName::AttentionMask]);
    if !inputs.contains(&InputName::InputIds) {
        return Err("field `inputs` must contain input_ids".into());
    }
    if inputs.iter().collect::<HashSet<_>>().len() != inputs.len() {
        return Err("field `inputs` names an input twice".into());
    }
    let default_output = match kind {
        ModelKind::Encoder => "embedding",
        _ => "logits",
    };
    let output = file
        .output
        .take()
        .unwrap_or_else(|| default_output.to_string());
    if output.is_empty() {
        return Err("field `output` is empty".into());
    }
    Ok(OnnxSpec {
        model: existing_file(dir, "model", &model)?,
        tokenizer: existing_file(dir, "tokenizer", &tokenizer)?,
        max_tokens,
        inputs,
        output,
        pooling: file.pooling.unwrap_or(Pooling::None),
        normalize: file.normalize.unwrap_or(kind == ModelKind::Encoder),
        activation: file.activation.unwrap_or(Activation::None),
    })
}

fn validate(name: &str, dir: &Path, mut file: ManifestFile) -> Result<ModelSpec, String> {
    let kind = file.kind;
    let thresholds = file.thresholds.take().unwrap_or_default();
    let (labels, detail) = match kind {
        ModelKind::Encoder => {
            forbid(
                kind,
                &[
                    ("encoder", file.encoder.is_some()),
                    ("weights", file.weights.is_some()),
                    ("labels", file.labels.is_some()),
                    ("activation", file.activation.is_some()),
                    ("thresholds", !thresholds.is_empty()),
                ],
            )?;
            (
                Vec::new(),
                ModelDetail::Onnx(onnx_spec(dir, kind, &mut file)?),
            )
        }
        ModelKind::SequenceClassifier => {
            forbid(
                kind,
                &[
                    ("encoder", file.encoder.is_some()),
                    ("weights", file.weights.is_some()),
                    ("pooling", file.pooling.is_some()),
                    ("normalize", file.normalize.is_some()),
                ],
            )?;
            let labels = required(kind, "labels", file.labels.take())?;
            check_labels(&labels)?;
            let activation = required(kind, "activation", file.activation)?;
            if matches!(activation, Activation::Relu | Activation::Tanh) {
                return Err(format!(
                    "field `activation`: `{}` is not one of sigmoid, softmax, none",
                    activation.as_str()
                ));
            }
            (labels, ModelDetail::Onnx(onnx_spec(dir, kind, &mut file)?))
        }
        ModelKind::Head => {
            forbid(
                kind,
                &[
                    ("model", file.model.is_some()),
                    ("tokenizer", file.tokenizer.is_some()),
                    ("max_tokens", file.max_tokens.is_some()),
                    ("inputs", file.inputs.is_some()),
                    ("output", file.output.is_some()),
                    ("pooling", file.pooling.is_some()),
                    ("normalize", file.normalize.is_some()),
                ],
            )?;
            let encoder = required(kind, "encoder", file.encoder.take())?;
            let weights = required(kind, "weights", file.weights.take())?;
            let labels = required(kind, "labels", file.labels.take())?;
            check_labels(&labels)?;
            let weights = existing_file(dir, "weights", &weights)?;
            let mlp = load_head(&weights, &labels, file.activation)?;
            (labels, ModelDetail::Head { encoder, mlp })
        }
    };
    check_thresholds(&thresholds, &labels)?;
    Ok(ModelSpec {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        kind,
        description: file.description,
        labels,
        thresholds,
        detail,
    })
}

/// Reads `head.json`; its labels and activation must agree with the manifest.
fn load_head(
    path: &Path,
    labels: &[String],
    activation: Option<Activation>,
) -> Result<Mlp, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let file: HeadFile = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    if file.labels != labels {
        return Err(format!(
            "field `labels` {labels:?} differs from the labels in {shown} {:?}",
            file.labels
        ));
    }
    if let Some(activation) = activation {
        if activation != file.activation {
            return Err(format!(
                "field `activation` is {} but {shown} says {}",
                activation.as_str(),
                file.activation.as_str()
            ));
        }
    }
    Mlp::from_file(file).map_err(|e| format!("{shown}: {e}"))
}

/// Every model of a classifiers directory with its labels, validated without
/// ONNX Runtime (what `parapet check` needs to resolve rule references).
///
/// Labels get a dense index: models in name order, each model's labels in
/// manifest order; encoders have none.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    models: Vec<ModelSpec>,
    /// (model index, label) per dense label index.
    labels: Vec<(usize, String)>,
}

impl Catalog {
    /// Loads and validates `dir/*/manifest.yaml`.
    pub fn load(dir: &Path) -> Result<Self, ClassifyError> {
        let entries = std::fs::read_dir(dir).map_err(|e| ClassifyError::io(dir, e))?;
        let mut folders = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ClassifyError::io(dir, e))?;
            let path = entry.path();
            if path.join(MANIFEST_FILE).is_file() {
                let name = entry
                    .file_name()
                    .to_str()
                    .map(str::to_string)
                    .ok_or_else(|| ClassifyError::Manifest {
                        path: path.join(MANIFEST_FILE),
                        message: "the folder name is not valid UTF-8".into(),
                    })?;
                folders.push((name, path));
            }
        }
        folders.sort();
        let models = folders
            .iter()
            .map(|(name, path)| ModelSpec::load(name, path))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_models(models)
    }

    /// Builds a catalog from validated models, checking references between them.
    pub fn from_models(mut models: Vec<ModelSpec>) -> Result<Self, ClassifyError> {
        models.sort_by(|a, b| a.name.cmp(&b.name));
        for model in &models {
            if let ModelDetail::Head { encoder, .. } = &model.detail {
                let found = models.iter().find(|m| &m.name == encoder);
                if !found.is_some_and(|m| m.kind == ModelKind::Encoder) {
                    return Err(ClassifyError::Manifest {
                        path: model.dir.join(MANIFEST_FILE),
                        message: format!(
                            "field `encoder`: `{encoder}` is not an encoder in {}",
                            model.dir.parent().unwrap_or(&model.dir).display()
                        ),
                    });
                }
            }
        }
        let labels = models
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.labels.iter().map(move |l| (i, l.clone())))
            .collect();
        Ok(Self { models, labels })
    }

    /// The validated models, in name order.
    pub fn specs(&self) -> &[ModelSpec] {
        &self.models
    }

    /// `(model, labels)` of every model, in name order (encoders have no labels).
    pub fn models(&self) -> Vec<(String, Vec<String>)> {
        self.models
            .iter()
            .map(|m| (m.name.clone(), m.labels.clone()))
            .collect()
    }

    /// A model by name.
    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    /// A model's labels (empty for encoders); `None` if there is no such model.
    pub fn labels(&self, model: &str) -> Option<&[String]> {
        self.model(model).map(|m| m.labels.as_slice())
    }

    /// Whether no model was found.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// Number of labels over all models (the length of score vectors).
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// `(model, label)` of a dense label index.
    pub fn label_name(&self, index: usize) -> Option<(&str, &str)> {
        self.labels
            .get(index)
            .map(|(m, l)| (self.models[*m].name.as_str(), l.as_str()))
    }

    /// The dense index of `label` in `model`; with no model the label must
    /// exist in exactly one model.
    pub fn label_index(&self, model: Option<&str>, label: &str) -> Option<usize> {
        let mut found = self.labels.iter().enumerate().filter(|(_, (m, l))| {
            l == label && model.is_none_or(|name| self.models[*m].name == name)
        });
        let first = found.next().map(|(i, _)| i);
        match found.next() {
            Some(_) => None,
            None => first,
        }
    }

    /// Models that have `label` (to explain an ambiguous or unknown label).
    pub fn models_with_label(&self, label: &str) -> Vec<&str> {
        self.labels
            .iter()
            .filter(|(_, l)| l == label)
            .map(|(m, _)| self.models[*m].name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD_JSON: &str = r#"{"format":"parapet-head/1","input_dim":2,"labels":["any","cyber"],
        "layers":[{"weight":[[1,0],[0,1]],"bias":[0,0]}],"activation":"sigmoid"}"#;

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "parapet-manifest-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        /// An encoder `enc` and a head `harm` over it; `head` replaces the head manifest.
        fn with_models(tag: &str, head: &str) -> Self {
            let dir = Self::new(tag);
            dir.write("enc/model.onnx", "x");
            dir.write("enc/tokenizer.json", "{}");
            dir.write(
                "enc/manifest.yaml",
                "kind: encoder\nmodel: model.onnx\ntokenizer: tokenizer.json\nmax_tokens: 256\n",
            );
            dir.write("harm/head.json", HEAD_JSON);
            dir.write("harm/manifest.yaml", head);
            dir.write("train/notes.txt", "not a model");
            dir
        }

        fn error(&self) -> String {
            Catalog::load(&self.0).unwrap_err().to_string()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const GOOD_HEAD: &str = "kind: head\nencoder: enc\nweights: head.json\nlabels: [any, cyber]\nactivation: sigmoid\nthresholds: {any: 0.5}\n";

    #[test]
    fn loads_models_and_indexes_labels() {
        let dir = Dir::with_models("good", GOOD_HEAD);
        let catalog = Catalog::load(&dir.0).unwrap();
        let names: Vec<&str> = catalog.specs().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["enc", "harm"]);
        assert_eq!(catalog.labels("harm").unwrap(), ["any", "cyber"]);
        assert_eq!(catalog.labels("enc").unwrap().len(), 0);
        assert_eq!(catalog.label_index(Some("harm"), "cyber"), Some(1));
        assert_eq!(catalog.label_index(None, "any"), Some(0));
        assert_eq!(catalog.label_index(Some("enc"), "any"), None);
        assert_eq!(catalog.label_name(1), Some(("harm", "cyber")));
        let spec = catalog.model("enc").unwrap().onnx().unwrap();
        assert_eq!(spec.max_tokens, 256);
        assert_eq!(spec.output, "embedding");
        assert!(spec.normalize);
    }

    #[test]
    fn ambiguous_label_needs_a_model() {
        let dir = Dir::with_models("ambiguous", GOOD_HEAD);
        dir.write("harm2/head.json", HEAD_JSON);
        dir.write("harm2/manifest.yaml", GOOD_HEAD);
        let catalog = Catalog::load(&dir.0).unwrap();
        assert_eq!(catalog.label_index(None, "any"), None);
        assert_eq!(catalog.label_index(Some("harm2"), "any"), Some(2));
        assert_eq!(catalog.models_with_label("cyber"), ["harm", "harm2"]);
    }

    #[test]
    fn errors_name_file_and_field() {
        let cases = [
            (
                "unknown",
                format!("{GOOD_HEAD}colour: red\n"),
                "unknown field `colour`",
            ),
            (
                "dup",
                GOOD_HEAD.replace("[any, cyber]", "[any, any]"),
                "`any` appears twice",
            ),
            (
                "empty",
                GOOD_HEAD.replace("[any, cyber]", "[]"),
                "field `labels` is empty",
            ),
            (
                "mismatch",
                GOOD_HEAD.replace("[any, cyber]", "[any, crime]"),
                "differs from the labels",
            ),
            (
                "noenc",
                GOOD_HEAD.replace("encoder: enc", "encoder: nope"),
                "`nope` is not an encoder",
            ),
            (
                "missing",
                GOOD_HEAD.replace("head.json", "gone.json"),
                "field `weights`: file",
            ),
            (
                "forbidden",
                format!("{GOOD_HEAD}max_tokens: 3\n"),
                "field `max_tokens` is not allowed for kind head",
            ),
            (
                "act",
                GOOD_HEAD.replace("sigmoid", "softmax"),
                "field `activation` is softmax",
            ),
            (
                "thr",
                GOOD_HEAD.replace("{any: 0.5}", "{crime: 0.5}"),
                "field `thresholds`: `crime`",
            ),
        ];
        for (tag, manifest, want) in cases {
            let dir = Dir::with_models(tag, &manifest);
            let err = dir.error();
            assert!(err.contains(want), "{tag}: {err}");
            assert!(err.contains("harm/manifest.yaml"), "{tag}: {err}");
        }
    }

    #[test]
    fn encoder_and_classifier_errors() {
        let dir = Dir::with_models("enc-missing", GOOD_HEAD);
        dir.write(
            "enc/manifest.yaml",
            "kind: encoder\nmodel: nothing.onnx\ntokenizer: tokenizer.json\n",
        );
        let err = dir.error();
        assert!(
            err.contains("enc/manifest.yaml") && err.contains("field `model`"),
            "{err}"
        );

        let dir = Dir::with_models("seq", GOOD_HEAD);
        dir.write("seq/model.onnx", "x");
        dir.write("seq/tokenizer.json", "{}");
        dir.write(
            "seq/manifest.yaml",
            "kind: sequence_classifier\nmodel: model.onnx\ntokenizer: tokenizer.json\nlabels: [safe, unsafe]\n",
        );
        let err = dir.error();
        assert!(err.contains("field `activation` is required"), "{err}");
        dir.write(
            "seq/manifest.yaml",
            "kind: sequence_classifier\nmodel: model.onnx\ntokenizer: tokenizer.json\nlabels: [safe, unsafe]\nactivation: softmax\ninputs: [attention_mask]\n",
        );
        assert!(dir.error().contains("must contain input_ids"));
        dir.write("seq/manifest.yaml", "kind: sequencer\n");
        assert!(dir.error().contains("unknown variant `sequencer`"));
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let err = Catalog::load(Path::new("/nonexistent/parapet-classifiers")).unwrap_err();
        assert!(matches!(err, ClassifyError::Io { .. }));
    }
}
