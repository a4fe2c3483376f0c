"""Confirming that two pictures are copies: matched local features agree on one geometry,
and the pictures agree pixel by pixel once aligned.

Descriptors are matched both ways round a ratio test, then RANSAC fits a similarity
(turn, uniform scale, shift) to the matches, with the first picture as it is and mirrored.
A crop, padding, a zoom, a turn and a mirror are all similarities, so a copy keeps
dozens of inliers; different photos of similar objects keep a handful. Inliers alone can
be fooled by a shared watermark or a repeated pattern, so the aligned thumbnails must also
correlate over the area they share: an edit, a watermark or a recolouring leaves most of
that correlation, another picture does not.
"""

from dataclasses import dataclass

import cv2
import faiss
import numpy as np

from fruitveg.audit.features import DESCRIPTOR_BYTES, Features
from fruitveg.audit.search import faiss_threads

RATIO = 0.8  # Lowe's ratio test on Hamming distances
REPROJECTION_PX = 4.0  # RANSAC inlier distance, in the SIDE-scaled picture
MIN_MATCHES = 8  # fewer tentative matches than this: not worth a RANSAC
MIN_INLIERS = 10  # fewer inliers than this: not worth comparing the pixels
SCALES = (0.25, 4.0)  # a copy's zoom relative to the other, within these
CELL = 8  # thumbnail pixels a side of the cells compared
DETAIL = 3.0  # grey levels of spread below which a cell is plain
RESIDUAL = 0.5  # a cell agrees where the mapped picture is off by under this share of its spread
ECC_STOP = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-4)
MIN_CELLS = 8  # fewer cells with detail than this: no agreement to speak of


@dataclass(frozen=True)
class Match:
    inliers: int  # matches consistent with the fitted similarity
    agreement: float  # share of the shared area's cells with detail where the two agree
    # (1 for plain pictures, which have no detail to disagree in)
    colour: float  # the least correlation of their red, green and blue over that area
    overlap: float  # the shared area as a fraction of the smaller picture
    mirrored: bool
    residual: float  # what the colour mapping leaves over that area, as a share of the
    # picture's spread: a copy's pixels follow, a look-alike's outline and light do not

    def describe(self) -> str:
        mirror = ", mirrored" if self.mirrored else ""
        return (
            f"{self.inliers} inliers, {self.agreement:.0%} of the detail agrees, "
            f"colours {self.colour:.2f}, residual {self.residual:.2f}, "
            f"overlap {self.overlap:.0%}{mirror}"
        )


def match(a: Features, b: Features) -> Match | None:
    """The best geometric match of `a`, as it is or mirrored, onto `b`; None if none fits."""
    if len(b.desc) < 2:
        return None
    # Each descriptor's two nearest in `b`, for `a` as it is and mirrored in one search:
    # faiss returns arrays, a third of the time of OpenCV's matcher and its match objects.
    index = faiss.IndexBinaryFlat(8 * DESCRIPTOR_BYTES)
    index.add(b.desc)
    with faiss_threads(1):  # one process per core already
        dist, nearest = index.search(np.concatenate([a.desc, a.mirrored]), 2)
    best: Match | None = None
    for mirror, rows in ((False, slice(0, len(a.desc))), (True, slice(len(a.desc), None))):
        found = _fit(a, b, mirror, dist[rows], nearest[rows])
        if found is not None and (best is None or found.inliers > best.inliers):
            best = found
    return best


def _fit(
    a: Features, b: Features, mirror: bool, dist: np.ndarray, nearest: np.ndarray
) -> Match | None:
    """The similarity taking `a` (mirrored or not) onto `b`, from each of `a`'s descriptors'
    two nearest in `b` (`dist`, `nearest`) by Lowe's ratio test and RANSAC."""
    good = np.flatnonzero(dist[:, 0] < RATIO * dist[:, 1])
    if len(good) < MIN_MATCHES:
        return None
    src = a.points(mirror)[good]
    dst = b.xy[nearest[good, 0]]
    transform, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION_PX, maxIters=500,
        confidence=0.995, refineIters=10,
    )  # fmt: skip
    if transform is None:
        return None
    scale = float(np.hypot(*transform[:, 0]))
    n = int(inliers.sum())
    if n < MIN_INLIERS or not SCALES[0] <= scale <= SCALES[1]:
        return None  # chance alone gives a few: not worth comparing the pixels
    agreement, colour, overlap, residual = _agreement(a, b, transform, mirror)
    return Match(n, agreement, colour, overlap, mirror, residual)


def oriented(a: Features, b: Features, orientation: int) -> Match:
    """How `a`, put in `orientation` (hashing's order) and zoomed to `b`'s size, agrees
    with `b`: the confirmation of a pair the hashes found, with no keypoints needed."""
    ta = a.thumb.transpose(1, 0, 2) if orientation >= 4 else a.thumb
    ta = ta[::-1] if orientation & 2 else ta
    ta = ta[:, ::-1] if orientation & 1 else ta
    zoom = float(np.sqrt(b.thumb.shape[0] * b.thumb.shape[1] / (ta.shape[0] * ta.shape[1])))
    shift = (np.array(b.thumb.shape[1::-1]) - zoom * np.array(ta.shape[1::-1])) / 2
    m = np.array([[zoom, 0, shift[0]], [0, zoom, shift[1]]], np.float64)
    agreement, colour, overlap, residual = _thumbnails_agree(ta, b.thumb, m)
    return Match(0, agreement, colour, overlap, orientation in (1, 2, 4, 7), residual)


def _agreement(
    a: Features, b: Features, transform: np.ndarray, mirror: bool
) -> tuple[float, float, float, float]:
    """_thumbnails_agree for `a` (mirrored or not) brought onto `b` by `transform`, which
    maps the SIDE-scaled pictures."""
    ta = a.thumb[:, ::-1] if mirror else a.thumb
    m = transform * (b.thumb.shape[1] / b.width)  # into the SIDE frame, transform, out again
    m[:, :2] /= ta.shape[1] / a.width
    return _thumbnails_agree(ta, b.thumb, m)


def _thumbnails_agree(
    ta: np.ndarray, tb: np.ndarray, m: np.ndarray
) -> tuple[float, float, float, float]:
    """How well two thumbnails agree once `m` (ta's pixels onto tb's, refined here) aligns
    them, over the area both cover: the share of its cells that agree and the residual
    (_cells_agreeing), the least correlation of the red, green and blue, and that area as a
    fraction of the smaller of the two pictures.

    The picture showing the shared content with more pixels is brought onto the other's
    frame, never the other way: enlarging would blur it, and blur reads as disagreement."""
    if np.hypot(*m[:, 0]) > 1:  # ta's content is the smaller: bring tb onto ta
        ta, tb, m = tb, ta, cv2.invertAffineTransform(m)
    ta, tb = np.ascontiguousarray(ta), np.ascontiguousarray(tb)
    size = (tb.shape[1], tb.shape[0])
    m = _refined(ta, tb, m)
    warped = cv2.warpAffine(ta, m, size, flags=cv2.INTER_AREA)
    footprint = cv2.warpAffine(
        np.full(ta.shape[:2], 255, np.uint8), m, size, flags=cv2.INTER_NEAREST
    )
    zoom = float(np.hypot(*m[:, 0]))  # ta's area in tb's frame is scaled by its square
    overlap = min(
        1.0, int((footprint > 0).sum()) / min(ta.shape[0] * ta.shape[1] * zoom**2, footprint.size)
    )
    inside = cv2.erode(footprint, np.ones((5, 5), np.uint8)) > 0  # clear of the warp's edge
    if inside.sum() < 16:
        return 0.0, 0.0, overlap, 1.0
    # A little blur on both: resampling leaves them differently sharp.
    x = cv2.GaussianBlur(warped, (3, 3), 0).astype(np.float32)
    y = cv2.GaussianBlur(tb, (3, 3), 0).astype(np.float32)
    colour = min(_correlation(x[..., c][inside], y[..., c][inside]) for c in range(3))
    agreement, residual = _cells_agreeing(x, y, inside)
    return agreement, colour, overlap, residual


def _refined(ta: np.ndarray, tb: np.ndarray, m: np.ndarray) -> np.ndarray:
    """`m` (ta's thumbnail onto tb's) refined to a fraction of a pixel by aligning the grey
    pictures themselves (ECC): keypoints found at coarse scales place it a pixel or two
    off, which alone would make edges disagree. Only the turn and the shift are refined,
    the zoom kept: a copy has its original's shape, and a freer fit would stretch one
    look-alike onto another. Unchanged where the refinement fails."""
    zoom = float(np.hypot(*m[:, 0]))
    size = (max(1, round(ta.shape[1] * zoom)), max(1, round(ta.shape[0] * zoom)))
    scaled = cv2.resize(ta, size, interpolation=cv2.INTER_AREA)
    rigid = m.copy()
    rigid[:, :2] /= zoom  # from the scaled thumbnail
    inverse = cv2.invertAffineTransform(rigid).astype(np.float32)  # ECC maps tb onto ta
    try:
        _, found = cv2.findTransformECC(
            _grey(tb), _grey(scaled), inverse, cv2.MOTION_EUCLIDEAN, ECC_STOP, None, 3
        )
    except cv2.error:  # did not converge: keep the features' estimate
        return m
    refined = cv2.invertAffineTransform(found)
    refined[:, :2] *= zoom
    return refined


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / denom if denom > 0 else 0.0


def _colour_terms(rgb: np.ndarray) -> np.ndarray:
    """1, R, G, B and their squares and products (scaled to 0-1): one quadratic colour
    map for the whole picture follows a hue shift, which is no linear map of RGB."""
    c = rgb / 255.0
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    one = np.ones_like(r)
    return np.stack([one, r, g, b, r * r, g * g, b * b, r * g, r * b, g * b], axis=-1)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _cells_agreeing(x: np.ndarray, y: np.ndarray, inside: np.ndarray) -> tuple[float, float]:
    """Of the CELL x CELL cells of the shared area where a picture has detail, the share
    where the other agrees once one colour mapping for the whole area is allowed
    (brightness, contrast, saturation and hue shifts, _colour_terms): the mapped `x` off
    `y` by under RESIDUAL of the cell's spread. The higher of the two pictures' shares:
    a watermark or an edit adds detail to one picture only, and the other's detail still
    agrees. Plain cells say nothing (the white around a product shot); another picture of
    similar objects, its shapes a few pixels off and its light its own, loses most.

    Also the residual: the root mean square of the mapped `x` off `y` over the whole area,
    as a share of `y`'s spread there. Two smooth look-alikes on white can agree cell by cell
    (their only detail, the outline, lines up), yet leave several times a copy's residual."""
    rows, cols = (n // CELL for n in x.shape[:2])
    if rows == 0 or cols == 0:
        return 0.0, 1.0
    mask = inside[: rows * CELL, : cols * CELL]
    xs, ys = x[: rows * CELL, : cols * CELL], y[: rows * CELL, : cols * CELL]
    terms = _colour_terms(xs)
    t, v = terms[mask].astype(np.float64), ys[mask].astype(np.float64)
    # Least squares by its normal equations (10 x 10): lstsq's SVD of the whole picture took
    # most of a comparison's time; the ridge keeps a plain picture's equations solvable.
    fit = np.linalg.solve(t.T @ t + 1e-6 * np.eye(t.shape[1]), t.T @ v)
    mapped = (terms @ fit).astype(np.float32)
    spread = max(float(v.std()), DETAIL)
    residual = float(np.sqrt(((mapped[mask] - v) ** 2).mean())) / spread

    def blocks(a: np.ndarray) -> np.ndarray:  # (rows, cols, CELL * CELL, channels)
        a = a.reshape(rows, CELL, cols, CELL, -1).swapaxes(1, 2)
        return a.reshape(rows, cols, CELL * CELL, -1)

    whole = blocks(mask[..., None]).all(axis=(2, 3))
    spread_x, spread_y = blocks(mapped).std(axis=2).max(axis=2), blocks(ys).std(axis=2).max(axis=2)
    off = np.sqrt(((blocks(mapped) - blocks(ys)) ** 2).mean(axis=(2, 3)))
    agree = whole & (off <= RESIDUAL * np.maximum(np.maximum(spread_x, spread_y), DETAIL))
    shares = [
        agree[telling].mean()
        for telling in (whole & (spread_x >= DETAIL), whole & (spread_y >= DETAIL))
        if telling.sum() >= MIN_CELLS
    ]
    if not shares:  # plain pictures (a flat colour): nothing to compare, nothing disagrees
        return 1.0, residual
    return float(max(shares)), residual
