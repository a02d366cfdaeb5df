"""The classroom's interactive panel, controlled over RS-232 with Samsung MDC."""

from drivers.panel.driver import PanelDriver
from drivers.panel.simulator import PanelSimulator

__all__ = ["PanelDriver", "PanelSimulator"]
