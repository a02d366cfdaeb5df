"""The product's features in home-screen order, and which of them this box runs.

A feature that is not set up on this box still gets its tile, marked "not configured", so a teacher
knows the product can do it and whom to ask.
"""

from __future__ import annotations

from appliance.config.schema import AppConfig
from appliance.features.base import Feature, FeatureInfo
from appliance.features.fitness import Fitness
from appliance.features.homework import Homework
from appliance.features.panel_control import PanelControl
from appliance.features.smart_pe import SmartPe

CATALOG: list[FeatureInfo] = [
    FeatureInfo("dual_teacher", "双师课堂", "Dual-teacher classroom", "🎥"),
    FeatureInfo("english_speaking", "英语听说", "English speaking practice", "🗣️"),
    Homework.info,
    SmartPe.info,
    Fitness.info,
    PanelControl.info,
]


def build_features(config: AppConfig) -> list[Feature]:
    features: list[Feature] = []
    if config.features.panel_control.enabled:
        features.append(PanelControl(config.features.panel_control, panel_present=config.drivers.panel is not None))
    if config.features.smart_pe.enabled:
        features.append(
            SmartPe(config.features.smart_pe, config.device.data_dir, hr_present=config.drivers.heart_rate is not None,
                    timezone=config.device.timezone)
        )
    if config.features.homework.enabled:
        features.append(
            Homework(config.features.homework, config.device.data_dir, timezone=config.device.timezone,
                     pens_present=config.drivers.smartpen is not None,
                     scanner_present=config.drivers.scanner is not None)
        )
    if config.features.fitness.enabled:
        cameras = config.drivers.cameras.sources if config.drivers.cameras is not None else []
        features.append(Fitness(config.features.fitness, config.device.data_dir, cameras=cameras,
                                timezone=config.device.timezone))
    return features
