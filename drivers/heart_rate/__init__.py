"""Heart-rate bands for Smart PE: BLE broadcasts through one shared scanner, a few bands over GATT."""

from drivers.heart_rate.driver import HeartRateDriver
from drivers.heart_rate.gatt import HeartRateMeasurement, encode_heart_rate_measurement, parse_heart_rate_measurement
from drivers.heart_rate.simulator import HeartRateSimulator, PlantedCase

__all__ = [
    "HeartRateDriver",
    "HeartRateMeasurement",
    "HeartRateSimulator",
    "PlantedCase",
    "encode_heart_rate_measurement",
    "parse_heart_rate_measurement",
]
