"""Scanner output files to page images: PNG/JPEG/TIFF/BMP/WebP (multi-page TIFF too) and PDF (via pdfium).

Shared by the scanner driver (which only needs to know a file is complete and readable, and how many pages
it has) and the sheet reader (which needs the pixels). Blocking I/O and decoding: run in an executor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED_SUFFIXES = IMAGE_SUFFIXES | PDF_SUFFIXES
DEFAULT_DPI = 200.0


class UnreadableFile(ValueError):
    """Not an image or PDF we can decode (truncated, encrypted, or some other kind of file)."""


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def page_count(path: Path) -> int:
    """How many pages the file holds; raises :class:`UnreadableFile` when it cannot be decoded."""
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        doc = _open_pdf(path)
        try:
            n = len(doc)
        finally:
            doc.close()
        if n < 1:
            raise UnreadableFile(f"{path.name}: the PDF has no pages")
        return n
    if suffix in {".tif", ".tiff"}:
        ok, pages = cv2.imreadmulti(str(path), flags=cv2.IMREAD_GRAYSCALE)
        if not ok or not pages:
            raise UnreadableFile(f"{path.name}: not a readable TIFF")
        return len(pages)
    if suffix in IMAGE_SUFFIXES:
        load_page(path, 0)
        return 1
    raise UnreadableFile(f"{path.name}: not an image or PDF ({', '.join(sorted(SUPPORTED_SUFFIXES))})")


def load_page(path: Path, index: int = 0, dpi: float = DEFAULT_DPI) -> np.ndarray:
    """Page ``index`` of the file as a uint8 grey image (PDF pages rendered at ``dpi``)."""
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        doc = _open_pdf(path)
        try:
            if not 0 <= index < len(doc):
                raise UnreadableFile(f"{path.name}: no page {index + 1} (it has {len(doc)})")
            return _render(doc, index, dpi)
        finally:
            doc.close()
    if suffix in {".tif", ".tiff"}:
        ok, pages = cv2.imreadmulti(str(path), flags=cv2.IMREAD_GRAYSCALE)
        if not ok or not 0 <= index < len(pages):
            raise UnreadableFile(f"{path.name}: no readable page {index + 1}")
        return np.ascontiguousarray(pages[index], dtype=np.uint8)
    if suffix in IMAGE_SUFFIXES:
        if index != 0:
            raise UnreadableFile(f"{path.name}: an image has one page")
        data = np.fromfile(str(path), dtype=np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
        if img is None:
            raise UnreadableFile(f"{path.name}: not a readable image (truncated or another format)")
        return img
    raise UnreadableFile(f"{path.name}: not an image or PDF ({', '.join(sorted(SUPPORTED_SUFFIXES))})")


def pdf_pages(pdf: bytes | Path, dpi: float = DEFAULT_DPI) -> list[np.ndarray]:
    """Every page of a PDF (bytes or a file) as uint8 grey images."""
    doc = _open_pdf(pdf)
    try:
        return [_render(doc, i, dpi) for i in range(len(doc))]
    finally:
        doc.close()


def _open_pdf(source: bytes | Path) -> Any:
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(str(source) if isinstance(source, Path) else source)
    except pypdfium2.PdfiumError as exc:
        name = source.name if isinstance(source, Path) else "PDF"
        raise UnreadableFile(f"{name}: not a readable PDF ({exc})") from None


def _render(doc: Any, index: int, dpi: float) -> np.ndarray:
    page = doc[index]
    try:
        arr = np.asarray(page.render(scale=dpi / 72.0, grayscale=True).to_numpy())
    finally:
        page.close()
    if arr.ndim == 3:
        arr = arr[:, :, 0]
    return np.ascontiguousarray(arr, dtype=np.uint8)
