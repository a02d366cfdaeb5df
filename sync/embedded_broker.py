"""A pure-Python MQTT broker (amqtt) for demos on machines without Debian's mosquitto.

amqtt speaks MQTT 3.1.1 only, so devices and the receiver must use ``protocol = "mqtt311"`` and a plain
(not shared) subscription with it. Production uses mosquitto (or another MQTT 5 broker).

Run: python -m sync.embedded_broker --port 1883
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal


async def serve(port: int, host: str = "127.0.0.1") -> None:
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description="embedded MQTT 3.1.1 broker (amqtt) for the demo")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.port, args.host))


if __name__ == "__main__":
    main()
