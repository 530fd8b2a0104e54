"""Payloads at the boundaries: `api` for the HTTP API, `tasks` for the state machine's tasks."""
