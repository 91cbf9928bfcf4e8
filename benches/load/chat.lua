-- wrk script: POST an OpenAI chat completion request.
-- BENCH_STREAM=1 asks for a streamed (SSE) response; the mock in --canned mode then sends a fixed
-- 20-event stream, otherwise a fixed JSON completion.
-- BENCH_NOVEL=1 makes every request's user prompt different (about 20 word pieces), so no score
-- comes from the classifier cache: each request costs one encoder pass.
local stream = os.getenv("BENCH_STREAM") == "1"
local novel = os.getenv("BENCH_NOVEL") == "1"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"

local function body(prompt)
    return '{"model":"mock-model","messages":['
        .. '{"role":"system","content":"You are a helpful assistant."},'
        .. '{"role":"user","content":"' .. prompt .. '"}'
        .. '],"temperature":0.2,"max_tokens":64,"stream":' .. (stream and "true" or "false") .. '}'
end

wrk.body = body("Hello! Can you tell me a short fact about proxies and latency?")

if novel then
    local verbs = { "cook", "repair", "paint", "plan", "clean", "learn", "store", "choose" }
    local nouns = { "garden", "bicycle", "kitchen", "budget", "guitar", "website", "trip", "lamp" }
    local places = { "Lisbon", "Oslo", "Kyoto", "Lima", "Cairo", "Perth", "Quebec", "Seville" }
    local counter = 0
    -- Each wrk thread (and each run) starts elsewhere, so runs do not hit each other's cache.
    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0) % 100000)
    local base = math.random(1, 1000000000)
    request = function()
        counter = counter + 1
        local n = base + counter
        local prompt = string.format("Request %d: how should I %s a %s before my visit to %s next week?",
            n, verbs[n % 8 + 1], nouns[math.floor(n / 8) % 8 + 1], places[math.floor(n / 64) % 8 + 1])
        return wrk.format(nil, nil, nil, body(prompt))
    end
end
