# ruff: noqa: E501  (the prompts are data: one intent per line reads best)
"""The labelled set the semantic cache's threshold is chosen on: near-duplicate and different prompts.

Each intent is one question asked three ways. Pairs within an intent are near-duplicates (a cache
hit there is right); pairs across intents are different prompts (a hit there serves the wrong
answer). Many intents come in minimal pairs that share most of their words ("reset my password" and
"reset my username", "raise the budget" and "lower the budget"): the hard negatives that decide
whether a threshold is safe. `make bench` embeds every prompt with the platform's embedding model
and reports the precision and recall of hits at the configured threshold (ADR 0022).
"""

from __future__ import annotations

from itertools import combinations

__all__ = ["INTENTS", "labelled_pairs"]

INTENTS: tuple[tuple[str, str, str], ...] = (
    ("How do I reset my password?", "How can I reset my password?", "What are the steps to reset my password?"),
    ("How do I reset my username?", "How can I change my username?", "What are the steps to change my user name?"),
    (
        "How do I raise my team's token budget?",
        "How can I increase our token budget?",
        "What's the way to get a bigger token budget for my team?",
    ),
    (
        "How do I lower my team's token budget?",
        "How can I decrease our token budget?",
        "What's the way to reduce the token budget for my team?",
    ),
    (
        "Why was my request refused with a 429?",
        "Why did I get a 429 error?",
        "What does a 429 response from the gateway mean?",
    ),
    (
        "Why was my request refused with a 401?",
        "Why did I get a 401 error?",
        "What does a 401 response from the gateway mean?",
    ),
    ("Which model answers the chat route?", "What model serves the chat route?", "Which LLM is behind the chat route?"),
    (
        "Which model answers the embeddings endpoint?",
        "What model serves embeddings?",
        "Which model computes the embeddings?",
    ),
    (
        "How do I promote a model to champion?",
        "How can I make a version the champion?",
        "What's the process to promote a version to champion?",
    ),
    (
        "How do I roll back the champion model?",
        "How can I revert to the previous champion?",
        "What's the process to roll back a promoted model?",
    ),
    (
        "Where can I see my team's LLM spend?",
        "How do I check how much my team spent on LLMs?",
        "Where is the LLM cost for my team shown?",
    ),
    (
        "Where can I see the p99 latency of my model?",
        "How do I check my model's p99 latency?",
        "Where is the 99th percentile latency of my model shown?",
    ),
    (
        "How do I get an API key for the gateway?",
        "How can I obtain a gateway API key?",
        "Where do I find my team's API key for the LLM gateway?",
    ),
    (
        "How do I rotate the API key for the gateway?",
        "How can I replace our gateway API key?",
        "What's the way to rotate my team's LLM API key?",
    ),
    (
        "Can I stream answers from the chat route?",
        "Does the chat route support streaming?",
        "Is streaming available on the chat endpoint?",
    ),
    (
        "Can I call tools from the chat route?",
        "Does the chat route support function calling?",
        "Is tool calling available on the chat endpoint?",
    ),
    (
        "What is the maximum number of output tokens?",
        "What's the max_tokens limit?",
        "How many tokens can one answer have at most?",
    ),
    ("What is the maximum size of the input?", "How long can my prompt be?", "What's the limit on prompt length?"),
    (
        "How do I retrain my fraud model?",
        "How can I start a training run for the fraud model?",
        "What's the way to retrain the fraud detection model?",
    ),
    (
        "How do I delete my fraud model?",
        "How can I remove the fraud model?",
        "What's the way to delete the fraud detection model?",
    ),
    (
        "What time does the nightly batch job run?",
        "When does the nightly batch scoring start?",
        "At what hour is the nightly batch run scheduled?",
    ),
    (
        "What happens when the nightly batch job fails?",
        "What if the nightly batch scoring fails?",
        "How is a failed nightly batch run handled?",
    ),
    (
        "How do I restore the registry from a backup?",
        "How can I recover the registry from a backup?",
        "What are the steps to restore the model registry?",
    ),
    (
        "How often is the registry backed up?",
        "How frequently are registry backups taken?",
        "What is the registry's backup schedule?",
    ),
    (
        "Who approves a model for production?",
        "Who signs off on a production model?",
        "Who has to approve promoting a model to production?",
    ),
    (
        "Who owns the recommendation model?",
        "Which team is responsible for the recommender?",
        "Who maintains the recommendation model?",
    ),
    (
        "Why is the semantic cache returning stale answers?",
        "Why do I get outdated answers from the cache?",
        "Why does the semantic cache serve old replies?",
    ),
    (
        "Why is the semantic cache missing paraphrases?",
        "Why doesn't the cache match reworded questions?",
        "Why does the semantic cache not hit on paraphrased prompts?",
    ),
    (
        "How do I add a new tenant to the platform?",
        "How can I onboard a new team?",
        "What are the steps to add a tenant?",
    ),
    (
        "How do I remove a tenant from the platform?",
        "How can I offboard a team?",
        "What are the steps to delete a tenant?",
    ),
    (
        "Is my data used to train the models?",
        "Are my prompts used for training?",
        "Does the platform train on my requests?",
    ),
    ("Is my data encrypted at rest?", "Are my prompts stored encrypted?", "Does the platform encrypt stored data?"),
    (
        "How do I see why a request fell back to another model?",
        "How can I find out why the gateway escalated a request?",
        "Where is the reason for a fallback shown?",
    ),
    (
        "How do I turn off fallbacks for my route?",
        "How can I disable escalation on a route?",
        "What's the way to stop the gateway from falling back?",
    ),
    (
        "What is the price of the large model?",
        "How much does the large model cost per token?",
        "What does the large model charge per 1k tokens?",
    ),
    (
        "What is the context length of the large model?",
        "How many tokens fit in the large model's context?",
        "What's the large model's maximum context?",
    ),
    (
        "Can I use an external provider like OpenAI?",
        "Is it possible to route to OpenAI?",
        "Can the gateway call an external LLM provider?",
    ),
    (
        "Can I host my own fine-tuned model?",
        "Is it possible to serve my own fine-tuned LLM?",
        "Can we deploy our own tuned model on the platform?",
    ),
    (
        "How do I set up alerts for my model?",
        "How can I get alerted about my model?",
        "What's the way to configure alerts for a model?",
    ),
    (
        "How do I silence an alert for my model?",
        "How can I mute an alert on my model?",
        "What's the way to snooze a model alert?",
    ),
)


def labelled_pairs() -> list[tuple[str, str, bool]]:
    """(prompt, prompt, near-duplicate?) for every pair within an intent and one per pair of intents."""
    pairs = [(a, b, True) for intent in INTENTS for a, b in combinations(intent, 2)]
    pairs += [(x[0], y[0], False) for x, y in combinations(INTENTS, 2)]
    pairs += [(x[1], y[2], False) for x, y in combinations(INTENTS, 2)]
    return pairs
