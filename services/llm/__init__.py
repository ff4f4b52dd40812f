"""LLM serving: models the platform builds offline (a tokenizer and small Llama-architecture GGUF
models), the llama.cpp backends that serve them, and the OpenAI-compatible gateway in front of them
with prompt caching, an embedding store and cost-aware routing (docs/llm.md, ADR 0022)."""
