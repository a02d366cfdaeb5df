"""Corner-mark registration, page warping, cropping and fill ratios (see the package docstring for why)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

MARK_MM = 6.0  # side of each solid corner square
MARK_MARGIN_MM = 5.0  # from the paper's edge to the square (inside most printers' unprintable margin)
KEY_MM = 3.0  # the small square right of the top-left mark that tells up from down
KEY_GAP_MM = 2.0
MAX_SIDE_PX = 2400  # larger photos are searched at this size (the warp still uses full resolution)


class RegistrationError(ValueError):
    """The four corner marks could not be found: not one of our sheets, or too dark, cut off or blurred."""


def corner_marks_mm(size_mm: tuple[float, float]) -> np.ndarray:
    """Centres of the four marks in mm, in the order top-left, top-right, bottom-right, bottom-left."""
    w, h = size_mm
    c = MARK_MARGIN_MM + MARK_MM / 2
    return np.array([(c, c), (w - c, c), (w - c, h - c), (c, h - c)], np.float64)


def key_square_mm(size_mm: tuple[float, float]) -> tuple[float, float, float, float]:
    """The orientation key: x, y, width, height in mm (right of the top-left mark, top-aligned with it)."""
    x = MARK_MARGIN_MM + MARK_MM + KEY_GAP_MM
    return (x, MARK_MARGIN_MM, KEY_MM, KEY_MM)


@dataclass(frozen=True)
class Registered:
    """A page warped upright into page coordinates: pixel (x, y) is mm (x / px_per_mm, y / px_per_mm)."""

    page: np.ndarray  # uint8 grey, size_mm * px_per_mm
    px_per_mm: float
    homography: np.ndarray  # source image pixels -> page pixels
    marks_px: np.ndarray  # the four mark centres found in the source image (TL, TR, BR, BL of the page)
    paper: float  # the page's paper grey level (for fill ratios)
    quarter_turns: int  # how the source was turned: 0 upright, 2 upside down, 1/3 sideways

    def crop(self, box_mm: tuple[float, float, float, float], inset_mm: float = 0.0) -> np.ndarray:
        return crop_mm(self.page, box_mm, self.px_per_mm, inset_mm)


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def _dark_mask(grey: np.ndarray) -> np.ndarray:
    """Dark pixels relative to the local paper level (a max filter wider than a mark), so shading in a phone
    photo does not turn whole corners black or marks grey."""
    k = max(15, int(min(grey.shape) * 0.08)) | 1
    background = cv2.dilate(grey, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    background = cv2.blur(background, (k, k))
    ratio = grey.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    return (ratio < 0.55).astype(np.uint8)


@dataclass(frozen=True)
class _Candidate:
    centre: tuple[float, float]
    side: float
    area: float


def _candidates(mask: np.ndarray) -> list[_Candidate]:
    """Solid, roughly square blobs: filled (>= 80 % of their rotated bounding box) and no longer than wide
    by more than 1.6 (a perspective-squashed mark still passes; a filled 14 x 8 mm option box does not)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_side = max(6.0, min(mask.shape) * 0.006)
    out: list[_Candidate] = []
    for c in contours:
        area = float(cv2.contourArea(c))
        if area < min_side * min_side:
            continue
        (cx, cy), (w, h), _ = cv2.minAreaRect(c)
        if w < min_side or h < min_side:
            continue
        if max(w, h) / min(w, h) > 1.6 or area / (w * h) < 0.8:
            continue
        hull = cv2.convexHull(c)
        if area / max(float(cv2.contourArea(hull)), 1.0) < 0.9:
            continue
        out.append(_Candidate((float(cx), float(cy)), float((w + h) / 2), area))
    return out


def _order(points: np.ndarray) -> np.ndarray:
    """Four points in clockwise order starting from the one nearest the image's top-left."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    pts = points[np.argsort(angles)]  # clockwise in image coordinates (y down)
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _quad_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def find_marks(image: np.ndarray, size_mm: tuple[float, float] = (210.0, 297.0)) -> tuple[np.ndarray, int]:
    """The four corner-mark centres in ``image`` pixels (page TL, TR, BR, BL) and the quarter turns applied.

    Among solid square blobs, the four of similar size that span the largest convex quadrilateral whose
    sides have the page's proportions are the marks; the key square decides which one is top-left.
    Raises :class:`RegistrationError` with the reason when that fails.
    """
    grey = _grey(image)
    scale = 1.0
    if max(grey.shape) > MAX_SIDE_PX:
        scale = MAX_SIDE_PX / max(grey.shape)
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cands = _candidates(_dark_mask(grey))
    if len(cands) < 4:
        raise RegistrationError(f"found {len(cands)} of the 4 corner marks: is the whole page in the picture?")
    cands.sort(key=lambda c: -c.area)
    cands = cands[:20]
    w_mm, h_mm = size_mm
    span_w = w_mm - 2 * (MARK_MARGIN_MM + MARK_MM / 2)
    span_h = h_mm - 2 * (MARK_MARGIN_MM + MARK_MM / 2)
    page_aspect = max(span_w, span_h) / min(span_w, span_h)
    best: tuple[float, np.ndarray] | None = None
    for combo in itertools.combinations(cands, 4):
        sides = [c.side for c in combo]
        if max(sides) / min(sides) > 1.8:
            continue
        pts = _order(np.array([c.centre for c in combo]))
        edges = [float(np.linalg.norm(pts[i] - pts[(i + 1) % 4])) for i in range(4)]
        a, b = (edges[0] + edges[2]) / 2, (edges[1] + edges[3]) / 2
        if min(a, b) < 1e-6:
            continue
        aspect = max(a, b) / min(a, b)
        if abs(aspect / page_aspect - 1) > 0.3:
            continue
        # the marks sit about span/side apart: a quad much bigger or smaller than that is other ink
        mark_ratio = (a + b) / 2 / float(np.mean(sides))
        expected = (span_w + span_h) / 2 / MARK_MM
        if not 0.5 < mark_ratio / expected < 2.0:
            continue
        area = _quad_area(pts)
        if best is None or area > best[0]:
            best = (area, pts)
    if best is None:
        raise RegistrationError("no four marks form the page's rectangle: the sheet is folded, cut off or not ours")
    pts = best[1] / scale
    return _orient(_grey(image), pts, size_mm)


def _orient(grey: np.ndarray, pts: np.ndarray, size_mm: tuple[float, float]) -> tuple[np.ndarray, int]:
    """Which of the four ways the page lies: the page's proportions rule out the two sideways ones, then the
    key square (dark, with light paper below it) tells upright from upside down."""
    marks = corner_marks_mm(size_mm)
    kx, ky, kw, kh = key_square_mm(size_mm)
    probe = np.array([[kx + kw / 2, ky + kh / 2], [kx + kw / 2, ky + kh / 2 + 2 * KEY_MM]], np.float64)
    w_mm, h_mm = size_mm
    page_ratio = (w_mm - 2 * MARK_MARGIN_MM - MARK_MM) / (h_mm - 2 * MARK_MARGIN_MM - MARK_MM)
    scores: list[tuple[float, int]] = []
    for turns in range(4):
        src = np.roll(pts, -turns, axis=0).astype(np.float32)
        top = float(np.linalg.norm(src[1] - src[0]) + np.linalg.norm(src[2] - src[3])) / 2
        side = float(np.linalg.norm(src[3] - src[0]) + np.linalg.norm(src[2] - src[1])) / 2
        if (top / side > 1) != (page_ratio > 1):
            continue  # this turn would make a portrait page landscape
        h_inv = cv2.getPerspectiveTransform(marks.astype(np.float32), src)
        p = cv2.perspectiveTransform(probe.reshape(1, 2, 2), h_inv).reshape(2, 2)
        r = max(1, int(top / (w_mm - 2 * MARK_MARGIN_MM - MARK_MM) * KEY_MM * 0.3))
        vals = []
        for x, y in p:
            xi, yi = round(x), round(y)
            patch = grey[max(yi - r, 0): yi + r + 1, max(xi - r, 0): xi + r + 1]
            vals.append(float(patch.mean()) if patch.size else 255.0)
        scores.append((vals[1] - vals[0], turns))  # key dark, paper below it light
    if not scores:
        raise RegistrationError("the corner marks do not have the page's proportions")
    contrast, turns = max(scores)
    if contrast < 25:
        raise RegistrationError("the orientation key beside the top-left mark is missing: not one of our sheets")
    return np.roll(pts, -turns, axis=0), turns


def register(image: np.ndarray, size_mm: tuple[float, float] = (210.0, 297.0), px_per_mm: float = 8.0) -> Registered:
    """Find the marks and warp ``image`` (grey or BGR) to an upright page at ``px_per_mm`` (8 = 203 dpi)."""
    grey = _grey(image)
    marks_px, turns = find_marks(grey, size_mm)
    dst = (corner_marks_mm(size_mm) * px_per_mm).astype(np.float32)
    hom = cv2.getPerspectiveTransform(marks_px.astype(np.float32), dst)
    out_w, out_h = round(size_mm[0] * px_per_mm), round(size_mm[1] * px_per_mm)
    page = cv2.warpPerspective(grey, hom, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=255)
    paper = float(np.percentile(page, 95))
    return Registered(page, px_per_mm, hom, marks_px, paper, turns)


def crop_mm(page: np.ndarray, box_mm: tuple[float, float, float, float], px_per_mm: float,
            inset_mm: float = 0.0) -> np.ndarray:
    """The pixels of ``box_mm`` (x, y, w, h in mm) on a registered page, shrunk by ``inset_mm`` all round
    (to leave the printed border out)."""
    x, y, w, h = box_mm
    x0 = round((x + inset_mm) * px_per_mm)
    y0 = round((y + inset_mm) * px_per_mm)
    x1 = round((x + w - inset_mm) * px_per_mm)
    y1 = round((y + h - inset_mm) * px_per_mm)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(max(x1, x0 + 1), page.shape[1]), min(max(y1, y0 + 1), page.shape[0])
    return page[y0:y1, x0:x1]


def fill_ratio(crop: np.ndarray, paper: float) -> float:
    """Share of the crop darker than 60 % of the paper level: ~0 for an empty box, ~0.1 for a tick,
    0.5-0.9 for a box filled in with a pencil (填涂)."""
    if crop.size == 0:
        return 0.0
    return float((crop.astype(np.float32) < 0.6 * paper).mean())


def remove_box_lines(grey: np.ndarray, paper: float | None = None, band: float = 0.2, cover: float = 0.6) -> np.ndarray:
    """Whiten straight printed rules that a slightly-off crop caught along its edges.

    A row in the top or bottom ``band`` of the crop that is dark over ``cover`` of its width is a box
    border, not handwriting (a pupil's horizontal stroke rarely spans the whole box); the same for columns.
    """
    g = grey.copy()
    level = paper if paper is not None else float(np.percentile(g, 95))
    dark = g < 0.6 * level
    h, w = g.shape
    bh, bw = max(1, int(h * band)), max(1, int(w * band))
    for rows in (range(0, bh), range(h - bh, h)):
        for r in rows:
            if dark[r].mean() > cover:
                g[r] = int(level)
    for cols in (range(0, bw), range(w - bw, w)):
        for c in cols:
            if dark[:, c].mean() > cover:
                g[:, c] = int(level)
    return g
