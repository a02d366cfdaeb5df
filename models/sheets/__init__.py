"""Scanned or photographed pages: find the printed corner marks, warp to the page in mm, crop boxes, OMR fill.

Generic on purpose: nothing here knows templates or questions. A page layout is its size in mm and the
centres of its four solid square registration marks (:func:`corner_marks_mm`, the layout the homework
printer uses), plus one small "key" square beside the top-left mark so a page fed upside down is turned
the right way. Everything is blocking numpy/OpenCV work of tens of milliseconds per page: run it in an
executor.

Why corner marks and not the page edge: phone photos and flatbed scans crop, rotate and shade the paper's
edge unpredictably, while four solid squares printed at known positions survive rotation, perspective,
scaling and noise, and give the homography directly.
"""

from models.sheets.registration import (
    KEY_MM,
    MARK_MARGIN_MM,
    MARK_MM,
    Registered,
    RegistrationError,
    corner_marks_mm,
    crop_mm,
    fill_ratio,
    find_marks,
    key_square_mm,
    register,
    remove_box_lines,
)

__all__ = [
    "KEY_MM",
    "MARK_MARGIN_MM",
    "MARK_MM",
    "Registered",
    "RegistrationError",
    "corner_marks_mm",
    "crop_mm",
    "fill_ratio",
    "find_marks",
    "key_square_mm",
    "register",
    "remove_box_lines",
]
