"""market.meter."""
