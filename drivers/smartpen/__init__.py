"""Dot-matrix pens (点阵笔) for homework and exams: Neo v2 over a USB/serial gateway or BLE, plus a simulator."""

from drivers.smartpen.driver import SmartPenDriver
from drivers.smartpen.simulator import PenSimulator

__all__ = ["PenSimulator", "SmartPenDriver"]
