"""Background jobs: named ``"domain.verb"``, take ids (never ORM objects), enqueued after commit."""
