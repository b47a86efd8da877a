"""Background jobs: RQ with Redis in production, a thread in the embedded default."""
