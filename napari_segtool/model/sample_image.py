"""Synthetic fluorescence images (2-D cells, a 3-D stack of nuclei), made offline and
deterministically."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SAMPLE_SHAPE = (384, 512)
STACK_SHAPE = (32, 256, 256)
#: the stack's voxel size (z, y, x): planes further apart than pixels, as in a confocal stack
STACK_SCALE = (2.0, 0.5, 0.5)


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


def nuclei_stack(seed: int = 11, shape: tuple[int, int, int] = STACK_SHAPE) -> np.ndarray:
    """A uint8 Z stack of ellipsoid nuclei, blurred, with shot-like noise.

    The nuclei are spaced apart in Y and X and span a good part of the planes
    (as in a confocal stack of a cell layer); from a fixed seed, no download.
    """
    rng = np.random.default_rng(seed)
    depth, height, width = shape
    volume = np.zeros(shape, np.float32)
    centres = _spaced_points(rng, (height, width), count=18, min_distance=52, margin=26)
    for row, col in centres:
        z = rng.uniform(0.35, 0.65) * depth
        # semi-axes in voxels: planes lie 4 pixels apart (STACK_SCALE), so Z needs fewer
        radii = np.array(
            [rng.uniform(0.13, 0.19) * depth, rng.uniform(14, 20), rng.uniform(10, 15)]
        )
        angle = rng.uniform(0, np.pi)
        low = np.maximum(np.floor([z, row, col] - radii.max() - 2).astype(int), 0)
        high = np.minimum(np.ceil([z, row, col] + radii.max() + 3).astype(int), shape)
        zz, rr, cc = np.mgrid[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
        dr, dc = rr - row, cc - col
        u = dr * np.cos(angle) + dc * np.sin(angle)
        v = -dr * np.sin(angle) + dc * np.cos(angle)
        inside = ((zz - z) / radii[0]) ** 2 + (u / radii[1]) ** 2 + (v / radii[2]) ** 2 <= 1
        box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
        volume[box] = np.maximum(volume[box], inside * rng.uniform(0.55, 1.0))
    volume = ndimage.gaussian_filter(volume, (0.8, 1.5, 1.5))
    texture = ndimage.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), 1.5)
    volume *= 1 + 0.25 * texture
    background = 0.06 + 0.03 * rng.normal(size=shape).astype(np.float32)
    return (np.clip(volume * 0.85 + background, 0, 1) * 255).astype(np.uint8)
