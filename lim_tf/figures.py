"""Figures as PNG: prediction overlays (the paper's Figure 7 style) and the precision-recall curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

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


def overlay_png(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, path: Path) -> None:
    """[image | overlay] side by side, saved as PNG."""
    panel = np.concatenate([display_rgb(image), overlay(image, truth, predicted)], axis=1)
    Image.fromarray(panel).save(path)


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
