"""The ceiling: a bare ASGI app that reads the body and answers a fixed JSON, on the same server stack
(uvicorn + httptools + uvloop) as the model server. Nothing can serve faster than this."""

BODY = b'{"predictions":[0]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
