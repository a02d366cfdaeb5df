"""Real-person test frames built from the images in Debian's ``opencv-doc`` package.

Shared by the tests and the bench so both look at the same pixels. Nothing here is used
by the daemon; it only needs ``/usr/share/doc/opencv-doc/examples/data`` to exist.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
QUADRANTS = ((0, 0), (320, 0), (0, 240), (320, 240))
"""Top-left corners of the four 320x240 cells of :func:`people_frame`, in fill order."""


def load_rgb(name: str) -> np.ndarray:
    """An opencv-doc sample image as RGB uint8; ``FileNotFoundError`` if the package is absent."""
    path = OPENCV_DATA / name
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise FileNotFoundError(path)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def messi_person() -> np.ndarray:
    """messi5.jpg cropped to the player with some pitch around him (460x342)."""
    return np.ascontiguousarray(load_rgb("messi5.jpg")[:, 40:500])


def fit_cell(patch: np.ndarray, width: int = 320, height: int = 240, fill: int = 127) -> np.ndarray:
    """Scale *patch* to fit a ``width x height`` cell, centred on a grey background."""
    s = min(width / patch.shape[1], height / patch.shape[0])
    q = cv2.resize(patch, (int(patch.shape[1] * s), int(patch.shape[0] * s)), interpolation=cv2.INTER_AREA)
    cell = np.full((height, width, 3), fill, np.uint8)
    y, x = (height - q.shape[0]) // 2, (width - q.shape[1]) // 2
    cell[y : y + q.shape[0], x : x + q.shape[1]] = q
    return cell


def people_frame(cells: tuple[int, ...] = (0, 1, 2, 3), shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """640x480 frame with a (mirrored on odd cells) copy of the player in each listed quadrant.

    *shift* moves every person by (dx, dy) pixels, for tracking sequences; empty cells are grey.
    """
    frame = np.full((480, 640, 3), 127, np.uint8)
    person = messi_person()
    for i in cells:
        x, y = QUADRANTS[i]
        src = person[:, ::-1] if i in (1, 2) else person
        frame[y : y + 240, x : x + 320] = fit_cell(src)
    dx, dy = shift
    if dx or dy:
        m = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        frame = np.asarray(cv2.warpAffine(frame, m, (640, 480), borderValue=(127, 127, 127)), dtype=np.uint8)
    return frame
