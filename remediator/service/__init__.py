"""The webhook service: journal, payloads, runner, FastAPI app."""
