-- wrk script: POST an OpenAI chat completion request.
-- BENCH_STREAM=1 asks for a streamed (SSE) response; the mock in --canned mode then sends a fixed
-- 20-event stream, otherwise a fixed JSON completion.
local stream = os.getenv("BENCH_STREAM") == "1"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"mock-model","messages":['
    .. '{"role":"system","content":"You are a helpful assistant."},'
    .. '{"role":"user","content":"Hello! Can you tell me a short fact about proxies and latency?"}'
    .. '],"temperature":0.2,"max_tokens":64,"stream":' .. (stream and "true" or "false") .. '}'
