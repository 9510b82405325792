"""A small, real training command: the reference for TRAINING_COMMAND and what tests and demos run.

    python -m app.training.reference --data train.jsonl --output OUT_DIR [--epochs 3]

It reads the prompt/response examples, fits a bigram table of the responses' words (hashed into a
fixed number of buckets) over a number of epochs, reports progress on stdout as JSON lines
(`{"progress": 42.0, "message": "epoch 2/3 · example 7/20"}`) and writes the weights as
`OUT_DIR/adapter.safetensors` (a valid safetensors file) plus `OUT_DIR/training_summary.json`.
It needs no GPU. A real command (a LoRA fine-tune) follows the same contract: read the data file,
print progress lines, write an adapter file into the output directory, exit 0 on success.
"""

from __future__ import annotations

import argparse
import itertools
import json
import struct
import sys
import zlib
from pathlib import Path

BUCKETS = 4096


def bucket(first: str, second: str) -> int:
    return zlib.crc32(f"{first}\x1f{second}".encode()) % BUCKETS


def train(examples: list[dict[str, str]], epochs: int, work: int, learning_rate: float = 0.1) -> list[float]:
    """Move each bucket's weight toward how often its bigram appears, `work` small steps per pair."""
    weights = [0.0] * BUCKETS
    total = epochs * len(examples)
    step = 0
    last_reported = -1.0
    for epoch in range(1, epochs + 1):
        for index, example in enumerate(examples, start=1):
            words = example["response"].lower().split()
            for first, second in itertools.pairwise(words):
                slot = bucket(first, second)
                for _ in range(work):
                    weights[slot] += learning_rate * (1.0 - weights[slot])
            step += 1
            percent = round(100.0 * step / total, 1)
            if percent - last_reported >= 1.0 or step == total:
                last_reported = percent
                report(percent, f"epoch {epoch}/{epochs} · example {index}/{len(examples)}")
    return weights


def report(percent: float, message: str) -> None:
    print(json.dumps({"progress": percent, "message": message}), flush=True)


def write_safetensors(path: Path, name: str, values: list[float], metadata: dict[str, str]) -> None:
    """The safetensors layout: an 8-byte little-endian header length, a JSON header, then the data."""
    data = struct.pack(f"<{len(values)}f", *values)
    header = {
        "__metadata__": metadata,
        name: {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, len(data)]},
    }
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.training.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="JSONL file of {prompt, response} examples")
    parser.add_argument("--output", type=Path, required=True, help="directory to write the adapter into")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the examples (default 3)")
    parser.add_argument("--base-model", default="", help="recorded in the adapter's metadata")
    parser.add_argument("--work", type=int, default=200, help="optimisation steps per word pair (default 200)")
    args = parser.parse_args(argv)

    lines = [line for line in args.data.read_text().splitlines() if line.strip()]
    examples = [json.loads(line) for line in lines]
    if not examples:
        print("no examples to train on", file=sys.stderr)
        return 2
    print(f"training on {len(examples)} examples for {args.epochs} epoch(s)", flush=True)
    weights = train(examples, args.epochs, args.work)
    args.output.mkdir(parents=True, exist_ok=True)
    metadata = {"base_model": args.base_model, "examples": str(len(examples)), "epochs": str(args.epochs)}
    write_safetensors(args.output / "adapter.safetensors", "bigram.weight", weights, metadata)
    summary = {**metadata, "nonzero_buckets": sum(1 for w in weights if w > 0)}
    (args.output / "training_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.output / 'adapter.safetensors'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
