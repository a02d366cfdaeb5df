"""Simulated pens through bleak's own backend types: the driver's BLE code cannot tell them from BlueZ.

:class:`SimulatedPenScanner` is a ``BaseBleakScanner`` advertising the Neo service for every BLE pen that is
in range and not connected; :class:`SimulatedPenClient` is a ``BaseBleakClient`` that exposes the pen's
GATT table (0x19F1 with notify 0x2BA1 / write 0x2BA0, or the newer 128-bit service on pens whose address
ends odd, so the driver's lookup of both is exercised), hands GATT writes to the pen and delivers
the pen's bytes as notifications split at the ATT payload size (20 bytes), as a real pen's are. When a
pen leaves range the client's disconnected callback fires, as with a child walking out of the room.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

from drivers.smartpen.ble_link import NOTIFY_16, NOTIFY_128, SERVICE_16, SERVICE_128, WRITE_16, WRITE_128

if TYPE_CHECKING:
    from drivers.smartpen.simulator import PenSimulator

ADVERT_EVERY_S = 0.1
ATT_PAYLOAD = 20
PEN_NAME = "NWP-F130"


class SimulatedPenScanner(BaseBleakScanner):
    simulator: ClassVar[PenSimulator]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        if self._task is None:
            self._task = asyncio.create_task(self._air(), name="pen-sim-scanner")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _air(self) -> None:
        while True:
            for address in self.simulator.advertising_pens():
                uuid = SERVICE_128 if uses_128_bit_service(address) else SERVICE_16
                adv = AdvertisementData(PEN_NAME, {}, {}, [uuid], None, -60, ())
                if self.is_allowed_uuid(adv.service_uuids):
                    device = self.create_or_update_device(address, address, PEN_NAME, None, adv)
                    self.call_detection_callbacks(device, adv)
            await asyncio.sleep(ADVERT_EVERY_S)


def uses_128_bit_service(address: str) -> bool:
    """Pens with an odd last address byte run newer firmware (the 128-bit service), the others 0x19F1."""
    return int(address[-2:], 16) % 2 == 1


def _services(address: str) -> BleakGATTServiceCollection:
    service, notify, write = (
        (SERVICE_128, NOTIFY_128, WRITE_128) if uses_128_bit_service(address) else (SERVICE_16, NOTIFY_16, WRITE_16)
    )
    services = BleakGATTServiceCollection()
    pen = BleakGATTService(None, 0x0010, service)
    services.add_service(pen)
    services.add_characteristic(BleakGATTCharacteristic(None, 0x0011, notify, ["notify"], lambda: 20, pen))
    services.add_characteristic(
        BleakGATTCharacteristic(None, 0x0013, write, ["write-without-response", "write"], lambda: 20, pen)
    )
    return services


class SimulatedPenClient(BaseBleakClient):
    """A GATT connection to one simulated pen."""

    simulator: ClassVar[PenSimulator]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._connected = False
        self._callback: NotifyCallback | None = None
        self.address = self.address.upper()

    @property
    def name(self) -> str:
        return PEN_NAME

    @property
    def mtu_size(self) -> int:
        return ATT_PAYLOAD + 3

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await asyncio.sleep(0.02)  # a connection takes a moment, even in simulation
        if not self.simulator.ble_connect(self.address, self):
            raise BleakError(f"{self.address}: no answer to the connection request")
        self.services = _services(self.address)
        self._connected = True

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self._callback = None
            self.simulator.ble_disconnect(self.address, self)

    def lost(self) -> None:
        """The pen went out of range: the link drops and bleak's disconnected callback fires."""
        if not self._connected:
            return
        self._connected = False
        self._callback = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def send(self, data: bytes) -> None:
        """The pen's bytes, as notifications of at most one ATT payload each (delivered in order, on the loop)."""
        callback = self._callback
        if callback is None or not self._connected:
            return
        loop = asyncio.get_running_loop()
        for i in range(0, len(data), ATT_PAYLOAD):
            loop.call_soon(callback, bytearray(data[i : i + ATT_PAYLOAD]))

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        raise BleakError(f"characteristic {characteristic.uuid} is not readable on this pen")

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        raise BleakError("this pen exposes no readable descriptors")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        if not self._connected:
            raise BleakError("Not connected")
        if characteristic.uuid not in (WRITE_16, WRITE_128):
            raise BleakError(f"characteristic {characteristic.uuid} is not writable on this pen")
        self.simulator.ble_write(self.address, bytes(data))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        raise BleakError("this pen exposes no writable descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        if not self._connected:
            raise BleakError("Not connected")
        if characteristic.uuid not in (NOTIFY_16, NOTIFY_128):
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        self._callback = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._callback = None
