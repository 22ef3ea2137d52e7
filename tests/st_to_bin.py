"""Writes a safetensors file's tensors as a PyTorch zip checkpoint (what torch.save writes, and
what sentence-transformers 2.x and transformers ship as pytorch_model.bin), without torch: the
pickle is assembled with fuzz/make_pickle_seeds.py's writer. F32 -> FloatStorage, I64 ->
LongStorage, I32 -> IntStorage; one storage per tensor, contiguous.
Usage: python3 tests/st_to_bin.py IN.safetensors OUT.bin"""
import io
import json
import os
import struct
import sys
import zipfile

sys.dont_write_bytecode = True  # nothing written into the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz"))
from make_pickle_seeds import P, tensor  # noqa: E402

STORAGE = {"F32": "FloatStorage", "I64": "LongStorage", "I32": "IntStorage"}
SIZE = {"F32": 4, "I64": 8, "I32": 4}


def main(src, dst):
    raw = open(src, "rb").read()
    hlen = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + hlen])
    body = raw[8 + hlen:]
    names = [k for k in header if k != "__metadata__"]
    p = P()
    p.g("collections", "OrderedDict").op(b")R").put().op(b"(")
    storages = {}
    for i, name in enumerate(names):
        t = header[name]
        dt, shape = t["dtype"], t["shape"]
        a, b = t["data_offsets"]
        numel = (b - a) // SIZE[dt]
        stride, acc = [], 1
        for d in reversed(shape):
            stride.insert(0, acc)
            acc *= d
        p.s(name)
        tensor(p, STORAGE[dt], str(i), numel, 0, shape, stride)
        storages[str(i)] = body[a:b]
    p.op(b"u")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", p.stop())
        z.writestr("archive/byteorder", "little")
        for k, v in storages.items():
            z.writestr("archive/data/" + k, v)
        z.writestr("archive/version", "3\n")
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.rename(tmp, dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
