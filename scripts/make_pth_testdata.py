#!/usr/bin/env python3
"""Writes small PyTorch .pth files for wan22's reader tests, in pure Python (no torch, no numpy).

torch.save (>= 1.6) writes a zip archive: <archive>/data.pkl is the state dict pickled with
protocol 2, tensors reduce to torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, backward_hooks) and every storage is a persistent id
('storage', torch.<X>Storage, key, location, numel) whose bytes are the zip entry
<archive>/data/<key> (stored, 64-byte aligned). Here the few torch names the pickle refers to
are faked as modules so Python's own pickler writes the same opcodes torch.save does, and a small
zip writer reproduces torch's layout (alignment padding, data descriptors, zip64 records).

Outputs (default tests/data/pth/):
  views.pth             views into shared storages: transposes, offsets, steps, bf16 permutes,
                        f16, i64, 0-d, empty, a Parameter, an fp8 tensor through _rebuild_tensor_v3
  views_zip64.pth       the same with zip64 extra fields in every entry
  views_deflate.pth     the same with deflate-compressed storages (read through libzip)
  views_expected.safetensors  every tensor of views.pth, contiguous: what the reader must return
  nested.pth            {'model': {'a', 'b'}, 'epoch': 3, 'note': 'x'} -> model.a, model.b
Run: python3 scripts/make_pth_testdata.py [OUT_DIR]
"""
import collections
import json
import os
import pickle
import struct
import sys
import types
import zlib

# ---- the torch names data.pkl refers to ----
torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch.__path__ = []
torch._utils = torch_utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils

STORAGE_TYPES = {  # class name -> (struct code, element size)
    "FloatStorage": ("f", 4), "DoubleStorage": ("d", 8), "HalfStorage": ("e", 2),
    "BFloat16Storage": (None, 2), "LongStorage": ("q", 8), "IntStorage": ("i", 4),
    "ShortStorage": ("h", 2), "CharStorage": ("b", 1), "ByteStorage": ("B", 1),
    "BoolStorage": ("?", 1), "UntypedStorage": ("B", 1),
}
for _name in STORAGE_TYPES:
    _cls = type(_name, (), {})
    _cls.__module__ = "torch"
    setattr(torch, _name, _cls)


def _fake_function(module, name):
    def f(*args):
        raise RuntimeError("only for pickling")
    f.__module__ = module.__name__
    f.__name__ = f.__qualname__ = name
    setattr(module, name, f)
    return f


_rebuild_tensor_v2 = _fake_function(torch_utils, "_rebuild_tensor_v2")
_rebuild_tensor_v3 = _fake_function(torch_utils, "_rebuild_tensor_v3")
_rebuild_parameter = _fake_function(torch_utils, "_rebuild_parameter")


class _DType:
    """torch.float8_e4m3fn etc.: pickled as the global torch.<name>."""

    def __init__(self, name):
        self.name = name
        self.__module__ = "torch"

    def __reduce__(self):
        return self.name


for _name in ("float8_e4m3fn", "bfloat16", "float32"):
    setattr(torch, _name, _DType(_name))


# ---- storages and tensors ----
def bf16_bits(x):
    """float -> bfloat16 bits, round to nearest even (values here are exact anyway)."""
    u = struct.unpack("<I", struct.pack("<f", x))[0]
    u += 0x7FFF + ((u >> 16) & 1)
    return (u >> 16) & 0xFFFF


def e4m3_bits(x):
    """Exactly representable float8_e4m3fn values only (checked)."""
    if x == 0:
        return 0
    sign = 0x80 if x < 0 else 0
    a = abs(x)
    for e in range(1, 16):
        for m in range(8):
            if (1 + m / 8) * 2.0 ** (e - 7) == a:
                return sign | (e << 3) | m
    for m in range(1, 8):  # subnormals
        if m / 8 * 2.0 ** -6 == a:
            return sign | m
    raise ValueError(f"{x} is not exact in e4m3")


class Storage:
    def __init__(self, key, type_name, values, dtype_code=None):
        self.key, self.type_name, self.values = key, type_name, list(values)
        self.dtype_code = dtype_code  # element encoding: storage's own, or "bf16" / "e4m3"

    def encode(self, code, values):
        if code == "bf16":
            return b"".join(struct.pack("<H", bf16_bits(v)) for v in values)
        if code == "e4m3":
            return bytes(e4m3_bits(v) for v in values)
        return struct.pack("<%d%s" % (len(values), code), *values)

    def data(self):
        code = self.dtype_code or ("bf16" if self.type_name == "BFloat16Storage" else STORAGE_TYPES[self.type_name][0])
        return self.encode(code, self.values)

    def numel(self):
        # Typed storages count elements; untyped ones count bytes.
        return len(self.data()) if self.type_name == "UntypedStorage" else len(self.values)


class Tensor:
    def __init__(self, storage, offset, size, stride, dtype=None, parameter=False):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        self.dtype, self.parameter = dtype, parameter

    def __reduce_ex__(self, protocol):
        hooks = collections.OrderedDict()
        if self.dtype is not None:  # new dtypes (fp8) go through v3 with an untyped storage
            t = (_rebuild_tensor_v3, (self.storage, self.offset, self.size, self.stride, False, hooks,
                                      getattr(torch, self.dtype)))
        else:
            t = (_rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, hooks))
        if self.parameter:
            return (_rebuild_parameter, (_Rebuilt(t), True, collections.OrderedDict()))
        return t

    def values(self):
        """The view's elements in row-major order (what a reader must return)."""
        out = []

        def walk(d, off):
            if d == len(self.size):
                out.append(self.storage.values[off])
                return
            for i in range(self.size[d]):
                walk(d + 1, off + i * self.stride[d])

        if all(s > 0 for s in self.size):
            walk(0, self.offset)
        return out


class _Rebuilt:
    def __init__(self, reduce_value):
        self.reduce_value = reduce_value

    def __reduce_ex__(self, protocol):
        return self.reduce_value


def pickle_state_dict(obj):
    import io
    buf = io.BytesIO()

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Storage):
                return ("storage", getattr(torch, o.type_name), o.key, "cpu", o.numel())
            return None

    P(buf, protocol=2).dump(obj)
    return buf.getvalue()


# ---- a zip writer with torch's layout ----
def write_zip(path, entries, zip64=False, deflate_prefix=None, align=64):
    """entries: [(name, bytes)]. Stored entries get their data 64-byte aligned through a padding
    extra field (id 'FB'), as torch's writer does; entries whose name starts with deflate_prefix
    are deflated. Every entry has a data descriptor (flag bit 3). zip64: the central directory
    holds zip64 extra fields for sizes and offsets, and zip64 end records are written."""
    out = bytearray()
    central = []
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        method = 0
        payload = data
        if deflate_prefix and name.startswith(deflate_prefix):
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
            method = 8
        offset = len(out)
        extra = b""
        if method == 0:
            start = offset + 30 + len(nb) + 4
            pad = (-start) % align
            extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        flags = 0x0808
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, method, 0, 0x21,
                           0, 0, 0, len(nb), len(extra))
        out += nb + extra
        out += payload
        if zip64:
            out += struct.pack("<IIQQ", 0x08074B50, crc, len(payload), len(data))
        else:
            out += struct.pack("<IIII", 0x08074B50, crc, len(payload), len(data))
        central.append((nb, method, crc, len(payload), len(data), offset, flags))
    cd_start = len(out)
    for nb, method, crc, csize, usize, offset, flags in central:
        if zip64:
            extra = struct.pack("<HHQQQ", 0x0001, 24, usize, csize, offset)
            fields = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        else:
            extra = b""
            fields = (csize, usize, offset)
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if zip64 else 20, 45 if zip64 else 20, flags,
                           method, 0, 0x21, crc, fields[0], fields[1], len(nb), len(extra), 0, 0, 0, 0, fields[2])
        out += nb + extra
    cd_size = len(out) - cd_start
    n = len(central)
    if zip64:
        eocd64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_start)
        out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0)
    with open(path, "wb") as f:
        f.write(out)


def torch_entries(archive, state_dict, storages):
    entries = [(f"{archive}/data.pkl", pickle_state_dict(state_dict)),
               (f"{archive}/.format_version", b"1"),
               (f"{archive}/.storage_alignment", b"64"),
               (f"{archive}/byteorder", b"little")]
    for s in storages:
        entries.append((f"{archive}/data/{s.key}", s.data()))
    entries.append((f"{archive}/version", b"3\n"))
    entries.append((f"{archive}/.data/serialization_id", b"0123456789012345678901234567890123456789"))
    return entries


# ---- safetensors (the expected values) ----
def write_safetensors(path, tensors):
    """tensors: [(name, dtype, shape, bytes)]."""
    header, blobs, off = {}, [], 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


ST_DTYPE = {"FloatStorage": "F32", "BFloat16Storage": "BF16", "HalfStorage": "F16", "LongStorage": "I64",
            "UntypedStorage": "F8_E4M3"}


def views_state_dict():
    # Storage 0: f32 3x4 values i*0.25 - 1 (non-zero, exact in every float type used here).
    s0 = Storage("0", "FloatStorage", [i * 0.25 - 1.0 for i in range(12)])
    # Storage 1: bf16 with 5 leading elements not used by its tensors (offset view).
    s1 = Storage("1", "BFloat16Storage", [(i - 20) * 0.125 for i in range(35)])
    s2 = Storage("2", "HalfStorage", [i * 1.5 - 4.0 for i in range(7)])
    s3 = Storage("3", "LongStorage", [-3, 7, 1 << 40, -(1 << 33)])
    s4 = Storage("4", "FloatStorage", [2.5])
    s5 = Storage("5", "FloatStorage", [])
    s6 = Storage("6", "UntypedStorage", [0.5, -1.0, 2.0, 448.0, -0.015625, 3.5], dtype_code="e4m3")
    t = collections.OrderedDict()
    t["w_f32"] = Tensor(s0, 0, (3, 4), (4, 1))
    t["w_t"] = Tensor(s0, 0, (4, 3), (1, 4))             # transpose: shares storage 0
    t["row"] = Tensor(s0, 4, (4,), (1,))                 # offset view
    t["col"] = Tensor(s0, 1, (3,), (4,))                 # strided column
    t["stepped"] = Tensor(s0, 1, (2, 2), (8, 2))         # [::2, 1::2]
    t["bf16"] = Tensor(s1, 5, (2, 3, 5), (15, 5, 1))     # offset, contiguous
    t["bf16_perm"] = Tensor(s1, 5, (5, 2, 3), (1, 15, 5))  # permuted view of the same storage
    t["bf16_bcast"] = Tensor(s1, 6, (3, 4), (0, 1))     # expand(): stride 0
    t["f16"] = Tensor(s2, 0, (7,), (1,))
    t["i64"] = Tensor(s3, 0, (2, 2), (2, 1))
    t["scalar"] = Tensor(s4, 0, (), ())
    t["empty"] = Tensor(s5, 0, (0, 3), (3, 1))
    t["param"] = Tensor(s0, 8, (4,), (1,), parameter=True)
    t["f8"] = Tensor(s6, 1, (5,), (1,), dtype="float8_e4m3fn")
    t._metadata = collections.OrderedDict([("", {"version": 1})])  # as nn.Module.state_dict() has
    return t, [s0, s1, s2, s3, s4, s5, s6]


def expected(tensors):
    out = []
    for name, t in tensors.items():
        st = t.storage
        if t.dtype == "float8_e4m3fn":
            data = st.encode("e4m3", t.values())
        elif st.type_name == "BFloat16Storage":
            data = st.encode("bf16", t.values())
        else:
            data = st.encode(STORAGE_TYPES[st.type_name][0], t.values())
        out.append((name, ST_DTYPE[st.type_name], t.size, data))
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "pth")
    os.makedirs(out_dir, exist_ok=True)
    sd, storages = views_state_dict()
    entries = torch_entries("views", sd, storages)
    write_zip(os.path.join(out_dir, "views.pth"), entries)
    write_zip(os.path.join(out_dir, "views_zip64.pth"), entries, zip64=True)
    write_zip(os.path.join(out_dir, "views_deflate.pth"), entries, deflate_prefix="views/data/")
    write_safetensors(os.path.join(out_dir, "views_expected.safetensors"), expected(sd))

    a = Storage("0", "FloatStorage", [1.0, -2.0, 3.0, -4.0])
    nested = {"model": collections.OrderedDict([("a", Tensor(a, 0, (2, 2), (2, 1))), ("b", Tensor(a, 2, (2,), (1,)))]),
              "epoch": 3, "note": "x"}
    write_zip(os.path.join(out_dir, "nested.pth"), torch_entries("archive", nested, [a]))
    print("wrote", sorted(os.listdir(out_dir)))


if __name__ == "__main__":
    main()
