"""Technician terminal UI (``classroom tui``): a Textual app that talks only to the daemon's HTTP API.

Entry point: :func:`appliance.tui.app.run_tui` ``(url: str = "http://127.0.0.1:8765", plain: bool = False)
-> int``. Imported lazily by the CLI so that the daemon itself never loads Textual.
"""
