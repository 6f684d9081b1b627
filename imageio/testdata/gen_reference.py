#!/usr/bin/env python3
"""Regenerates the reference fixtures in this folder from the real libraries.

Needs Pillow, NumPy, OpenCV (cv2) and the libjpeg-turbo / libwebp command-line
tools (cjpeg, dwebp, cwebp); on Debian: apt-get install python3-pil
python3-numpy python3-opencv libjpeg-turbo-progs webp. The Go tests only read
the files written here; they never run this script.

    cd imageio/testdata && /usr/bin/python3 gen_reference.py
"""
import json, os, struct, subprocess, zlib
import numpy as np
from PIL import Image
import cv2

OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
manifest = {"pillow": Image.__version__, "opencv": cv2.__version__, "resize": [], "decode": []}


def save_png(arr, name):
    Image.fromarray(arr, "RGB").save(os.path.join(OUT, name), optimize=True)
    return name


def smooth(w, h):
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x * 7 + y * 3) % 256], -1)
    a = a + rng.integers(-12, 13, size=a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


os.makedirs(os.path.join(OUT, "resize"), exist_ok=True)
sources = {
    "noise40x30": rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8),
    "smooth61x47": smooth(61, 47),
    "noise17x9": rng.integers(0, 256, size=(9, 17, 3), dtype=np.uint8),
}
filters = {"nearest": Image.NEAREST, "box": Image.BOX, "bilinear": Image.BILINEAR,
           "hamming": Image.HAMMING, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
pil_sizes = [(20, 15), (13, 29), (50, 37), (7, 5), (61, 1), (1, 47), (70, 21)]
cv_sizes = [(20, 15), (13, 29), (50, 37), (7, 5), (34, 18), (34, 17), (80, 60), (30, 23), (5, 3), (1, 1), (300, 2)] + [(w, 11) for w in range(1, 13)]
for sname, src in sources.items():
    save_png(src, "resize/src_%s.png" % sname)
    for fname, f in filters.items():
        for (w, h) in pil_sizes:
            out = np.asarray(Image.fromarray(src).resize((w, h), f))
            name = "resize/pil_%s_%s_%dx%d.png" % (fname, sname, w, h)
            save_png(out, name)
            manifest["resize"].append({"op": "pil", "filter": fname, "src": "resize/src_%s.png" % sname, "w": w, "h": h, "want": name})
    for (w, h) in cv_sizes:
        out = cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR)
        name = "resize/cv2_%s_%dx%d.png" % (sname, w, h)
        save_png(out, name)
        manifest["resize"].append({"op": "cv2", "src": "resize/src_%s.png" % sname, "w": w, "h": h, "want": name})

# ---- decoding: files and what Pillow's convert("RGB") makes of them ----
os.makedirs(os.path.join(OUT, "decode"), exist_ok=True)


def add_decode(fname, note, exact=True, orientation=1):
    im = Image.open(os.path.join(OUT, fname))
    want = "decode/want_" + os.path.basename(fname).replace(".", "_") + ".png"
    save_png(np.asarray(im.convert("RGB")), want)
    manifest["decode"].append({"file": fname, "want": want, "mode": im.mode, "note": note,
                               "exact": exact, "orientation": orientation})


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)


def raw_png(name, w, h, depth, ctype, rows, extra=b""):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    data = b"".join(b"\x00" + r for r in rows)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


W, H = 23, 17
g16 = (rng.integers(0, 2, size=(H, W)) * rng.integers(0, 65536, size=(H, W)) + rng.integers(0, 300, size=(H, W))).astype(">u2")
raw_png("decode/grey16.png", W, H, 16, 0, [g16[i].tobytes() for i in range(H)])
add_decode("decode/grey16.png", "16-bit grey: Pillow mode I, clipped to 255")
raw_png("decode/grey16_trns.png", W, H, 16, 0, [g16[i].tobytes() for i in range(H)], chunk(b"tRNS", struct.pack(">H", 7)))
add_decode("decode/grey16_trns.png", "16-bit grey with tRNS: still clipped")
rgb16 = rng.integers(0, 65536, size=(H, W, 3)).astype(">u2")
raw_png("decode/rgb16.png", W, H, 16, 2, [rgb16[i].tobytes() for i in range(H)])
add_decode("decode/rgb16.png", "16-bit RGB: high byte")
rgba16 = rng.integers(0, 65536, size=(H, W, 4)).astype(">u2")
raw_png("decode/rgba16.png", W, H, 16, 6, [rgba16[i].tobytes() for i in range(H)])
add_decode("decode/rgba16.png", "16-bit RGBA: high byte, alpha dropped")
ga16 = rng.integers(0, 65536, size=(H, W, 2)).astype(">u2")
raw_png("decode/ga16.png", W, H, 16, 4, [ga16[i].tobytes() for i in range(H)])
add_decode("decode/ga16.png", "16-bit grey+alpha: high byte, alpha dropped")
rgba8 = rng.integers(0, 256, size=(H, W, 4)).astype(np.uint8)
rgba8[..., 3] = rng.choice([0, 1, 128, 255], size=(H, W))
raw_png("decode/rgba8.png", W, H, 8, 6, [rgba8[i].tobytes() for i in range(H)])
add_decode("decode/rgba8.png", "RGBA: alpha dropped, colour kept even where alpha is 0")
ga8 = rng.integers(0, 256, size=(H, W, 2)).astype(np.uint8)
raw_png("decode/ga8.png", W, H, 8, 4, [ga8[i].tobytes() for i in range(H)])
add_decode("decode/ga8.png", "grey+alpha: alpha dropped")
g2 = rng.integers(0, 4, size=(H, W))
rows = [np.packbits(np.unpackbits(g2[i].astype(np.uint8)[:, None], axis=1)[:, 6:].reshape(-1)).tobytes() for i in range(H)]
raw_png("decode/grey2.png", W, H, 2, 0, rows)
add_decode("decode/grey2.png", "2-bit grey: scaled by 85")
pal = rng.integers(0, 256, size=(16, 3)).astype(np.uint8)
idx = rng.integers(0, 16, size=(H, W)).astype(np.uint8)
raw_png("decode/pal8_trns.png", W, H, 8, 3, [idx[i].tobytes() for i in range(H)],
        chunk(b"PLTE", pal.tobytes()) + chunk(b"tRNS", bytes([0, 128, 255, 3])))
add_decode("decode/pal8_trns.png", "palette with tRNS: transparency ignored")
# EXIF orientation in PNG eXIf (big-endian TIFF)
exif_be = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + b"\x00\x00\x00\x00"
raw_png("decode/exif6.png", W, H, 8, 2, [smooth(W, H)[i].tobytes() for i in range(H)], chunk(b"eXIf", exif_be))
add_decode("decode/exif6.png", "PNG eXIf orientation 6", orientation=6)

photo = np.asarray(Image.open(os.path.join(OUT, "..", "..", "..", "shared", "golden", "cases", "chelsea.png")).convert("RGB")) \
    if os.path.exists(os.path.join(OUT, "..", "..", "..", "shared", "golden", "cases", "chelsea.png")) else smooth(96, 64)
crop = np.ascontiguousarray(photo[100:163, 180:277])  # 97x63: odd sizes
Image.fromarray(crop).save(os.path.join(OUT, "decode/photo.ppm"))
for samp in ["1x1", "2x1", "1x2", "2x2", "4x1"]:
    name = "decode/photo_%s.jpg" % samp
    subprocess.run(["cjpeg", "-quality", "90", "-sample", samp, "-outfile", os.path.join(OUT, name),
                    os.path.join(OUT, "decode/photo.ppm")], check=True)
    add_decode(name, "JPEG %s sampling: libjpeg-turbo decode" % samp, exact=False)
# CMYK JPEG (Adobe) and an EXIF orientation in a JPEG
cmyk = rng.integers(0, 256, size=(16, 24, 4)).astype(np.uint8)
Image.fromarray(cmyk, "CMYK").save(os.path.join(OUT, "decode/cmyk.jpg"), quality=95)
add_decode("decode/cmyk.jpg", "Adobe CMYK JPEG: Pillow cmyk2rgb", exact=False)
im = Image.fromarray(crop[:20, :30])
exif = Image.Exif()
exif[0x0112] = 8
im.save(os.path.join(OUT, "decode/exif8.jpg"), quality=90, exif=exif.tobytes())
add_decode("decode/exif8.jpg", "JPEG APP1 orientation 8", exact=False, orientation=8)
# lossy WebP (4:2:0) with odd sizes, and lossless with alpha
Image.fromarray(crop).save(os.path.join(OUT, "decode/photo.png"))
subprocess.run(["cwebp", "-quiet", "-q", "80", os.path.join(OUT, "decode/photo.png"), "-o", os.path.join(OUT, "decode/photo_lossy.webp")], check=True)
add_decode("decode/photo_lossy.webp", "lossy WebP: libwebp fancy upsampling")
os.remove(os.path.join(OUT, "decode/photo.png"))
Image.fromarray(rgba8, "RGBA").save(os.path.join(OUT, "decode/rgba_lossless.webp"), lossless=True, exact=True)
add_decode("decode/rgba_lossless.webp", "lossless WebP with alpha: alpha dropped")
os.remove(os.path.join(OUT, "decode/photo.ppm"))
# GIF whose first frame is smaller than the screen, with a transparent index
p = Image.fromarray(idx[:10, :12], "P")
p.putpalette(pal.reshape(-1).tolist())
gif = bytearray()
gif += b"GIF89a" + struct.pack("<HH", W, H) + bytes([0xF3, 2, 0])  # global table 16 entries
gif += pal.tobytes()
gif += bytes([0x21, 0xF9, 4, 1, 0, 0, 5, 0])  # GCE: transparent index 5
gif += bytes([0x2C]) + struct.pack("<HHHH", 4, 3, 12, 10) + bytes([0])
# LZW data via Pillow: encode the frame alone and lift its image data
tmp = os.path.join(OUT, "decode/tmp.gif")
p.save(tmp)
b = open(tmp, "rb").read()
os.remove(tmp)
i = b.index(b"\x2c", 13 + 3 * (2 ** ((b[10] & 7) + 1)))
gif += b[i + 10:]
open(os.path.join(OUT, "decode/offset_frame.gif"), "wb").write(bytes(gif))
add_decode("decode/offset_frame.gif", "GIF first frame at an offset on a larger screen; transparent index 5")
bmp = Image.fromarray(smooth(W, H))
bmp.save(os.path.join(OUT, "decode/rgb24.bmp"))
add_decode("decode/rgb24.bmp", "24-bit BMP")
Image.fromarray(g16.astype(np.uint16)).save(os.path.join(OUT, "decode/grey16.tif"))
add_decode("decode/grey16.tif", "16-bit grey TIFF: clipped like I;16")

with open(os.path.join(OUT, "reference.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print("wrote", len(manifest["resize"]), "resize and", len(manifest["decode"]), "decode cases")

# ---- OpenCV COLORMAP_JET, as RGB, one line per value ----
lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, 256), cv2.COLORMAP_JET)[0][:, ::-1]
with open(os.path.join(OUT, "jet_opencv.txt"), "w") as f:
    f.write("# cv2.applyColorMap(v, COLORMAP_JET) as R G B, OpenCV %s\n" % cv2.__version__)
    for v in range(256):
        f.write("%d %d %d %d\n" % (v, *lut[v]))
print("wrote jet_opencv.txt")
