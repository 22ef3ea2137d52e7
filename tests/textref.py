"""Helpers for the text-model shell tests (stdlib only): read a safetensors tensor, compare
`clipseek embed` output (JSON lines) with it.

  textref.py max-diff REFS.safetensors TENSOR OUT.jsonl   -> prints the max abs difference
  textref.py json-get FILE.json KEY                        -> prints a string field
"""
import json
import struct
import sys


def tensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        t = head[name]
        a, b = t["data_offsets"]
        f.seek(8 + n + a)
        raw = f.read(b - a)
    assert t["dtype"] == "F32"
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


def main():
    if sys.argv[1] == "max-diff":
        ref = tensor(sys.argv[2], sys.argv[3])
        got = [x for line in open(sys.argv[4]) for x in json.loads(line)]
        if len(got) != len(ref):
            print("size %d != %d" % (len(got), len(ref)))
            return 1
        print("%.3g" % max(abs(a - b) for a, b in zip(got, ref)))
        return 0
    if sys.argv[1] == "json-get":
        sys.stdout.write(json.load(open(sys.argv[2]))[sys.argv[3]])
        return 0
    return 2


sys.exit(main())
