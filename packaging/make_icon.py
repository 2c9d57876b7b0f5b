"""Draw the app icon: `python packaging/make_icon.py` writes resources/icons/latent-studio.{svg,png,ico}.

The motif: two overlapping discs (text and image) meeting in one shared space, on a dark
rounded square. The SVG and the raster images are drawn from the same geometry.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
NAME = "latent-studio"
VIEW = 256  # the SVG's view box; raster sizes scale from it
BACKGROUND = "#1f2433"
LEFT = ("#4f8cff", 96, 128, 58)  # colour, centre x, centre y, radius
RIGHT = ("#ff7a59", 160, 128, 58)
OVERLAP = "#ffd166"
DOT = ("#ffffff", 128, 128, 10)
CORNER = 48
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def svg() -> str:
    lc, lx, ly, lr = LEFT
    rc, rx, ry, rr = RIGHT
    dc, dx, dy, dr = DOT
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{VIEW}" height="{VIEW}" viewBox="0 0 {VIEW} {VIEW}">
  <title>Latent Studio</title>
  <defs>
    <clipPath id="left"><circle cx="{lx}" cy="{ly}" r="{lr}"/></clipPath>
  </defs>
  <rect x="8" y="8" width="{VIEW - 16}" height="{VIEW - 16}" rx="{CORNER}" fill="{BACKGROUND}"/>
  <circle cx="{lx}" cy="{ly}" r="{lr}" fill="{lc}"/>
  <circle cx="{rx}" cy="{ry}" r="{rr}" fill="{rc}"/>
  <circle cx="{rx}" cy="{ry}" r="{rr}" fill="{OVERLAP}" clip-path="url(#left)"/>
  <circle cx="{dx}" cy="{dy}" r="{dr}" fill="{dc}"/>
</svg>
"""


def raster(size: int) -> Image.Image:
    """Drawn at 4x and downsampled, which anti-aliases the edges."""
    scale = size * 4 / VIEW
    big = size * 4

    def box(cx: float, cy: float, r: float) -> tuple[float, float, float, float]:
        return ((cx - r) * scale, (cy - r) * scale, (cx + r) * scale, (cy + r) * scale)

    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8 * scale, 8 * scale, (VIEW - 8) * scale, (VIEW - 8) * scale),
                           radius=CORNER * scale, fill=BACKGROUND)
    lc, lx, ly, lr = LEFT
    rc, rx, ry, rr = RIGHT
    draw.ellipse(box(lx, ly, lr), fill=lc)
    draw.ellipse(box(rx, ry, rr), fill=rc)
    # The lens where both discs overlap: the right disc masked by the left one.
    mask_left = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask_left).ellipse(box(lx, ly, lr), fill=255)
    mask_right = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask_right).ellipse(box(rx, ry, rr), fill=255)
    lens = Image.new("L", (big, big), 0)
    lens.paste(mask_right, (0, 0), mask_left)
    image.paste(Image.new("RGBA", (big, big), OVERLAP), (0, 0), lens)
    dc, dx, dy, dr = DOT
    draw.ellipse(box(dx, dy, dr), fill=dc)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> int:
    ICONS.mkdir(parents=True, exist_ok=True)
    (ICONS / f"{NAME}.svg").write_text(svg(), encoding="utf-8")
    raster(256).save(ICONS / f"{NAME}.png", optimize=True)
    raster(512).save(ICONS / f"{NAME}-512.png", optimize=True)
    raster(256).save(ICONS / f"{NAME}.ico", sizes=ICO_SIZES)
    for path in sorted(ICONS.glob(f"{NAME}*")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
