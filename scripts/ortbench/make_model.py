#!/usr/bin/python3
"""Writes the inputs of the freeseg / ONNX Runtime side-by-side measurement (docs/speed.md).

Measurement tooling only: not run by `go test` or CI. Needs Debian's python3-torch (torch 1.13,
run it with /usr/bin/python3); no onnx package (torch's exporter writes the file itself).

Into OUT (default ~/.cache/freeseg-ortbench) it writes, from one random seed:
  clip-vitb16-random.pt   an OpenAI-CLIP ViT-B/16 state dict (vision and text towers), torch.save
                          zip format, which freeseg loads like a real checkpoint;
  vit224.onnx, vit448.onnx the image encoder with the SAME weights, doing what `freeseg bench`'s
                          crop224_ms / image448_ms time (dense.Vanilla.Features): patch convolution,
                          class token, positional table, ln_pre, 12 pre-LN blocks (width 768, 12 heads,
                          QuickGELU MLP 3072), then ln_post and the projection on ALL tokens -> [1, N, 512];
                          at 448 the positional table is resized as freeseg's vanilla method does
                          (SCLIP's bicubic interpolate_pos_encoding, scale ((448/16)+0.1)/14);
  check224.png, check448.png and their CLIP-normalised float32 inputs (check224.bin, check448.bin),
                          for the numerical check that both programs run the same network.
"""
import math
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/freeseg-ortbench")
D, LAYERS, HEADS, PATCH, GRID, EMBED = 768, 12, 12, 16, 14, 512
TD, TLAYERS, CTX, VOCAB = 512, 12, 77, 49408
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


def random_state_dict(seed=20261204):
    g = torch.Generator().manual_seed(seed)

    def normal(std, *shape):
        return torch.randn(*shape, generator=g) * std

    sd = {}

    def ln(p, d):  # not 1/0: a check with random scales and shifts also tests them
        sd[p + ".weight"] = 1 + normal(0.1, d)
        sd[p + ".bias"] = normal(0.05, d)

    def blocks(prefix, layers, d):
        for i in range(layers):
            p = "%s%d." % (prefix, i)
            ln(p + "ln_1", d)
            ln(p + "ln_2", d)
            sd[p + "attn.in_proj_weight"] = normal(0.02, 3 * d, d)
            sd[p + "attn.in_proj_bias"] = normal(0.02, 3 * d)
            sd[p + "attn.out_proj.weight"] = normal(0.02, d, d)
            sd[p + "attn.out_proj.bias"] = normal(0.02, d)
            sd[p + "mlp.c_fc.weight"] = normal(0.02, 4 * d, d)
            sd[p + "mlp.c_fc.bias"] = normal(0.02, 4 * d)
            sd[p + "mlp.c_proj.weight"] = normal(0.02, d, 4 * d)
            sd[p + "mlp.c_proj.bias"] = normal(0.02, d)

    sd["visual.conv1.weight"] = normal(0.02, D, 3, PATCH, PATCH)
    sd["visual.class_embedding"] = normal(0.02, D)
    sd["visual.positional_embedding"] = normal(0.01, 1 + GRID * GRID, D)
    ln("visual.ln_pre", D)
    ln("visual.ln_post", D)
    blocks("visual.transformer.resblocks.", LAYERS, D)
    sd["visual.proj"] = normal(1 / math.sqrt(D), D, EMBED)
    sd["token_embedding.weight"] = normal(0.02, VOCAB, TD)
    sd["positional_embedding"] = normal(0.01, CTX, TD)
    blocks("transformer.resblocks.", TLAYERS, TD)
    ln("ln_final", TD)
    sd["text_projection"] = normal(1 / math.sqrt(TD), TD, EMBED)
    sd["logit_scale"] = torch.tensor(math.log(100.0))
    return sd


def pos_table(sd, gh, gw):
    """The positional table for a gh x gw grid, as SCLIP's interpolate_pos_encoding (bicubic,
    align_corners False, scale factors ((side/16)+0.1)/14, not recomputed)."""
    pos = sd["visual.positional_embedding"]
    if gh == GRID and gw == GRID:
        return pos
    patch = pos[1:].reshape(1, GRID, GRID, D).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, scale_factor=((gh + 0.1) / GRID, (gw + 0.1) / GRID), mode="bicubic",
                          align_corners=False, recompute_scale_factor=False)
    assert patch.shape[-2:] == (gh, gw), patch.shape
    return torch.cat([pos[:1], patch.permute(0, 2, 3, 1).reshape(gh * gw, D)])


class Encoder(torch.nn.Module):
    """CLIP's VisionTransformer up to ln_post @ proj, applied to every token (freeseg's vanilla
    dense features), written out op by op so the exported graph is plain ONNX."""

    def __init__(self, sd, side):
        super().__init__()
        g = side // PATCH
        self.n = 1 + g * g
        p = lambda k: torch.nn.Parameter(sd["visual." + k].clone(), requires_grad=False)
        self.conv = p("conv1.weight")
        self.cls = p("class_embedding")
        self.pos = torch.nn.Parameter(pos_table(sd, g, g).clone(), requires_grad=False)
        self.ln_pre = (p("ln_pre.weight"), p("ln_pre.bias"))
        self.ln_post = (p("ln_post.weight"), p("ln_post.bias"))
        self.proj = p("proj")
        self.blocks = []
        for i in range(LAYERS):
            b = {k: p("transformer.resblocks.%d.%s" % (i, k)) for k in (
                "ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "attn.in_proj_weight",
                "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias", "mlp.c_fc.weight",
                "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")}
            self.blocks.append(b)
        # register every parameter so that export sees them as initializers
        for i, b in enumerate(self.blocks):
            for k, v in b.items():
                self.register_parameter("b%d_%s" % (i, k.replace(".", "_")), v)
        for k, v in (("ln_pre_w", self.ln_pre[0]), ("ln_pre_b", self.ln_pre[1]),
                     ("ln_post_w", self.ln_post[0]), ("ln_post_b", self.ln_post[1])):
            self.register_parameter(k, v)

    def forward(self, x):  # x: [1, 3, side, side], CLIP-normalised
        x = F.conv2d(x, self.conv, stride=PATCH)  # [1, D, g, g]
        x = x.flatten(2).transpose(1, 2)  # [1, g*g, D]
        x = torch.cat([self.cls.view(1, 1, D), x], dim=1) + self.pos
        x = F.layer_norm(x, (D,), self.ln_pre[0], self.ln_pre[1], 1e-5)
        hd = D // HEADS
        for b in self.blocks:
            h = F.layer_norm(x, (D,), b["ln_1.weight"], b["ln_1.bias"], 1e-5)
            qkv = F.linear(h, b["attn.in_proj_weight"], b["attn.in_proj_bias"])  # [1, N, 3D]
            qkv = qkv.reshape(1, self.n, 3, HEADS, hd).permute(2, 0, 3, 1, 4)  # [3, 1, H, N, hd]
            q, k, v = qkv[0], qkv[1], qkv[2]
            a = torch.softmax(torch.matmul(q * (hd ** -0.5), k.transpose(-1, -2)), dim=-1)
            o = torch.matmul(a, v).permute(0, 2, 1, 3).reshape(1, self.n, D)
            x = x + F.linear(o, b["attn.out_proj.weight"], b["attn.out_proj.bias"])
            h = F.layer_norm(x, (D,), b["ln_2.weight"], b["ln_2.bias"], 1e-5)
            h = F.linear(h, b["mlp.c_fc.weight"], b["mlp.c_fc.bias"])
            h = h * torch.sigmoid(1.702 * h)  # QuickGELU
            x = x + F.linear(h, b["mlp.c_proj.weight"], b["mlp.c_proj.bias"])
        x = F.layer_norm(x, (D,), self.ln_post[0], self.ln_post[1], 1e-5)
        return torch.matmul(x, self.proj)  # [1, N, EMBED]


def write_png(path, rgb):
    """rgb: uint8 tensor [H, W, 3] -> an 8-bit RGB PNG (no PIL needed)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + bytes(rgb[y].flatten().tolist()) for y in range(h))

    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def check_image(side, seed):
    """A smooth image with some noise, and its CLIP-normalised planar float32 input."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, side).view(side, 1, 1)
    x = torch.linspace(0, 1, side).view(1, side, 1)
    c = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 3)
    img = 127.5 + 90 * torch.sin(6 * x * c + 4 * y) + 30 * torch.randn(side, side, 3, generator=g)
    rgb = img.round().clamp(0, 255).to(torch.uint8)
    inp = ((rgb.permute(2, 0, 1).float() / 255) - MEAN) / STD
    return rgb, inp.unsqueeze(0).contiguous()


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    sd = random_state_dict()
    ckpt = os.path.join(OUT, "clip-vitb16-random.pt")
    torch.save(sd, ckpt)
    print("wrote", ckpt)
    for side in (224, 448):
        enc = Encoder(sd, side).eval()
        rgb, inp = check_image(side, side)
        write_png(os.path.join(OUT, "check%d.png" % side), rgb)
        inp.numpy().astype("<f4").tofile(os.path.join(OUT, "check%d.bin" % side))
        with torch.no_grad():
            ref = enc(inp)
        ref.numpy().astype("<f4").tofile(os.path.join(OUT, "torch%d.bin" % side))
        path = os.path.join(OUT, "vit%d.onnx" % side)
        torch.onnx.export(enc, (inp,), path, input_names=["pixels"], output_names=["tokens"],
                          opset_version=17, do_constant_folding=True)
        print("wrote", path, "tokens", tuple(ref.shape))


if __name__ == "__main__":
    main()
