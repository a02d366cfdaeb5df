"""The teachers' kiosk page: static HTML/CSS/JS only, served by the daemon at ``/`` and ``/static/``.

Nothing here imports the rest of the project; the page talks to the daemon over its HTTP API.
"""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
