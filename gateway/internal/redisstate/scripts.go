package redisstate

import (
	"crypto/sha1"
	"encoding/hex"
)

// script is a Lua script and its SHA-1, for EVALSHA; it is never modified
// (go-redis's Script is, by its Load).
type script struct{ src, sha string }

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

// limitScript takes one request from each of the token buckets KEYS
// names, in order, stopping at the first that is empty. Begin calls it
// with one bucket at a time, since a draft's buckets (its agent's, its
// credential's) live in different hash slots; see Begin for how a draft
// refused by its agent's bucket takes nothing from its credential's. Each
// bucket is kept as GCRA: its key holds the bucket's theoretical arrival
// time (TAT, Unix µs). A request at now is allowed when max(TAT, now) +
// interval - now ≤ burst × interval, and then moves TAT there; which
// allows exactly what a token bucket of rate 1/interval and size burst,
// full when new, allows (the in-process limiter's golang.org/x/time/rate),
// to a microsecond. The key expires when the bucket would be full again,
// so an idle agent costs nothing.
//
// KEYS[i] bucket i; ARGV[1] now (Unix µs), ARGV[2i] and ARGV[2i+1] bucket
// i's interval (µs) and burst. Returns 1 (allowed by all) or 0.
var limitScript = newScript(`
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new = tat + interval
  if new - now > burst * interval + 1 then return 0 end
  redis.call('SET', KEYS[i], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
end
return 1
`)

// refundScript gives a bucket back the request limitScript took from it
// at now: TAT moves back by one interval, to max(TAT before, now), which
// is the bucket as it was (a key at or before now is a full bucket, and
// is deleted).
//
// KEYS[1] the bucket; ARGV[1] now (Unix µs), ARGV[2] its interval (µs).
// Returns 1, or 0 when the bucket had expired (nothing to give back).
var refundScript = newScript(`
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
local now = tonumber(ARGV[1])
local new = tat - tonumber(ARGV[2])
if new <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
end
return 1
`)

// claimScript is the agent's part of a sampling decision, on the agent's
// slot: it counts a conversation not sampled before towards its agent's
// daily minimum, when the agent is still under it. The agent's day is a
// set of the conversations counted; it is kept only up to the minimum
// (past it the count no longer decides anything), so it is small, and a
// conversation counted twice (two gateways racing, a commit tried again
// after a conflict) is counted once.
//
// While the agent is under its minimum, a conversation not sampled before
// is sampled whatever its message's reason, and counts (the minimum is
// "at least N sampled conversations a day, for any reason", as in
// sampling.Sampler.Decide); so the claim does not depend on the reason,
// and is granted exactly when the conversation is (or was already)
// counted.
//
// KEYS[1] the agent's day; ARGV[1] the conversation, ARGV[2] the minimum,
// ARGV[3] the time until the agent's day ends, and an hour (ms; relative,
// so that the gateways' clocks need not agree with the server's).
// Returns {1 (counted) or 0 (the agent has its minimum), the conversations
// counted}.
var claimScript = newScript(`
local n = redis.call('SCARD', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {1, n} end
if n >= tonumber(ARGV[2]) then return {0, n} end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, n + 1}
`)

// commitScript is the conversation's part of a draft's commit, on the
// conversation's slot: the conversation's compare-and-set, then the
// sampling and alert decisions of its message, atomically, so a conflict
// (another gateway committed the conversation since it was read) spends
// no alert window and marks nothing sampled: the message is inspected
// again on the new conversation.
//
// The conversation is a hash {v: version, d: binary form}; version 0 is a
// conversation not kept. Sampling follows sampling.Sampler.Decide: a
// conversation sampled before keeps its first reason (the mark lives as
// long as the conversation); else the candidate reason, else the agent's
// daily minimum when claimScript counted the conversation for it. Alerts
// follow alerting.Dedup.Admit: the first of a (conversation, kind) is
// admitted, then a repeat only at least window after the last admitted
// one or at a higher level.
//
// KEYS[1] conversation, KEYS[2] sampled mark, KEYS[3..] one per alert.
// ARGV[1] the version read ("-": no conversation to commit), ARGV[2] the
// conversation, ARGV[3] its TTL (ms), ARGV[4] now (Unix ms), ARGV[5] the
// alert window (ms), ARGV[6] "1" to decide sampling, ARGV[7] the candidate
// reason ("" none), ARGV[8] "1" when the agent's daily minimum counted
// the conversation (claimScript), ARGV[9..] each alert's level rank.
//
// Returns {-1, current version} on a conflict, else {new version (0 when
// none was committed), the sampling reason ("" not sampled), then 1 or 0
// per alert (admitted or suppressed)}.
var commitScript = newScript(`
local out = {0, ''}
if ARGV[1] ~= '-' then
  local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
  if v ~= tonumber(ARGV[1]) then return {-1, tostring(v)} end
  v = v + 1
  redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  out[1] = v
end
if ARGV[6] == '1' then
  local r = redis.call('GET', KEYS[2])
  if r then
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  else
    r = ARGV[7]
    if r == '' and ARGV[8] == '1' then r = 'agent_minimum' end
    if r ~= '' then redis.call('SET', KEYS[2], r, 'PX', ARGV[3]) end
  end
  out[2] = r
end
local now = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
for i = 3, #KEYS do
  local rank = tonumber(ARGV[i + 6])
  local st = redis.call('HMGET', KEYS[i], 't', 'l')
  if not st[1] or now - tonumber(st[1]) >= window or rank > tonumber(st[2]) then
    redis.call('HSET', KEYS[i], 't', ARGV[4], 'l', rank, 's', 0)
    redis.call('PEXPIRE', KEYS[i], window)
    out[#out + 1] = 1
  else
    redis.call('HINCRBY', KEYS[i], 's', 1)
    out[#out + 1] = 0
  end
end
return out
`)
