"""Draw the integration's brand icons (icon.png 256x256, icon@2x.png 512x512).

The icon is drawn here rather than downloaded so that it is ours and reproducible:
a sun above two houses joined by an energy link, on a rounded green tile.
Run `make brand` after changing it; a test checks the committed images match.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

BRAND_DIR = Path(__file__).resolve().parent.parent / "custom_components" / "p2p_energy" / "brand"
SIZES = {"icon.png": 256, "icon@2x.png": 512}
# Drawn large, then reduced, for smooth edges without relying on antialiasing support.
SUPERSAMPLE = 4

TILE = (46, 125, 50, 255)
SUN = (255, 193, 7, 255)
HOUSE = (250, 250, 250, 255)
ROOF = (255, 255, 255, 255)
LINK = (255, 213, 79, 255)


def draw_icon(size: int) -> Image.Image:
    """Return the icon at `size` x `size` pixels (RGBA)."""
    big = size * SUPERSAMPLE
    u = big / 32  # drawing unit: the design lives on a 32x32 grid
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, big - 1, big - 1), radius=int(6 * u), fill=TILE)
    # Sun with rays.
    cx, cy, r = 16 * u, 9 * u, 3.6 * u
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=SUN)
    for dx, dy in (
        (0, -1),
        (0, 1),
        (-1, 0),
        (1, 0),
        (-0.7, -0.7),
        (0.7, -0.7),
        (-0.7, 0.7),
        (0.7, 0.7),
    ):
        x0, y0 = cx + dx * 5 * u, cy + dy * 5 * u
        x1, y1 = cx + dx * 6.6 * u, cy + dy * 6.6 * u
        d.line((x0, y0, x1, y1), fill=SUN, width=int(1.2 * u))
    # Two houses.
    for left in (4.0, 19.0):
        d.polygon(
            [(left * u, 20 * u), ((left + 4.5) * u, 15.5 * u), ((left + 9) * u, 20 * u)], fill=ROOF
        )
        d.rectangle(((left + 1) * u, 20 * u, (left + 8) * u, 27 * u), fill=HOUSE)
        d.rectangle(((left + 3.5) * u, 23 * u, (left + 5.5) * u, 27 * u), fill=TILE)
    # The energy link between them: a bolt-shaped path.
    d.line(
        [(13 * u, 23 * u), (15.5 * u, 21 * u), (16.5 * u, 24 * u), (19 * u, 22 * u)],
        fill=LINK,
        width=int(1.4 * u),
        joint="curve",
    )
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write the icons into the brand directory (or another one)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=BRAND_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, size in SIZES.items():
        draw_icon(size).save(args.out / name, optimize=True)


if __name__ == "__main__":
    main()
