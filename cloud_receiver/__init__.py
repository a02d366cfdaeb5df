"""The county receiver (classroom-cloud): stores classroom results exactly once and aggregates them."""
