#!/usr/bin/env python3
"""Writes the seed corpus of the libFuzzer targets (fuzz/corpus/<target>/): small valid inputs
made in pure Python with the generators of make_pth_testdata.py and make_sample_checkpoint.py.
Regression inputs found by fuzzing (crash-*, named by what they hit) live next to them and are
not touched. Run: python3 scripts/make_fuzz_corpus.py
"""
import collections
import json
import os
import struct
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
import make_pth_testdata as pth  # noqa: E402
import make_sample_checkpoint as sample  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors_bytes(tensors, metadata=None):
    header = {"__metadata__": metadata} if metadata else {}
    blobs, off = [], 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # safetensors
        p = os.path.join(tmp, "sample.safetensors")
        sample.main.__globals__["sys"].argv = ["x", p]
        sample.main()
        write("fuzz_safetensors", "sample.safetensors", open(p, "rb").read())
        write("fuzz_safetensors", "tiny_f32.safetensors", safetensors_bytes([("a", "F32", [2], struct.pack("<2f", 1.5, -2.0))]))
        write("fuzz_safetensors", "empty.safetensors", safetensors_bytes([]))
        write("fuzz_safetensors", "zero_dim.safetensors",
              safetensors_bytes([("z", "BF16", [0, 4], b""), ("s", "I64", [], struct.pack("<q", -7))], {"k": "v"}))
        write("fuzz_safetensors", "mixed.safetensors", safetensors_bytes([
            ("h", "F16", [3], struct.pack("<3e", 0.5, -1.0, 2.0)),
            ("e", "F8_E5M2", [2], bytes([0x3c, 0xbc])),
            ("b", "BOOL", [2], bytes([1, 0])),
            ("d", "F64", [1], struct.pack("<d", 3.25)),
            ("i", "I16", [2], struct.pack("<2h", -5, 9)),
        ]))

        # pth: the reader test files and a minimal one
        pth.main.__globals__["sys"].argv = ["x", tmp]
        pth.main()
        for n in ("views.pth", "views_zip64.pth", "views_deflate.pth", "nested.pth"):
            write("fuzz_pth", n, open(os.path.join(tmp, n), "rb").read())
        a = pth.Storage("0", "BFloat16Storage", [1.0, -2.0])
        sd = collections.OrderedDict([("w", pth.Tensor(a, 0, (2,), (1,)))])
        small = os.path.join(tmp, "small.pth")
        pth.write_zip(small, pth.torch_entries("small", sd, [a]))
        write("fuzz_pth", "small_bf16.pth", open(small, "rb").read())

        # pickles: data.pkl of those files
        for n in ("views.pth", "nested.pth"):
            with zipfile.ZipFile(os.path.join(tmp, n)) as z:
                pkl = [i for i in z.namelist() if i.endswith("/data.pkl")][0]
                write("fuzz_pickle", n.replace(".pth", ".pkl"), z.read(pkl))
        write("fuzz_pickle", "small_bf16.pkl", pth.pickle_state_dict(sd))

    # shard index
    write("fuzz_index_json", "index.json", json.dumps({
        "metadata": {"total_size": 1234},
        "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.bias": "model-00002-of-00002.safetensors"},
    }, indent=2).encode())
    write("fuzz_index_json", "empty_map.json", b'{"weight_map": {}}')


if __name__ == "__main__":
    main()
