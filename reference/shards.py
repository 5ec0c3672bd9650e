"""An independent reader of llm.c-format token shards (SPEC §15), for tests/train.

    python3 reference/shards.py DIR
prints one JSON object: for each split ("train", "val") the shard files in order with their
header fields, and the split's token count, number of <|endoftext|> (50256) tokens, and the
first and last 8 tokens and a sum of (i+1)·token over the split's concatenated stream. It
reads the bytes with struct/array only (no tinyr2 code), checking the header (magic
20240520, version 1, count ≤ 100 M, the rest zero) and the file size; a violation exits 1
with one line on stderr.
"""
import array
import json
import os
import re
import struct
import sys

MAGIC, VERSION, HEADER_INTS, MAX_TOKENS, EOT = 20240520, 1, 256, 100_000_000, 50256


def read_shard(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 * HEADER_INTS:
        raise ValueError(f"{path}: shorter than the header")
    header = struct.unpack("<256i", raw[: 4 * HEADER_INTS])
    if header[0] != MAGIC or header[1] != VERSION:
        raise ValueError(f"{path}: magic {header[0]} version {header[1]}")
    n = header[2]
    if not 0 <= n <= MAX_TOKENS or any(header[3:]):
        raise ValueError(f"{path}: bad header (count {n})")
    if len(raw) != 4 * HEADER_INTS + 2 * n:
        raise ValueError(f"{path}: {len(raw)} bytes for {n} tokens")
    tokens = array.array("H")
    tokens.frombytes(raw[4 * HEADER_INTS:])
    if sys.byteorder != "little":
        tokens.byteswap()
    return header, tokens


def main():
    root = sys.argv[1]
    out = {}
    for split in ("train", "val"):
        names = sorted(n for n in os.listdir(root) if re.fullmatch(split + r"_\d{6}\.bin", n))
        for i, n in enumerate(names):
            if n != f"{split}_{i:06d}.bin":
                raise ValueError(f"{root}: {split} shards not numbered 0, 1, ...")
        files, stream = [], []
        for n in names:
            header, tokens = read_shard(os.path.join(root, n))
            files.append({"name": n, "magic": header[0], "version": header[1], "count": header[2]})
            stream.extend(tokens)
        out[split] = {
            "files": files,
            "tokens": len(stream),
            "eot": sum(1 for t in stream if t == EOT),
            "head": stream[:8],
            "tail": stream[-8:],
            "weighted_sum": sum((i + 1) * t for i, t in enumerate(stream)),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as e:
        print(f"shards.py: {e}", file=sys.stderr)
        sys.exit(1)
