"""Model assist: phrasing and investigation with any OpenAI-compatible model, grounded and policy-bound."""
