"""The LLM gateway: one OpenAI-compatible front door over every LLM the platform serves (ADR 0022).

Read in request order: `app` (the ASGI request path) -> `auth` (API key -> tenant) -> `requests`
(guardrails: parse and validate, 4xx in OpenAI's error format) -> `exact_cache` and `semantic_cache`
-> `budgets` (tokens per minute, spend per day) -> `routing` (cheapest candidate that fits) ->
`replicas` (prefix-aware choice, circuit breakers) -> `backends` (HTTP to llama.cpp or a provider,
streaming) -> `metrics`. `config` is the gateway's whole configuration, generated from the blueprint.
"""
