"""Local features that follow a picture through crops, padding, turns and mirroring.

ORB keypoints (oriented FAST corners with rotated binary descriptors, OpenCV) are found at
several scales, so a crop, a zoom, padding or a turn keeps most of them, each with the
same descriptor. ORB is not mirror-invariant: the descriptors are also computed on the
mirrored picture at the mirrored keypoints, which costs a fraction of a second detection.
A small grey thumbnail is kept to check that two pictures agree pixel by pixel once
aligned (matching.py).
"""

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

SIDE = 320  # the longest side features are found at (copies were matched as well as at 512)
N_FEATURES = 400
THUMB = 128  # the longest side of the colour thumbnail the pixel check compares
DESCRIPTOR_BYTES = 32

cv2.setNumThreads(1)  # the audit runs one process per core already
_ORB = cv2.ORB_create(nfeatures=N_FEATURES, fastThreshold=5, edgeThreshold=15, patchSize=15)


@dataclass(frozen=True)
class Features:
    xy: np.ndarray  # (n, 2) float32 keypoint positions in the SIDE-scaled picture
    desc: np.ndarray  # (n, 32) uint8 ORB descriptors
    mirrored: np.ndarray  # (n, 32) uint8 descriptors of the mirrored picture at the same points
    width: int  # of the SIDE-scaled picture
    height: int
    thumb: np.ndarray  # (h, w, 3) uint8 RGB, longest side THUMB

    def points(self, mirror: bool) -> np.ndarray:
        """Keypoint positions, in the mirrored picture's frame when `mirror`."""
        if not mirror:
            return self.xy
        return np.column_stack([self.width - 1 - self.xy[:, 0], self.xy[:, 1]])

    def descriptors(self, mirror: bool) -> np.ndarray:
        return self.mirrored if mirror else self.desc


def grey(im: Image.Image, side: int) -> np.ndarray:
    """`im` in grey, reduced (never enlarged) to `side` pixels on its longest side."""
    g = np.asarray(im.convert("L"))
    h, w = g.shape
    scale = side / max(h, w)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(g)


def features(im: Image.Image) -> Features:
    g = grey(im, SIDE)
    keypoints, desc = _ORB.detectAndCompute(g, None)
    if desc is None:  # a flat picture: no corners anywhere
        keypoints, desc = (), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    width = g.shape[1]
    flipped = [
        cv2.KeyPoint(
            width - 1 - k.pt[0], k.pt[1], k.size, (180.0 - k.angle) % 360.0, k.response, k.octave
        )  # fmt: skip
        for k in keypoints
    ]
    # compute() may drop points too near the border; keep the pairs that survive in both.
    kept, mirrored = _ORB.compute(np.ascontiguousarray(g[:, ::-1]), flipped)
    if mirrored is None or len(kept) != len(keypoints):
        by_place = {(round(k.pt[0], 2), round(k.pt[1], 2)): i for i, k in enumerate(flipped)}
        index = [by_place[(round(k.pt[0], 2), round(k.pt[1], 2))] for k in kept]
        keypoints, desc = [keypoints[i] for i in index], desc[index]
        if mirrored is None:
            mirrored = np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    xy = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
    return Features(xy, desc, mirrored, width, g.shape[0], _thumbnail(im))


def _thumbnail(im: Image.Image) -> np.ndarray:
    rgb = np.asarray(im.convert("RGB"))
    h, w = rgb.shape[:2]
    scale = THUMB / max(h, w)
    if scale >= 1:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
