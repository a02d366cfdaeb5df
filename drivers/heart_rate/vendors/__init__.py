"""Vendor advertisement formats as small plug-ins, tried in turn on every advert the scanner hears.

Most adverts in a school come from phones, laptops and speakers, so each parser must reject a
foreign advert in a dictionary lookup or two and return None. A parser raises ValueError only
for an advert that *is* its format but is malformed; the scanner logs that (rate-limited) and
goes on. Add a vendor by writing ``parse(device, adv) -> VendorReading | None`` and calling
:func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData


@dataclass(frozen=True)
class VendorReading:
    """What one advertisement said about one band.

    ``battery`` is a percentage when the band advertises one; Polar only broadcasts a
    low-battery bit, carried in ``battery_low``.
    """

    vendor: str
    bpm: int
    contact: bool | None
    battery: int | None = None
    battery_low: bool | None = None
    energy_kj: int | None = None
    rr_ms: tuple[float, ...] = ()


VendorParser = Callable[[BLEDevice, AdvertisementData], VendorReading | None]

_parsers: list[VendorParser] = []


def register(parser: VendorParser) -> None:
    """Add a vendor parser (tried after the built-in ones)."""
    _registry().append(parser)


def parsers() -> tuple[VendorParser, ...]:
    """The registered parsers, in the order they are tried."""
    return tuple(_registry())


def parse_advertisement(device: BLEDevice, adv: AdvertisementData) -> VendorReading | None:
    """The first parser's reading for this advert, None for a foreign advert; ValueError if malformed."""
    for parser in _registry():
        reading = parser(device, adv)
        if reading is not None:
            return reading
    return None


def _registry() -> list[VendorParser]:
    # Imported lazily: the plug-in modules import VendorReading from this package.
    if not _parsers:
        from drivers.heart_rate.vendors import polar, standard

        _parsers.extend((polar.parse, standard.parse))
    return _parsers


__all__ = ["VendorParser", "VendorReading", "parse_advertisement", "parsers", "register"]
