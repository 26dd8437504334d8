"""A synthetic fluorescence image of cells, made offline and deterministically."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SAMPLE_SHAPE = (384, 512)


def cells_image(seed: int = 7, shape: tuple[int, int] = SAMPLE_SHAPE) -> np.ndarray:
    """RGB uint8 image: green cytoplasm around blue nuclei, with a little debris.

    Made from a fixed random seed so the sample is the same on every machine
    and needs no download.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    nuclei = np.zeros(shape, np.float32)
    cytoplasm = np.zeros(shape, np.float32)
    centres = _spaced_points(rng, shape, count=14, min_distance=70, margin=30)
    for r, c in centres:
        angle = rng.uniform(0, np.pi)
        a, b = rng.uniform(15, 22), rng.uniform(10, 15)
        cos, sin = np.cos(angle), np.sin(angle)
        dr, dc = rows - r, cols - c
        u, v = dr * cos + dc * sin, -dr * sin + dc * cos
        nuclei += ((u / a) ** 2 + (v / b) ** 2 <= 1) * rng.uniform(0.7, 1.0)
        cell_radius = rng.uniform(32, 40)
        wobble = 1 + 0.15 * np.sin(3 * np.arctan2(dr, dc) + rng.uniform(0, 6))
        cytoplasm += (np.hypot(dr, dc) <= cell_radius * wobble) * rng.uniform(0.35, 0.6)
    debris = np.zeros(shape, np.float32)
    for r, c in rng.uniform((0, 0), shape, size=(25, 2)):
        debris += np.hypot(rows - r, cols - c) <= rng.uniform(1.5, 3.5)
    nuclei = ndimage.gaussian_filter(np.clip(nuclei, 0, 1), 1.5)
    cytoplasm = ndimage.gaussian_filter(np.clip(cytoplasm, 0, 1), 3.0)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), 2.0)
    cytoplasm *= 1 + 0.35 * texture
    debris = ndimage.gaussian_filter(np.clip(debris, 0, 1), 0.8)
    background = 0.04 + 0.02 * rng.normal(size=shape)
    red = background + 0.8 * debris
    green = background + 0.85 * cytoplasm + 0.4 * debris
    blue = background + 0.95 * nuclei + 0.1 * cytoplasm
    rgb = np.stack([red, green, blue], axis=-1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def _spaced_points(rng, shape, count, min_distance, margin):
    points: list[tuple[float, float]] = []
    for _ in range(2000):
        if len(points) == count:
            break
        candidate = rng.uniform((margin, margin), (shape[0] - margin, shape[1] - margin))
        if all(np.hypot(*(candidate - p)) >= min_distance for p in points):
            points.append(tuple(candidate))
    return points
