"""market.ledger."""
