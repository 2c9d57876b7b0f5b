"""Near-duplicate pixel thresholds: planted copies against distinct pictures of one subject.

Copies (re-encoded JPEG q20/q40, resized to 50%/62%, centred crops of 3/6/8% a side, crop + q40)
of 36 clip-shapes pictures and two real photos (scikit-learn's china.jpg and flower.jpg), against
distinct pictures of one subject: another random picture of the class, the same drawing on another
background (grey → pink, grey → lighter grey), in another colour, moved 8% or 15%, 15% smaller,
a triangle turned 20° on another background or 45°, and a real photo's framing moved 5–20%.
Each pair goes through the library's thumbnails (256 px JPEG) and `pixels.marks_distance`, as the
duplicates job measures it; prints the distributions and the share kept per threshold pair, from
which duplicates.NEAR_MAX_PRINT and NEAR_MAX_BITS were chosen (docs/benchmarks.md).

Usage: python tests/benchmarks/near_duplicates.py
"""

from __future__ import annotations

import io
import math
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from latentstudio.library.analysis.pixels import marks_distance, marks_of  # noqa: E402
from tests.support import tiny_clip  # noqa: E402


def thumbnail(image: Image.Image) -> Image.Image:
    """As thumbnails.save_thumbnail writes it."""
    small = image.convert("RGB").copy()
    small.thumbnail((256, 256), Image.Resampling.BICUBIC)
    return jpeg(small, 85)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def crop(image: Image.Image, cut: float) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * cut), int(h * cut), w - int(w * cut), h - int(h * cut)))


def copies(image: Image.Image) -> dict[str, Image.Image]:
    w, h = image.size
    return {"jpeg q20": jpeg(image, 20), "jpeg q40": jpeg(image, 40),
            "resized 50%": image.resize((w // 2, h // 2), Image.LANCZOS),
            "resized 62%": image.resize((int(w * .62), int(h * .62)), Image.LANCZOS),
            "cropped 3%": crop(image, .03), "cropped 6%": crop(image, .06), "cropped 8%": crop(image, .08),
            "cropped 6% + q40": jpeg(crop(image, .06), 40)}


def drawn(colour: str, shape: str, box: tuple[int, int, int], background: tuple, turn: float = 0) -> Image.Image:
    image = Image.new("RGB", (160, 160), background)
    draw = ImageDraw.Draw(image)
    x0, y0, e = box
    fill = tiny_clip.COLOURS[colour]
    if shape == "circle":
        draw.ellipse((x0, y0, x0 + e, y0 + e), fill=fill)
    elif shape == "square":
        draw.rectangle((x0, y0, x0 + e, y0 + e), fill=fill)
    else:
        cx, cy, a = x0 + e / 2, y0 + 2 * e / 3, math.radians(turn)
        draw.polygon([(cx + (px - cx) * math.cos(a) - (py - cy) * math.sin(a),
                       cy + (px - cx) * math.sin(a) + (py - cy) * math.cos(a))
                      for px, py in [(x0 + e / 2, y0), (x0, y0 + e), (x0 + e, y0 + e)]], fill=fill)
    return image


def distance(a: Image.Image, b: Image.Image) -> tuple[float, int]:
    return marks_distance(marks_of(thumbnail(a)), marks_of(thumbnail(b)))


def main() -> int:
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(p) for p in load_sample_images().images]
    rng = random.Random(3)
    originals = [tiny_clip.shape_image(c, s, rng, size=160) for c, s in tiny_clip.classes() for _ in range(3)] + photos
    copied: dict[str, list[tuple[float, int]]] = {}
    for original in originals:
        for kind, copy in copies(original).items():
            copied.setdefault(kind, []).append(distance(original, copy))
    distinct: dict[str, list[tuple[float, int]]] = {}

    def add(kind: str, a: Image.Image, b: Image.Image) -> None:
        distinct.setdefault(kind, []).append(distance(a, b))

    rng = random.Random(7)
    for c, s in tiny_clip.classes():
        for _ in range(4):
            add("same class, another picture", tiny_clip.shape_image(c, s, rng, 160), tiny_clip.shape_image(c, s, rng, 160))
    for c, s in tiny_clip.classes():
        for _ in range(3):
            box = (rng.randint(10, 50), rng.randint(10, 50), rng.randint(60, 90))
            g = rng.randint(90, 180)
            base = drawn(c, s, box, (g, g, g))
            x0, y0, e = box
            add("background grey → pink", base, drawn(c, s, box, (235, 170, 190)))
            add("background grey → grey+40", base, drawn(c, s, box, (min(255, g + 40),) * 3))
            add("another colour", base, drawn(next(x for x in tiny_clip.COLOURS if x != c), s, box, (g, g, g)))
            add("moved 8%", base, drawn(c, s, (x0 + 13, y0, e), (g, g, g)))
            add("moved 15%", base, drawn(c, s, (x0 + 24, y0 + 10, e), (g, g, g)))
            add("15% smaller", base, drawn(c, s, (x0, y0, int(e * .85)), (g, g, g)))
            if s == "triangle":
                add("turned 20°, other background", base, drawn(c, s, box, (200, 200, 150), turn=20))
                add("turned 45°", base, drawn(c, s, box, (g, g, g), turn=45))
    for photo in photos:
        w, h = photo.size
        for shift in (0.05, 0.08, 0.12, 0.2):
            dx, dy = int(w * shift), int(h * shift / 2)
            add("photo framing moved 5–20%", photo.crop((0, 0, int(w * .8), int(h * .8))),
                photo.crop((dx, dy, dx + int(w * .8), dy + int(h * .8))))

    print("pairs: print distance (RMS 0–255) and dHash bits apart, at the best-aligned centred crop")
    for kind, found in copied.items():
        print(f"  copy     {kind:30s} n={len(found):3d}  print max {max(p for p, _ in found):5.1f}  "
              f"bits max {max(b for _, b in found):3d}")
    for kind, found in distinct.items():
        print(f"  distinct {kind:30s} n={len(found):3d}  print min {min(p for p, _ in found):5.1f}  "
              f"bits min {min(b for _, b in found):3d}")
    every_copy = [d for found in copied.values() for d in found]
    every_distinct = [d for found in distinct.values() for d in found]
    for bits in (6, 8, 10, 12):
        for pixels in (6, 8, 10, 12, 16):
            kept = np.mean([p <= pixels and b <= bits for p, b in every_copy])
            wrong = sum(p <= pixels and b <= bits for p, b in every_distinct)
            print(f"  print ≤ {pixels:2d} and bits ≤ {bits:2d}: copies kept {kept:.2f}, "
                  f"distinct kept {wrong}/{len(every_distinct)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
