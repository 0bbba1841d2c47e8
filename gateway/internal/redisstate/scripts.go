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

// limitScript takes one request from each of a draft's token buckets, in
// order, stopping at the first that is empty (so a draft refused by its
// agent's bucket takes nothing from its credential's, as the in-process
// limiters do). Each bucket is kept as GCRA: its key holds the bucket's
// theoretical arrival time (TAT, Unix µs). A request at now is allowed
// when max(TAT, now) + interval - now ≤ burst × interval, and then moves
// TAT there; which allows exactly what a token bucket of rate 1/interval
// and size burst, full when new, allows (the in-process limiter's
// golang.org/x/time/rate), to a microsecond. The key expires when the
// bucket would be full again, so an idle agent costs nothing.
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

// commitScript commits one draft: the conversation's compare-and-set,
// then the sampling and alert decisions of its message, atomically, so a
// conflict (another gateway committed the conversation since it was
// read) spends no alert window and counts no sample: the message is
// inspected again on the new conversation.
//
// The conversation is a hash {v: version, d: binary form}; version 0 is a
// conversation not kept. Sampling follows sampling.Sampler.Decide: a
// conversation sampled before keeps its first reason (the mark lives as
// long as the conversation); else the candidate reason, else the agent's
// daily minimum while the agent's count of sampled conversations that day
// is under it; each newly sampled conversation counts for its agent. Alerts
// follow alerting.Dedup.Admit: the first of a (conversation, kind) is
// admitted, then a repeat only at least window after the last admitted
// one or at a higher level.
//
// KEYS[1] conversation, KEYS[2] sampled mark, KEYS[3] agent's day count,
// KEYS[4..] one per alert.
// ARGV[1] the version read ("-": no conversation to commit), ARGV[2] the
// conversation, ARGV[3] its TTL (ms), ARGV[4] now (Unix ms), ARGV[5] the
// alert window (ms), ARGV[6] "1" to decide sampling, ARGV[7] the candidate
// reason ("" none), ARGV[8] the agent minimum (0: none), ARGV[9] the
// time until the agent's day ends, and an hour (ms; relative, so that the
// gateways' clocks need not agree with the server's), ARGV[10..] each
// alert's level rank.
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
    if tonumber(ARGV[8]) > 0 then
      local n = tonumber(redis.call('GET', KEYS[3]) or '0')
      if r == '' and n < tonumber(ARGV[8]) then r = 'agent_minimum' end
      if r ~= '' then
        redis.call('INCR', KEYS[3])
        redis.call('PEXPIRE', KEYS[3], ARGV[9])
      end
    end
    if r ~= '' then redis.call('SET', KEYS[2], r, 'PX', ARGV[3]) end
  end
  out[2] = r
end
local now = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
for i = 4, #KEYS do
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

// scripts are every script, loaded again after the server forgot them (a
// restart, SCRIPT FLUSH).
var scripts = [...]script{limitScript, commitScript}
