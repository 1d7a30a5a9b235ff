"""The domain's words, below every other package: statuses, event types, priorities."""
