"""The Local API: the app serves `dsocr serve`'s HTTP API (OpenAI chat, `/v1/ocr`, `/v1/plan`) from the model it
has loaded, so other programs use DSOCR without a second copy of the model in memory (Settings > Local API).

The design: the worker thread owns the model, and every API request becomes a run of the app's own run queue
(an adapter, not a second scheduler). The engine's `create_app` talks to an `ApiBridge` in place of its
`OcrService`: `submit_many` hands each request (a `Ticket`) to the GUI thread through a queued signal, where
`ApiRequests` adds it to the queue as an item ("API: <client> ...") and runs it like any other run; the
run's events go back to the request's HTTP feed. So one model and one thread decode, requests wait their
turn with the user's runs and captures, the queue shows them with their status and streamed text, and the
app's Cancel cancels them too. The cost: the app decodes one run at a time (no continuous batching, which
`dsocr serve` keeps for a server without the app).

- `settings.py` - `ApiSettings`: on/off (off by default), port (`dsocr serve`'s default), an optional API key.
- `section.py`  - `LocalApiSection`: the "Local API" tab of the settings dialog.
- `bridge.py`   - `ApiBridge`: what the HTTP server's threads call (thread-safe; refuses with 503 while the
                  model loads); `ApiTicket`: a request that tells the GUI thread when its client goes away.
- `requests.py` - `ApiRequests`: requests into queue items and runs, run events back to the requests.
- `host.py`     - `LocalApi`: starts, restarts (a new model) and stops the server as the settings and the
                  model change; says when the port is in use.
"""
