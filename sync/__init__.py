"""Durable outbox and MQTT link that carry results (never raw media) to the county receiver."""
