"""Figures as PNG: prediction overlays (the paper's Figure 7 style) and the precision-recall curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TP, FP, FN = (0, 200, 0), (230, 30, 30), (40, 90, 255)


def display_rgb(image: np.ndarray) -> np.ndarray:
    """The first three bands (or a grey band) stretched to uint8 between the 2nd and 98th percentiles."""
    rgb = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image[..., :1], 3, axis=-1)
    rgb = np.nan_to_num(rgb.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)  # a display, not data
    low, high = np.percentile(rgb, 2), np.percentile(rgb, 98)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.clip((rgb - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)


def overlay(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, opacity: float = 0.55) -> np.ndarray:
    """True positives green, false positives red, false negatives blue over the image."""
    canvas = display_rgb(image).astype(np.float32)
    for mask, colour in ((truth & predicted, TP), (~truth & predicted, FP), (truth & ~predicted, FN)):
        canvas[mask] = (1 - opacity) * canvas[mask] + opacity * np.array(colour, np.float32)
    return canvas.astype(np.uint8)


OVERLAY_KEY = ((TP, "landslide found (TP)"), (FP, "false alarm (FP)"), (FN, "missed (FN)"))
READABLE = 720  # px: figures narrower than this are enlarged (nearest neighbour) so pixels stay visible


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def with_key(panel: np.ndarray, key: tuple, note: str = "", scale_bar: tuple[int, str] | None = None) -> np.ndarray:
    """`panel` (enlarged to a readable width) above a strip naming each colour of `key`
    ((rgb, label), ...) and, if given, a scale bar of (length in panel pixels, label)."""
    factor = max(1, -(-READABLE // panel.shape[1]))
    image = Image.fromarray(panel).resize((panel.shape[1] * factor, panel.shape[0] * factor), Image.Resampling.NEAREST)
    size = 15
    strip = Image.new("RGB", (image.width, size * 2 + 12), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    x = 8
    for colour, label in key:
        draw.rectangle([x, 8, x + size, 8 + size], fill=tuple(colour), outline=(0, 0, 0))
        draw.text((x + size + 5, 7), label, fill=(0, 0, 0), font=_font(size))
        x += size + 14 + int(draw.textlength(label, font=_font(size)))
    if note:
        draw.text((x, 7), note, fill=(90, 90, 90), font=_font(size))
    if scale_bar is not None:
        length, label = scale_bar
        length *= factor
        right = image.width - 10
        draw.rectangle([right - length, size + 14, right, size + 19], fill=(0, 0, 0))
        width = draw.textlength(label, font=_font(size - 2))
        draw.text((right - length / 2 - width / 2, 1 if x < right - length - width else size + 20), label,
                  fill=(0, 0, 0), font=_font(size - 2))
        if x >= right - length - width:  # no room beside the key: the bar's own row
            strip = _taller(strip, size + 6)
    out = Image.new("RGB", (image.width, image.height + strip.height), (255, 255, 255))
    out.paste(image, (0, 0))
    out.paste(strip, (0, image.height))
    return np.asarray(out)


def _taller(strip: Image.Image, extra: int) -> Image.Image:
    taller = Image.new("RGB", (strip.width, strip.height + extra), (255, 255, 255))
    taller.paste(strip, (0, 0))
    return taller


def overlay_png(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, path: Path) -> None:
    """[image | overlay] side by side with the colour key, saved as PNG."""
    panel = np.concatenate([display_rgb(image), np.full((image.shape[0], 4, 3), 255, np.uint8),
                            overlay(image, truth, predicted)], axis=1)
    Image.fromarray(with_key(panel, OVERLAY_KEY, "left: image, right: prediction")).save(path)


def scale_bar(width_pixels: int, metres_per_pixel: float) -> tuple[int, str]:
    """A round length (1, 2 or 5 x 10^k m) near a fifth of the width: (its length in pixels, label)."""
    target = width_pixels * metres_per_pixel / 5
    magnitude = 10 ** np.floor(np.log10(target))
    metres = max(m * magnitude for m in (1, 2, 5) if m * magnitude <= target) if target >= 1e-9 else 1.0
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    return max(1, round(metres / metres_per_pixel)), label


def pr_curve_png(curve: dict[str, np.ndarray], threshold: float, path: Path) -> None:
    """The precision-recall curve with the operating threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4), dpi=120)
    axes = figure.subplots()
    axes.plot(curve["recall"], curve["precision"], color="black", linewidth=1.2)
    index = min(int(threshold * len(curve["threshold"])), len(curve["threshold"]) - 1)
    axes.plot(curve["recall"][index], curve["precision"][index], "o", color="tab:red",
              label=f"threshold {threshold:.2f}")
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="landslide pixels")
    axes.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path)


def reliability_png(rows: list[dict], path: Path) -> None:
    """Confidence against the observed share of real polygons, per bin (a calibrated model lies on
    the diagonal), with each bin's polygon count."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4), dpi=120)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="calibrated")
    used = [r for r in rows if r["real_share"] is not None]
    axes.plot([r["mean_confidence"] for r in used], [r["real_share"] for r in used], "o-", color="black",
              label="observed")
    for row in used:
        axes.annotate(str(row["polygons"]), (row["mean_confidence"], row["real_share"]), fontsize=7,
                      textcoords="offset points", xytext=(3, -9))
    axes.set(xlabel="confidence", ylabel="share of polygons that are real", xlim=(0, 1), ylim=(0, 1.02),
             title="polygon confidence")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path)


def polygon_curve_png(curve: list[dict], cut: float | None, path: Path) -> None:
    """Polygon precision against the share of landslides detected as the confidence cut rises, the
    inventory's cut marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4), dpi=120)
    axes = figure.subplots()
    axes.plot([r["detected_share"] for r in curve], [r["polygon_precision"] for r in curve], color="black",
              linewidth=1.2)
    if cut is not None:
        nearest = min(curve, key=lambda r: abs(r["cut"] - cut))
        axes.plot(nearest["detected_share"], nearest["polygon_precision"], "o", color="tab:red",
                  label=f"cut {cut:.2f}")
        axes.legend(loc="lower left")
    axes.set(xlabel="labelled landslides detected", ylabel="polygons that are real", xlim=(0, 1.02),
             ylim=(0, 1.02), title="polygons, by confidence cut")
    figure.tight_layout()
    figure.savefig(path)
