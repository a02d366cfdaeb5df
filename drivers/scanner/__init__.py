"""Document scanners that save into a folder ("scan to folder"): each new page becomes a ``ScannedSheet``."""

from drivers.scanner.driver import ScannerDriver

__all__ = ["ScannerDriver"]
