"""Device drivers: one package per device family, each with a real backend and a wire-level simulator."""
