#!/usr/bin/env python3
"""Writes the seeds of fuzz/fuzz_pickle.c into fuzz/seeds/pickle/: small PyTorch checkpoints in
the zip and legacy layouts that torch.save writes (protocol-2 pickles assembled opcode by opcode,
so neither torch nor any file from elsewhere is needed), plus a bare pickle. Rerun after changing
the layouts: python3 fuzz/make_pickle_seeds.py"""
import io
import os
import struct
import zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "pickle")


class P:
    """A protocol-2 pickle, written the way Python's pickler lays out a state dict."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")
        self.memo = 0

    def op(self, raw):
        self.b += raw
        return self

    def put(self):
        self.b += b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo)
        self.memo += 1
        return self

    def s(self, text):
        data = text.encode()
        return self.op(b"X" + struct.pack("<I", len(data)) + data)

    def i(self, v):
        if 0 <= v < 256:
            return self.op(b"K" + bytes([v]))
        if 0 <= v < 65536:
            return self.op(b"M" + struct.pack("<H", v))
        return self.op(b"J" + struct.pack("<i", v))

    def g(self, mod, name):
        return self.op(b"c" + mod.encode() + b"\n" + name.encode() + b"\n")

    def tup(self, items):
        if not items:
            return self.op(b")")
        self.op(b"(")
        for it in items:
            it(self)
        return self.op(b"t")

    def stop(self):
        return bytes(self.b + b".")


def tensor(p, storage, key, numel, offset, size, stride, legacy=False, param=False, view=None):
    if param:
        p.g("torch._utils", "_rebuild_parameter")
        p.op(b"(")
    p.g("torch._utils", "_rebuild_tensor_v2")
    pid = [lambda q: q.s("storage"), lambda q: q.g("torch", storage), lambda q: q.s(key), lambda q: q.s("cpu"),
           lambda q: q.i(numel)]
    if legacy and view:  # a legacy storage view: (view_key, offset, size) into the root storage
        pid.append(lambda q: q.tup([lambda r: r.s(view[0]), lambda r: r.i(view[1]), lambda r: r.i(view[2])]))
    elif legacy:
        pid.append(lambda q: q.op(b"N"))
    p.op(b"(")
    p.tup(pid).op(b"Q")
    p.i(offset).tup([lambda q, v=v: q.i(v) for v in size]).tup([lambda q, v=v: q.i(v) for v in stride])
    p.op(b"\x89").g("collections", "OrderedDict").op(b")R")
    p.op(b"t").op(b"R")
    if param:
        p.op(b"\x88").g("collections", "OrderedDict").op(b")R").op(b"t").op(b"R")


def state_dict(legacy, extra=None):
    p = P()
    p.g("collections", "OrderedDict").op(b")R").put().op(b"(")
    p.s("w")
    tensor(p, "FloatStorage", "0", 6, 0, [4], [1], legacy)
    p.s("view")
    tensor(p, "FloatStorage", "0", 6, 2, [2, 2], [1, 2], legacy)   # transposed, offset 2
    p.s("h")
    tensor(p, "HalfStorage", "1", 4, 0, [2, 2], [2, 1], legacy, param=True)
    p.s("position_ids")
    tensor(p, "LongStorage", "2", 3, 0, [1, 3], [3, 1], legacy)
    if extra:
        extra(p)
    p.op(b"u")
    # OrderedDict state: _metadata, as model.state_dict() carries
    p.op(b"}").s("_metadata").op(b"}").s("").op(b"}").s("version").i(1).op(b"sss").op(b"b")
    return p.stop()


STORAGES = {"0": struct.pack("<6f", 0, 1, 2, 3, 4, 5), "1": struct.pack("<4e", 1, -2, 0.5, 65504),
            "2": struct.pack("<3q", 0, 1, 2)}


def expand(p):  # an expand()ed view: stride 0 repeats one element (its copy is bounded by the file)
    p.s("expanded")
    tensor(p, "FloatStorage", "0", 6, 1, [3, 4], [0, 0])


def zip_checkpoint(folder="archive", extra=None, names=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for n in names:  # entries a reader must not trip over: a path outside, a duplicate name
            z.writestr(n, b"x")
        z.writestr(folder + "/data.pkl", state_dict(False, extra))
        z.writestr(folder + "/byteorder", "little")
        for k, v in STORAGES.items():
            z.writestr(folder + "/data/" + k, v)
        z.writestr(folder + "/version", "3\n")
    return buf.getvalue()


def legacy_view(p):  # a legacy tensor on a view of storage "0": elements 2..5
    p.s("legacy_view")
    tensor(p, "FloatStorage", "0", 6, 0, [2, 2], [2, 1], True, view=("0v", 2, 4))


def legacy_checkpoint(extra=None):
    magic = P().op(b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")).stop()
    proto = P().i(1001).stop()
    info = P().op(b"}(").s("protocol_version").i(1001).s("little_endian").op(b"\x88").op(b"u").stop()
    keys = P().op(b"](").s("0").s("1").s("2").op(b"e").stop()
    out = magic + proto + info + state_dict(True, extra) + keys
    for k in ("0", "1", "2"):
        n = {"0": 6, "1": 4, "2": 3}[k]
        out += struct.pack("<Q", n) + STORAGES[k]
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {"zip.bin": zip_checkpoint(), "zip-other-folder.bin": zip_checkpoint("pytorch_model"),
             "legacy.bin": legacy_checkpoint(), "state_dict.pkl": state_dict(False),
             "zip-expand.bin": zip_checkpoint(extra=expand),
             "zip-odd-names.bin": zip_checkpoint(names=("../escape", "archive/version")),
             "legacy-view.bin": legacy_checkpoint(legacy_view)}
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
