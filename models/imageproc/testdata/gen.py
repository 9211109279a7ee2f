#!/usr/bin/python3
"""Generates this folder's test images and the expected results of MAIRA-2's
image preprocessing, computed with PIL and numpy exactly as Microsoft's
processing_maira2.py (Maira2Processor._normalize_image) and transformers'
BitImageProcessor (convert_to_rgb, resize, center_crop, rescale, normalize)
compute them. Our own code: the transformers steps are re-stated here with
the same numpy/PIL operations in the same order, so transformers itself is
not needed.

Run from anywhere with Debian's python3-pil and python3-numpy:
    /usr/bin/python3 models/imageproc/testdata/gen.py
It rewrites the images, the *.crop.png expected crops, the *.pil-L.png
decodes of the JPEGs, and manifest.json. The Go tests read only those.
"""

import hashlib
import io
import json
import math
import os
import sys

import warnings

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))

MAIRA = dict(rescale=1 / 255, mean=[0.5307] * 3, std=[0.2583] * 3)
IMAGENET = dict(rescale=1 / 255, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])


# ---- the reference pipeline ------------------------------------------------

def maira_normalize(pil):
    """Maira2Processor._normalize_image, verbatim in its arithmetic."""
    image_np = np.array(pil.convert("L"))
    return minmax(image_np)


def minmax(arr):
    image_np = arr.astype(float)
    image_np -= image_np.min()
    image_np /= image_np.max()
    image_np *= 255
    image_np = image_np.astype(np.uint8)
    return Image.fromarray(image_np).convert("L")


def convert_to_rgb(pil):
    """transformers' convert_to_rgb. Older releases went through an alpha
    composite on white; for an opaque "L" image both give equal channels, and
    we check that they agree."""
    new = pil.convert("RGB")
    rgba = pil.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255))
    old = Image.alpha_composite(bg, rgba).convert("RGB")
    assert np.array_equal(np.array(new), np.array(old))
    return new


def resize_output_size(height, width, size):
    """get_resize_output_image_size(default_to_square=False): (h, w)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def center_crop_hwc(image, crop_h, crop_w):
    """transformers' center_crop, padding included, on an HWC array."""
    orig_h, orig_w = image.shape[:2]
    top = (orig_h - crop_h) // 2
    bottom = top + crop_h
    left = (orig_w - crop_w) // 2
    right = left + crop_w
    if top >= 0 and bottom <= orig_h and left >= 0 and right <= orig_w:
        return image[top:bottom, left:right, :], left, top
    new_h, new_w = max(crop_h, orig_h), max(crop_w, orig_w)
    new = np.zeros_like(image, shape=(new_h, new_w) + image.shape[2:])
    top_pad = math.ceil((new_h - orig_h) / 2)
    left_pad = math.ceil((new_w - orig_w) / 2)
    new[top_pad:top_pad + orig_h, left_pad:left_pad + orig_w] = image
    t, b, l, r = top + top_pad, bottom + top_pad, left + left_pad, right + left_pad
    return new[max(0, t):min(new_h, b), max(0, l):min(new_w, r)], left, top


def bit_preprocess(gray_pil, shortest_edge, crop_h, crop_w, rescale, mean, std):
    """BitImageProcessor.preprocess on one image, channels last until the end."""
    image = np.array(convert_to_rgb(gray_pil))  # to_numpy_array: HWC uint8
    h, w = image.shape[:2]
    out_h, out_w = resize_output_size(h, w, shortest_edge)
    # image_transforms.resize: uint8 needs no rescale for PIL; PIL resize with
    # reducing_gap None; back to numpy.
    resized = Image.fromarray(image).resize((out_w, out_h), resample=Image.BICUBIC, reducing_gap=None)
    resized = np.array(resized)
    cropped, left, top = center_crop_hwc(resized, crop_h, crop_w)
    # rescale: float64 multiply, then float32.
    rescaled = (cropped.astype(np.float64) * rescale).astype(np.float32)
    # normalize: mean and std as float32 arrays, float32 arithmetic.
    m = np.array(mean, dtype=rescaled.dtype)
    s = np.array(std, dtype=rescaled.dtype)
    normalized = (rescaled - m) / s
    assert normalized.dtype == np.float32
    chw = np.ascontiguousarray(normalized.transpose(2, 0, 1))  # data_format channels_first
    return cropped, chw, (out_w, out_h), (left, top)


# ---- test images -----------------------------------------------------------

def grid(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return x, y


def gradient_noise(w, h, seed, amp=20.0):
    x, y = grid(w, h)
    v = 255 * (0.6 * x / max(w - 1, 1) + 0.4 * y / max(h - 1, 1))
    v += np.random.RandomState(seed).uniform(-amp, amp, size=(h, w))
    return np.clip(v, 0, 255).astype(np.uint8)


def structured(w, h, full=255.0, cell=(7, 5), ribs=True):
    """Deterministic radiograph-like content with edges and smooth parts:
    many distinct values, yet it compresses well in PNG. cell is the size of
    a faint checker pattern that adds hard edges."""
    x, y = grid(w, h)
    fx, fy = x / w, y / h
    def ellipse(cx, cy, rx, ry):
        return np.clip(1 - ((fx - cx) / rx) ** 2 - ((fy - cy) / ry) ** 2, 0, 1)
    v = 0.08 + 0.55 * np.minimum(1, 3 * ellipse(0.5, 0.55, 0.46, 0.52))
    lungs = ellipse(0.32, 0.45, 0.15, 0.30) + ellipse(0.68, 0.45, 0.15, 0.30)
    v -= 0.35 * np.minimum(1, 4 * lungs)
    v += 0.25 * np.minimum(1, 6 * ellipse(0.5, 0.5, 0.05, 0.45))
    if ribs:
        v += 0.06 * np.maximum(0, np.sin(fy * 60 + 6 * np.abs(fx - 0.5))) * np.minimum(1, 4 * lungs)
    v += 0.04 * ((x.astype(np.int64) // cell[0] + y.astype(np.int64) // cell[1]) % 2)
    return np.clip(v * full, 0, full)


def rgb_image(w, h, seed):
    x, y = grid(w, h)
    rs = np.random.RandomState(seed)
    r = 255 * x / w + rs.uniform(-30, 30, (h, w))
    g = 255 * y / h + rs.uniform(-30, 30, (h, w))
    b = 128 + 100 * np.sin(x / 5) * np.cos(y / 7)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def save(pil, name, **kw):
    if name.endswith(".png"):
        kw.setdefault("optimize", True)  # smallest files; the pixels are the same
    pil.save(os.path.join(HERE, name), **kw)
    return name


def make_inputs():
    """(case name, input file, config) for every case; writes the files."""
    cases = []

    def case(name, fname, s, ch, cw, consts=MAIRA, **extra):
        cases.append(dict(name=name, input=fname, shortest_edge=s, crop_height=ch, crop_width=cw, **consts, **extra))

    case("gray8", save(Image.fromarray(gradient_noise(97, 131, 1)), "gray8-97x131.png"), 56, 56, 56)
    rgb = Image.fromarray(rgb_image(120, 90, 2))
    case("rgb8", save(rgb, "rgb8-120x90.png"), 64, 64, 64, pil_l=True)
    case("rgb8-imagenet", "rgb8-120x90.png", 64, 64, 64, IMAGENET)
    rgba = np.concatenate([rgb_image(80, 70, 3), np.random.RandomState(4).randint(0, 256, (70, 80, 1)).astype(np.uint8)], -1)
    case("rgba8", save(Image.fromarray(rgba, "RGBA"), "rgba8-80x70.png"), 56, 56, 56, pil_l=True)
    la = np.stack([gradient_noise(70, 90, 5), np.random.RandomState(6).randint(0, 256, (90, 70)).astype(np.uint8)], -1)
    case("la8", save(Image.fromarray(la, "LA"), "la8-70x90.png"), 56, 56, 56, pil_l=True)

    # A palette image with transparency on some entries, and indices that
    # use every entry.
    rs = np.random.RandomState(7)
    pal = rs.randint(0, 256, 200 * 3).astype(np.uint8)
    idx = ((np.arange(64)[None, :] * 3 + np.arange(50)[:, None] * 7) % 200).astype(np.uint8)
    p = Image.fromarray(idx, "P")
    p.putpalette(pal.tolist())
    case("palette", save(p, "palette-64x50.png", transparency=bytes(rs.randint(0, 256, 40).tolist())), 56, 56, 56, pil_l=True)

    # 16-bit gray: 12-bit values, as detectors write; min-max on the raw values.
    g16 = structured(150, 110, 4095.0) + np.random.RandomState(8).uniform(0, 60, (110, 150))
    g16 = np.clip(g16 + 100, 0, 65535).astype(np.uint16)
    case("gray16", save(Image.fromarray(g16), "gray16-150x110.png"), 56, 56, 56, raw16=True)

    for w, h in ((600, 517), (517, 600)):
        case(f"odd-{w}x{h}", save(Image.fromarray(structured(w, h).astype(np.uint8)), f"odd-{w}x{h}.png"), 64, 64, 64)
    bilevel = Image.fromarray(gradient_noise(50, 40, 14, amp=90) > 128)  # mode "1": a 1-bit PNG
    case("bilevel-50x40", save(bilevel, "bilevel-50x40.png"), 56, 56, 56, pil_l=True)
    case("tiny-1x1", save(Image.fromarray(np.array([[77]], np.uint8)), "tiny-1x1.png"), 56, 56, 56, blank=True)
    case("blank-40x30", save(Image.fromarray(np.full((30, 40), 200, np.uint8)), "blank-40x30.png"), 56, 56, 56, blank=True)
    case("tiny-3x2", save(Image.fromarray(np.array([[0, 90, 255], [30, 200, 140]], np.uint8)), "tiny-3x2.png"), 56, 56, 56)
    strip = structured(10000, 10).astype(np.uint8)
    case("strip-10000x10", save(Image.fromarray(strip), "strip-10000x10.png"), 56, 56, 56)
    case("strip-10x10000", save(Image.fromarray(np.ascontiguousarray(strip.T)), "strip-10x10000.png"), 56, 56, 56)
    # Plateaus (levels 6 apart) and edges: a 27x shrink of a file that stays small.
    case("shrink-2000x1500", save(Image.fromarray((structured(2000, 1500, cell=(45, 35), ribs=False) // 6 * 6).astype(np.uint8)), "shrink-2000x1500.png"), 56, 56, 56)
    case("enlarge-100x80", save(Image.fromarray(gradient_noise(100, 80, 9)), "enlarge-100x80.png"), 128, 96, 112)
    # A crop larger than the resize: transformers pads with zeros.
    case("pad-60x50", save(Image.fromarray(gradient_noise(60, 50, 10)), "pad-60x50.png"), 40, 56, 48)
    # The real size, from a modest image.
    case("real-700x640", save(Image.fromarray(structured(700, 640, cell=(23, 19)).astype(np.uint8)), "real-700x640.png"), 518, 518, 518)

    # JPEGs: expected results come from PIL's (libjpeg's) decode, which is
    # also saved as a PNG so the Go pipeline can be fed the same pixels.
    jg = Image.fromarray(gradient_noise(120, 100, 11))
    case("jpeg-gray", save(jg, "jpeg-gray-120x100.jpg", quality=90), 56, 56, 56, pil_l=True)
    jc = Image.fromarray(rgb_image(130, 97, 12))
    case("jpeg-color", save(jc, "jpeg-color-130x97.jpg", quality=85, subsampling=2), 56, 56, 56, pil_l=True)
    jp = Image.fromarray(np.clip(np.stack([structured(160, 120)] * 3, -1) + rgb_image(160, 120, 13) * 0.2, 0, 255).astype(np.uint8))
    case("jpeg-progressive", save(jp, "jpeg-progressive-160x120.jpg", quality=80, progressive=True, subsampling=2), 64, 64, 64, pil_l=True)
    return cases


def sha256_f32(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def main():
    # PIL warns that a palette's tRNS bytes "should be converted to RGBA";
    # convert("L") ignoring alpha is exactly what MAIRA-2 gets.
    warnings.filterwarnings("ignore", "Palette images with Transparency")
    cases = make_inputs()
    out = []
    for c in cases:
        pil = Image.open(os.path.join(HERE, c["input"]))
        pil.load()
        rec = {k: c[k] for k in ("name", "input", "shortest_edge", "crop_height", "crop_width", "rescale", "mean", "std")}
        if c.get("pil_l"):
            lname = c["name"] + ".pil-L.png"
            save(pil.convert("L"), lname)
            rec["pil_l"] = lname
        if c.get("raw16"):
            raw = np.array(pil)
            assert raw.max() > 255  # PIL's convert("L") would clip: the deviation matters
            norm = minmax(raw)
        else:
            with np.errstate(invalid="ignore"):  # a blank image: 0/0
                norm = maira_normalize(pil)
        if c.get("blank"):
            rec["error"] = "blank"
            out.append(rec)
            continue
        crop, chw, (rw, rh), (left, top) = bit_preprocess(
            norm, c["shortest_edge"], c["crop_height"], c["crop_width"], c["rescale"], c["mean"], c["std"])
        assert crop.shape == (c["crop_height"], c["crop_width"], 3)
        assert np.array_equal(crop[..., 0], crop[..., 1]) and np.array_equal(crop[..., 0], crop[..., 2])
        cname = c["name"] + ".crop.png"
        save(Image.fromarray(np.ascontiguousarray(crop[..., 0])), cname)
        rec.update(resized=[rw, rh], crop_left=left, crop_top=top, crop=cname, sha256=sha256_f32(chw),
                   first=[float(v) for v in chw.reshape(-1)[:4]])
        out.append(rec)

    # Every uint8 value through rescale + normalize, as float32 bit patterns.
    tables = {}
    for label, consts in (("maira", MAIRA), ("imagenet", IMAGENET)):
        v = np.arange(256, dtype=np.uint8).reshape(1, 256, 1).repeat(3, axis=2)
        r = (v.astype(np.float64) * consts["rescale"]).astype(np.float32)
        n = (r - np.array(consts["mean"], dtype=np.float32)) / np.array(consts["std"], dtype=np.float32)
        tables[label] = [[int(b) for b in n[0, :, k].view(np.uint32)] for k in range(3)]

    manifest = dict(pil_version=PIL.__version__, numpy_version=np.__version__, cases=out, tables=tables)
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        # One case per line, one table row per line.
        f.write("{\n")
        f.write(f' "pil_version": {json.dumps(manifest["pil_version"])},\n')
        f.write(f' "numpy_version": {json.dumps(manifest["numpy_version"])},\n')
        f.write(' "cases": [\n' + ",\n".join("  " + json.dumps(r) for r in out) + "\n ],\n")
        f.write(' "tables": {\n' + ",\n".join(
            f"  {json.dumps(k)}: [\n" + ",\n".join("   " + json.dumps(row) for row in v) + "\n  ]"
            for k, v in tables.items()) + "\n }\n}\n")
    total = sum(os.path.getsize(os.path.join(HERE, n)) for n in os.listdir(HERE))
    print(f"{len(out)} cases, testdata {total / 1024:.0f} KiB", file=sys.stderr)


if __name__ == "__main__":
    main()
