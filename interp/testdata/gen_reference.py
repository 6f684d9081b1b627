#!/usr/bin/env python3
"""Regenerates reference.bin / reference.json with PyTorch's F.interpolate.

    cd interp/testdata && python3 gen_reference.py   (needs torch and numpy)

reference.bin is the concatenation of little-endian float32 arrays; each
case in reference.json names its input and output ranges in it.
"""
import json, os
import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
blob = []
offset = 0


def put(t):
    global offset
    a = t.detach().contiguous().numpy().astype("<f4").reshape(-1)
    blob.append(a.tobytes())
    start = offset
    offset += a.size
    return [start, a.size]


cases = []
inputs = {}
for (c, h, w) in [(2, 7, 5), (2, 14, 14), (1, 1, 4), (2, 4, 9)]:
    x = torch.randn(1, c, h, w) * 3
    inputs[(c, h, w)] = (x, put(x))
for (c, h, w), (x, ref) in inputs.items():
    sizes = [(h * 2, w * 2), (h * 3 + 1, w + 2), (max(1, h // 2), max(1, w // 2)), (h, w), (1, 1), (h + 5, 1), (23, 17)]
    for (oh, ow) in sizes:
        for ac in [False, True]:
            y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=ac)
            cases.append({"op": "bilinear", "align_corners": ac, "c": c, "h": h, "w": w, "oh": oh, "ow": ow, "in": ref, "out": put(y)})
        y = F.interpolate(x, size=(oh, ow), mode="bicubic", align_corners=False)
        cases.append({"op": "bicubic", "c": c, "h": h, "w": w, "oh": oh, "ow": ow, "sh": 0, "sw": 0, "in": ref, "out": put(y)})
    # explicit scale factors, SCLIP style: ((H/p)+0.1)/g0
    for (th, tw) in [(h, w), (h + 6, w - 1 if w > 1 else 1), (2 * h, 3 * w)]:
        sh, sw = (th + 0.1) / h, (tw + 0.1) / w
        y = F.interpolate(x, scale_factor=(sh, sw), mode="bicubic", align_corners=False, recompute_scale_factor=False)
        cases.append({"op": "bicubic", "c": c, "h": h, "w": w, "oh": y.shape[2], "ow": y.shape[3], "sh": sh, "sw": sw, "in": ref, "out": put(y)})

# channels-last inputs (a permuted [B,h,w,K] tensor, as in get_similarity_map):
# 13 channels exercise both the 8-wide vector part and the tail.
for (c, h, w) in [(13, 6, 7), (5, 14, 14)]:
    base = torch.rand(1, h, w, c)
    x = base.permute(0, 3, 1, 2)
    assert x.is_contiguous(memory_format=torch.channels_last)
    ref = put(x)
    for (oh, ow) in [(17, 23), (3, 4), (h, w + 2), (h, w)]:
        for ac in [False, True]:
            y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=ac)
            cases.append({"op": "bilinear_cl", "align_corners": ac, "c": c, "h": h, "w": w, "oh": oh, "ow": ow, "in": ref, "out": put(y)})

with open(os.path.join(OUT, "reference.bin"), "wb") as f:
    f.write(b"".join(blob))
with open(os.path.join(OUT, "reference.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=0)
print(len(cases), "cases,", offset * 4, "bytes")
