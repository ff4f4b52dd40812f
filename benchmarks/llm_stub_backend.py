"""The backend for the overhead benchmark: an OpenAI-compatible chat completion answered at once.

Overhead is what a gateway adds between a caller and a backend. Measured in front of llama.cpp, it
would drown in the engine's queue (one sequence at a time per replica); in front of this stub, on the
same server stack as everything else (uvicorn + httptools + uvloop), the gateway's own cost is what
remains. Both gateways (ours and LiteLLM's proxy) sit in front of this same stub in the same run.
"""

import orjson

BODY = orjson.dumps(
    {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "The gateway routes."}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }
)
MODELS = orjson.dumps({"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "bench"}]})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = MODELS if scope["path"].endswith("/models") else BODY
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
