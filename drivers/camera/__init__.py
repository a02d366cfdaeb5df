"""Playground cameras (RTSP, HTTP MJPEG, USB/V4L2, video files, FFmpeg test sources) read through PyAV.

Each camera becomes a stream of newest-only :class:`~appliance.events.CameraFrame` events and a
:class:`~appliance.events.CameraStatus` every few seconds; :mod:`drivers.camera.simulator` is an HTTP MJPEG
camera for tests and demos.
"""

from drivers.camera.driver import CameraDriver

__all__ = ["CameraDriver"]
