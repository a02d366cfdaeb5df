"""Enrolment of new classroom boxes: device identity, certificates and first configuration."""
