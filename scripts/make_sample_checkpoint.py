#!/usr/bin/env python3
"""Writes assets/sample.safetensors: a tiny checkpoint with one tensor of each common dtype
(f32, bf16, f16, f8_e4m3, i64, i32, u8, bool) for `wan22 inspect assets/sample.safetensors`.
Pure Python (no numpy, no torch); the output is deterministic.
Run: python3 scripts/make_sample_checkpoint.py [OUT_PATH]
"""
import json
import math
import os
import struct
import sys


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def f16(values):
    return struct.pack("<%de" % len(values), *values)


def bf16(values):
    out = bytearray()
    for v in values:
        u = struct.unpack("<I", struct.pack("<f", v))[0]
        u += 0x7FFF + ((u >> 16) & 1)  # round to nearest even
        out += struct.pack("<H", (u >> 16) & 0xFFFF)
    return bytes(out)


def f8_e4m3(values):
    """float8_e4m3fn by exhaustive nearest search over the 254 finite codes (ties to even)."""
    table = []
    for code in range(256):
        if code & 0x7F == 0x7F:
            continue  # NaN
        s, e, m = code >> 7, (code >> 3) & 15, code & 7
        mag = (m / 8) * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
        table.append((-mag if s else mag, code))
    out = bytearray()
    for v in values:
        v = max(-448.0, min(448.0, v))
        best = min(table, key=lambda t: (abs(t[0] - v), t[1] & 1))
        out.append(best[1])
    return bytes(out)


def wave(n, scale=1.0, phase=0.0):
    return [scale * math.sin(0.7 * i + phase) for i in range(n)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "assets", "sample.safetensors")
    tensors = [
        ("embed.weight", "F32", [4, 8], f32(wave(32, 0.5))),
        ("blocks.0.attn.qkv.weight", "BF16", [12, 4], bf16(wave(48, 0.25, 1.0))),
        ("blocks.0.attn.qkv.bias", "F16", [12], f16(wave(12, 0.1, 2.0))),
        ("blocks.0.ffn.weight", "F8_E4M3", [8, 4], f8_e4m3(wave(32, 2.0, 0.5))),
        ("position_ids", "I64", [1, 6], struct.pack("<6q", *range(6))),
        ("vocab.counts", "I32", [5], struct.pack("<5i", 7, -3, 100000, 0, 42)),
        ("mask", "BOOL", [2, 3], bytes([1, 0, 1, 1, 0, 0])),
        ("lut", "U8", [4], bytes([0, 17, 128, 255])),
    ]
    header = {"__metadata__": {"format": "pt", "generator": "scripts/make_sample_checkpoint.py"}}
    blobs, off = [], 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)  # data region 8-byte aligned
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print("wrote", out, 8 + len(h) + off, "bytes")


if __name__ == "__main__":
    main()
