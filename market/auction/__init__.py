"""market.auction."""
