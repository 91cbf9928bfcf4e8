//! Test fixtures built in code: a tiny WordPiece tokenizer, tiny ONNX graphs
//! written with a minimal protobuf encoder, and a classifiers directory with
//! an encoder, a head and a sequence classifier whose exact outputs the tests
//! recompute by hand.

use std::path::{Path, PathBuf};

/// Minimal protobuf writer (only what ONNX models need).
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn int(mut self, field: u64, v: i64) -> Self {
        self.varint(field << 3);
        self.varint(v as u64);
        self
    }

    fn bytes(mut self, field: u64, b: &[u8]) -> Self {
        self.varint((field << 3) | 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    fn str(self, field: u64, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }

    fn msg(self, field: u64, m: Pb) -> Self {
        self.bytes(field, &m.0)
    }
}

const FLOAT: i64 = 1;
const INT64: i64 = 7;

fn tensor(name: &str, dims: &[i64], data_type: i64, raw: Vec<u8>) -> Pb {
    let mut t = Pb::default();
    for d in dims {
        t = t.int(1, *d);
    }
    t.int(2, data_type).str(8, name).bytes(9, &raw)
}

fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> Pb {
    let raw = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    tensor(name, dims, FLOAT, raw)
}

fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> Pb {
    let raw = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    tensor(name, dims, INT64, raw)
}

/// A tensor value info; dims are symbolic names.
fn value_info(name: &str, elem_type: i64, dims: &[&str]) -> Pb {
    let mut shape = Pb::default();
    for d in dims {
        shape = shape.msg(1, Pb::default().str(2, d));
    }
    let tensor_type = Pb::default().int(1, elem_type).msg(2, shape);
    Pb::default()
        .str(1, name)
        .msg(2, Pb::default().msg(1, tensor_type))
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<Pb>) -> Pb {
    let mut n = Pb::default();
    for i in inputs {
        n = n.str(1, i);
    }
    for o in outputs {
        n = n.str(2, o);
    }
    n = n.str(3, &format!("{op}_{}", outputs[0])).str(4, op);
    for a in attrs {
        n = n.msg(5, a);
    }
    n
}

fn attr_int(name: &str, v: i64) -> Pb {
    Pb::default().str(1, name).int(3, v).int(20, 2)
}

fn model(nodes: Vec<Pb>, inits: Vec<Pb>, inputs: Vec<Pb>, outputs: Vec<Pb>) -> Vec<u8> {
    let mut g = Pb::default().str(2, "tiny");
    for n in nodes {
        g = g.msg(1, n);
    }
    for i in inits {
        g = g.msg(5, i);
    }
    for i in inputs {
        g = g.msg(11, i);
    }
    for o in outputs {
        g = g.msg(12, o);
    }
    Pb::default()
        .int(1, 8)
        .str(2, "parapet-tests")
        .msg(8, Pb::default().str(1, "").int(2, 17))
        .msg(7, g)
        .0
}

/// Encoder graph: `hidden[b, s, d] = E[input_ids]` (the manifest asks for
/// mean pooling, done in Rust). Inputs: input_ids only.
pub fn encoder_onnx(emb: &[f32], vocab: usize, dim: usize) -> Vec<u8> {
    model(
        vec![node("Gather", &["E", "input_ids"], &["hidden"], vec![])],
        vec![tensor_f32("E", &[vocab as i64, dim as i64], emb)],
        vec![value_info("input_ids", INT64, &["batch", "seq"])],
        vec![value_info("hidden", FLOAT, &["batch", "seq", "dim"])],
    )
}

/// Sequence classifier graph: masked mean of `E[ids] + T[type_ids]`, then
/// `logits = mean W + b` (`W` is `[d][n]`).
pub fn classifier_onnx(p: &SeqParams) -> Vec<u8> {
    let (v, d, n) = (p.vocab as i64, p.dim as i64, p.labels as i64);
    model(
        vec![
            node("Gather", &["E", "input_ids"], &["tok"], vec![]),
            node("Gather", &["T", "token_type_ids"], &["typ"], vec![]),
            node("Add", &["tok", "typ"], &["emb"], vec![]),
            node(
                "Cast",
                &["attention_mask"],
                &["maskf"],
                vec![attr_int("to", FLOAT)],
            ),
            node("Unsqueeze", &["maskf", "axis2"], &["mask3"], vec![]),
            node("Mul", &["emb", "mask3"], &["masked"], vec![]),
            node(
                "ReduceSum",
                &["masked", "axis1"],
                &["sum"],
                vec![attr_int("keepdims", 0)],
            ),
            node(
                "ReduceSum",
                &["mask3", "axis1"],
                &["count"],
                vec![attr_int("keepdims", 0)],
            ),
            node("Div", &["sum", "count"], &["mean"], vec![]),
            node("MatMul", &["mean", "W"], &["proj"], vec![]),
            node("Add", &["proj", "B"], &["logits"], vec![]),
        ],
        vec![
            tensor_f32("E", &[v, d], &p.emb),
            tensor_f32("T", &[2, d], &p.type_emb),
            tensor_f32("W", &[d, n], &p.w),
            tensor_f32("B", &[n], &p.b),
            tensor_i64("axis1", &[1], &[1]),
            tensor_i64("axis2", &[1], &[2]),
        ],
        vec![
            value_info("input_ids", INT64, &["batch", "seq"]),
            value_info("attention_mask", INT64, &["batch", "seq"]),
            value_info("token_type_ids", INT64, &["batch", "seq"]),
        ],
        vec![value_info("logits", FLOAT, &["batch", "n"])],
    )
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Words of the tiny vocabulary (after the four specials and the letters).
const WORDS: &[&str] = &[
    "hello",
    "world",
    "the",
    "a",
    "cat",
    "dog",
    "ignore",
    "previous",
    "instructions",
    "bomb",
    "bread",
    "bake",
    "how",
    "do",
    "i",
    "make",
    "steal",
    "password",
    "nice",
    "day",
];

/// The tiny vocabulary: `[PAD] [UNK] [CLS] [SEP]`, the words, then every
/// lowercase letter and digit, plain and as `##` continuation.
pub fn vocab() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .chain(WORDS)
        .map(|s| s.to_string())
        .collect();
    for c in ('a'..='z').chain('0'..='9') {
        v.push(c.to_string());
        v.push(format!("##{c}"));
    }
    v
}

/// A BERT-style `tokenizer.json` over [`vocab`], with the truncation and
/// padding the real MiniLM file ships (the runtime must override them).
pub fn tokenizer_json() -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = vocab()
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, serde_json::json!(i)))
        .collect();
    let special = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    serde_json::json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null,
            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
}

/// Weights of the tiny sequence classifier.
pub struct SeqParams {
    pub vocab: usize,
    pub dim: usize,
    pub labels: usize,
    pub emb: Vec<f32>,
    pub type_emb: Vec<f32>,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// Embedding size of the tiny encoder.
pub const ENC_DIM: usize = 8;
/// `max_tokens` of the tiny encoder: 14 word pieces per window.
pub const ENC_MAX_TOKENS: usize = 16;
/// `max_tokens` of the tiny sequence classifier.
pub const SEQ_MAX_TOKENS: usize = 12;

/// A classifiers directory in a temporary folder, removed on drop:
/// `enc` (encoder, mean pooling), `harm` (head over `enc`, labels any/cyber,
/// sigmoid) and `seq` (sequence classifier, labels safe/unsafe, softmax).
pub struct Fixture {
    pub dir: PathBuf,
    pub enc_emb: Vec<f32>,
    /// Head layers: `[in=8 -> 4, relu]`, `[4 -> 2]`.
    pub head_w1: Vec<Vec<f32>>,
    pub head_b1: Vec<f32>,
    pub head_w2: Vec<Vec<f32>>,
    pub head_b2: Vec<f32>,
    pub seq: SeqParams,
}

fn rows(flat: &[f32], cols: usize) -> Vec<Vec<f32>> {
    flat.chunks(cols).map(<[f32]>::to_vec).collect()
}

impl Fixture {
    /// Writes the directory under a unique name containing `tag`.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "parapet-classify-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let vocab = vocab().len();
        let enc_emb = values(1, vocab * ENC_DIM);
        let head_w1 = rows(&values(2, 4 * ENC_DIM), ENC_DIM);
        let head_b1 = values(3, 4);
        let head_w2 = rows(&values(4, 2 * 4), 4);
        let head_b2 = values(5, 2);
        let seq = SeqParams {
            vocab,
            dim: 6,
            labels: 2,
            emb: values(6, vocab * 6),
            type_emb: values(7, 2 * 6),
            w: values(8, 6 * 2),
            b: values(9, 2),
        };
        let tokenizer = tokenizer_json();
        write(&dir, "enc/tokenizer.json", tokenizer.as_bytes());
        write(
            &dir,
            "enc/model.onnx",
            &encoder_onnx(&enc_emb, vocab, ENC_DIM),
        );
        write(
            &dir,
            "enc/manifest.yaml",
            format!(
                "kind: encoder\ndescription: tiny\nmodel: model.onnx\ntokenizer: tokenizer.json\n\
                 max_tokens: {ENC_MAX_TOKENS}\ninputs: [input_ids]\noutput: hidden\npooling: mean\nnormalize: true\n"
            )
            .as_bytes(),
        );
        let head = serde_json::json!({
            "format": "parapet-head/1", "input_dim": ENC_DIM, "labels": ["any", "cyber"],
            "layers": [{"weight": head_w1, "bias": head_b1, "activation": "relu"},
                       {"weight": head_w2, "bias": head_b2, "activation": "none"}],
            "activation": "sigmoid"});
        write(&dir, "harm/head.json", head.to_string().as_bytes());
        write(
            &dir,
            "harm/manifest.yaml",
            b"kind: head\nencoder: enc\nweights: head.json\nlabels: [any, cyber]\nactivation: sigmoid\n",
        );
        write(&dir, "seq/tokenizer.json", tokenizer.as_bytes());
        write(&dir, "seq/model.onnx", &classifier_onnx(&seq));
        write(
            &dir,
            "seq/manifest.yaml",
            format!(
                "kind: sequence_classifier\nmodel: model.onnx\ntokenizer: tokenizer.json\n\
                 max_tokens: {SEQ_MAX_TOKENS}\ninputs: [input_ids, attention_mask, token_type_ids]\n\
                 output: logits\nlabels: [safe, unsafe]\nactivation: softmax\n"
            )
            .as_bytes(),
        );
        Self {
            dir,
            enc_emb,
            head_w1,
            head_b1,
            head_w2,
            head_b2,
            seq,
        }
    }

    /// The encoder's pooled, normalised embedding of one window of ids.
    pub fn enc_embedding(&self, ids: &[u32]) -> Vec<f32> {
        let mut v = vec![0.0f32; ENC_DIM];
        for &id in ids {
            let row = &self.enc_emb[id as usize * ENC_DIM..(id as usize + 1) * ENC_DIM];
            v.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        v.iter_mut().for_each(|a| *a /= ids.len() as f32);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= norm);
        v
    }

    /// The head's sigmoid scores for one embedding, computed longhand.
    pub fn head_scores(&self, x: &[f32]) -> Vec<f32> {
        let hidden: Vec<f32> = self
            .head_w1
            .iter()
            .zip(&self.head_b1)
            .map(|(row, b)| (row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + b).max(0.0))
            .collect();
        self.head_w2
            .iter()
            .zip(&self.head_b2)
            .map(|(row, b)| {
                let z = row.iter().zip(&hidden).map(|(w, v)| w * v).sum::<f32>() + b;
                1.0 / (1.0 + (-z).exp())
            })
            .collect()
    }

    /// The sequence classifier's softmax scores for one window of ids.
    pub fn seq_scores(&self, ids: &[u32]) -> Vec<f32> {
        let p = &self.seq;
        let mut mean = vec![0.0f32; p.dim];
        for &id in ids {
            for (k, m) in mean.iter_mut().enumerate() {
                *m += p.emb[id as usize * p.dim + k] + p.type_emb[k];
            }
        }
        mean.iter_mut().for_each(|m| *m /= ids.len() as f32);
        let mut logits: Vec<f32> = (0..p.labels)
            .map(|j| {
                (0..p.dim)
                    .map(|k| mean[k] * p.w[k * p.labels + j])
                    .sum::<f32>()
                    + p.b[j]
            })
            .collect();
        super::head::softmax(&mut logits);
        logits
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `bytes` to `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write fixture");
}
