"""The Lua scripts of the Redis store. Key names and fields are in ``docs/redis-keys.md``.

The apply script receives a batch already folded (``redis_fold``): one row per candle the
batch touches and per ring (pair x interval) as strings of newline-terminated records with
tab-separated fields, and the trades and orders as one argument per JSON text, grouped by pair
and by bucket of order ids (``redis_encode``, ``redis_kernel``). An order's other fields come
as 8 bytes of its bucket's ``meta``, read with ``string.byte``: Redis 7.0's Lua makes, and
hashes byte by byte, a string per argument, capture or ``string.sub``, and that per-row work
(``string.gmatch`` captures, a table per row, JSON cut out of a blob) was most of the first
script's time (``ringex.spec.redis_lua``, the oracle). Accounts' and pairs' messages come
ready-made; the script rebuilds an account's only when one of its rows wrote something else
than its JSON (a fill merged into a stored record, a row the seq guard refused).

It **checks before it writes**: if ``last_seq`` is not the seq the client expects, or a ring
already holds a trade seq at or above the batch's first trade for it, the script writes
nothing and answers ``stale`` with what it found, so that the client can re-read and re-fold.
Everything else in the batch is then applied in one atomic step.

Lua numbers are doubles, so every seq, id, tick and lot is handled as a decimal string and
compared with ``gt`` (length, then bytes: exact for non-negative integers without leading
zeros). Sums go through ``HINCRBY``, which is exact int64 arithmetic in Redis. Only bucket
starts (milliseconds, < 2**53) are Lua numbers.

The scripts build key names from the prefix they are given, so they need a single Redis
instance (not Redis Cluster).
"""

from __future__ import annotations

__all__ = ["APPLY_SCRIPT", "PUT_BOOK_SCRIPT", "SEQ_MARK"]

#: In an order's JSON, the fields from here to the end are the ones a fill changes.
SEQ_MARK = ',"seq":'

_COMMON = r"""
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
"""

# ARGV: prefix, candles_kept, trades_kept, order_ttl_s, expected_last_seq, batch_last_seq,
#       rings, candles, statuses (records end with \n, fields split by \t),
#       number of trade groups, of order buckets, of accounts; then the trade groups, the
#       buckets and the accounts:
#   rings:   name (pair:interval), pair, interval, ms, first_seq, last_seq, newest ('' = none),
#            lot_scale
#   candles: ring (1-based row of rings), start, o, h, l, c, open, high, low, close,
#            v, n, fs, ls, vu, volume
#   statuses: pair name, status name, of each PAIR_STATUS event           (seq order)
#   a trade group (pairs in order of first trade): pair, message (the JSON array of all its
#            trades), k (at most trades_kept), the JSON of its newest k trades (oldest first)
#   a bucket (ascending): bucket, meta (8 bytes per order: mode + 4 * closed, the order's
#            account (1-based, 3 bytes), where SEQ_MARK starts in its JSON (0-based, 3
#            bytes), how many digits its seq has; big-endian), the ids (ascending), the JSONs
#   the accounts' first rows (1-based over all buckets, 3 bytes each), then per account (in
#            order of first order id): channel, message (the JSON array of its rows' JSON:
#            what is published when every row writes its JSON)
# Returns last_seq after the batch, or {'stale', last_seq, ring, ring_seq, ...} having
# written nothing.
APPLY_SCRIPT = _COMMON + r"""
local P = ARGV[1]
local kept = tonumber(ARGV[2])
local trades_kept = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local expected, batch_last = ARGV[5], ARGV[6]
local SEQ_MARK = '%(seq_mark)s'

local function fmt(units, scale)
  if scale == 0 then return units end
  local sign = ''
  if string.sub(units, 1, 1) == '-' then sign = '-'; units = string.sub(units, 2) end
  if #units <= scale then units = string.rep('0', scale - #units + 1) .. units end
  return sign .. string.sub(units, 1, #units - scale) .. '.' .. string.sub(units, #units - scale + 1)
end

-- 1. check: nothing is written unless the batch follows what is stored
local applied = redis.call('GET', P .. 'last_seq') or '0'
local stale = {}
if applied ~= expected then stale[1] = 'stale'; stale[2] = applied end
local rings = {}
for name, pair, iv, ms, fs, ls, newest, scale in
    string.gmatch(ARGV[7], '([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\n]*)\n') do
  local key = P .. 'candles:' .. name
  local meta = redis.call('HMGET', key, 'seq', 'newest')
  if meta[1] and not gt(fs, meta[1]) then
    stale[1] = 'stale'; stale[2] = applied
    stale[#stale + 1] = #rings + 1
    stale[#stale + 1] = meta[1]
  end
  rings[#rings + 1] = {key = key, name = name, pair = pair, ms = tonumber(ms), seq = ls,
                       stored = tonumber(meta[2]), newest = tonumber(newest),
                       scale = tonumber(scale)}
end
if #stale > 0 then return stale end

-- 2. candles: merge each folded candle into the stored one (a ring's trades are all newer)
for r, start, o, h, l, c, open, high, low, close, v, n, fs, ls, vu, volume in
    string.gmatch(ARGV[8], '(%%d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\n]*)\n') do
  local ring = rings[tonumber(r)]
  local t = tonumber(start)
  if ring.stored == nil or t > ring.stored - kept * ring.ms then
    local ck = P .. 'candle:' .. ring.name .. ':' .. start
    local old = redis.call('HMGET', ck, 'o', 'h', 'l')
    if not old[1] then
      redis.call('HSET', ck, 't', start, 'o', o, 'h', h, 'l', l, 'c', c, 'v', v, 'n', n,
                 'fs', fs, 'ls', ls, 'vu', vu, 'open', open, 'high', high, 'low', low,
                 'close', close, 'volume', volume)
    else
      local set = {'c', c, 'close', close, 'ls', ls}
      if gt(h, old[2]) then set[#set + 1] = 'h'; set[#set + 1] = h
                            set[#set + 1] = 'high'; set[#set + 1] = high end
      if gt(old[3], l) then set[#set + 1] = 'l'; set[#set + 1] = l
                            set[#set + 1] = 'low'; set[#set + 1] = low end
      redis.call('HINCRBY', ck, 'n', n)
      redis.call('HINCRBY', ck, 'v', v)
      redis.call('HINCRBY', ck, 'vu', vu)
      set[#set + 1] = 'volume'
      set[#set + 1] = fmt(redis.call('HGET', ck, 'vu'), ring.scale)
      redis.call('HSET', ck, unpack(set))
    end
    redis.call('ZADD', ring.key .. ':index', t, start)
  end
end

-- 3. rings: seq, newest, and the window's trim
for _, ring in ipairs(rings) do
  local newest = ring.stored
  if ring.newest ~= nil and (newest == nil or ring.newest > newest) then newest = ring.newest end
  if newest ~= nil then
    local index = ring.key .. ':index'
    local cutoff = newest - kept * ring.ms
    local expired = redis.call('ZRANGEBYSCORE', index, '-inf', cutoff)
    if #expired > 0 then
      for _, s in ipairs(expired) do
        redis.call('UNLINK', P .. 'candle:' .. ring.name .. ':' .. s)
      end
      redis.call('ZREMRANGEBYSCORE', index, '-inf', cutoff)
    end
    redis.call('HSET', ring.key, 'seq', ring.seq, 'newest', string.format('%%d', newest))
  else
    redis.call('HSET', ring.key, 'seq', ring.seq)
  end
end

-- 4. recent trades, and one message per pair (the client sends it, and only the newest
-- trades_kept of the group: LTRIM would drop the others at once)
local a = 13
for _ = 1, tonumber(ARGV[10]) do
  local pair, message = ARGV[a], ARGV[a + 1]
  local first = a + 3
  local last = a + 2 + tonumber(ARGV[a + 2])
  a = last + 1
  local key = P .. 'trades:' .. pair
  for s = first, last, 1000 do
    redis.call('LPUSH', key, unpack(ARGV, s, math.min(s + 999, last)))
  end
  redis.call('LTRIM', key, 0, trades_kept - 1)
  redis.call('PUBLISH', P .. 'ch:trades:' .. pair, message)
end

-- 5. orders, in buckets of ids (one HMGET and one HSET per bucket): mode 1 replace, 2 fill
-- (only the fields from SEQ_MARK on), 3 create only; a record never goes back to an older
-- seq. Closed records get an expiry time in orders:closed; the writer deletes them once it
-- has passed. A row's meta is read with string.byte (no Lua string per value). differs[row]
-- is what a row wrote when that is not its JSON (false: nothing); its account is then dirty.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expires = string.format('%%d', now_ms + ttl * 1000)
local closed_key = P .. 'orders:closed'
local zadd, nz, zrem, nr = {}, 0, {}, 0
local differs, dirty, exact = {}, {}, true
local buckets_at, row = a, 0
local byte, sub, find = string.byte, string.sub, string.find
for _ = 1, tonumber(ARGV[11]) do
  local bucket, meta = ARGV[a], ARGV[a + 1]
  local n = #meta / 8
  local ids = a + 2
  local texts = ids + n
  a = texts + n
  local key = P .. 'orders:' .. bucket
  local olds
  if n <= 1000 then
    olds = redis.call('HMGET', key, unpack(ARGV, ids, texts - 1))
  else
    olds = {}
    for s = ids, texts - 1, 1000 do
      local part = redis.call('HMGET', key, unpack(ARGV, s, math.min(s + 999, texts - 1)))
      for _, v in ipairs(part) do olds[#olds + 1] = v end
    end
  end
  local set, ns = {}, 0
  for i = 1, n do
    row = row + 1
    local m = 8 * i - 7
    local flags = byte(meta, m)
    local mode = flags %% 4
    local json = ARGV[texts + i - 1]
    local old = olds[i]
    local value = false
    if not old then
      value = json
    elseif mode ~= 3 then
      local s1, s2, s3, digits = byte(meta, m + 4, m + 7)
      local at = s1 * 65536 + s2 * 256 + s3 + 1  -- SEQ_MARK in json
      local old_at = find(old, SEQ_MARK, 1, true)
      local seq = sub(json, at + #SEQ_MARK, at + #SEQ_MARK + digits - 1)
      if gt(seq, string.match(old, '^%%d+', old_at + #SEQ_MARK)) then
        if mode == 1 then
          value = json
        else
          value = sub(old, 1, old_at - 1) .. sub(json, at)
        end
      end
    end
    if value ~= json then
      differs[row] = value
      local g1, g2, g3 = byte(meta, m + 1, m + 3)
      dirty[g1 * 65536 + g2 * 256 + g3] = true
      exact = false
    end
    if value then
      local oid = ARGV[ids + i - 1]
      set[ns + 1] = oid
      set[ns + 2] = value
      ns = ns + 2
      if flags >= 4 then
        if ttl > 0 then
          zadd[nz + 1] = expires
          zadd[nz + 2] = bucket .. ':' .. oid
          nz = nz + 2
        end
      elseif old then
        nr = nr + 1
        zrem[nr] = bucket .. ':' .. oid  -- an id reused after its order closed
      end
    end
  end
  for s = 1, ns, 1000 do
    redis.call('HSET', key, unpack(set, s, math.min(s + 999, ns)))
  end
end
for s = 1, nz, 1000 do
  redis.call('ZADD', closed_key, unpack(zadd, s, math.min(s + 999, nz)))
end
for s = 1, nr, 1000 do
  redis.call('ZREM', closed_key, unpack(zrem, s, math.min(s + 999, nr)))
end
local expired = redis.call('ZRANGEBYSCORE', closed_key, '-inf', now_ms, 'LIMIT', 0, 4096)
if #expired > 0 then
  local gone, gone_order = {}, {}
  for _, member in ipairs(expired) do
    local bucket, oid = string.match(member, '^([^:]*):(.*)$')
    if not gone[bucket] then gone[bucket] = {}; gone_order[#gone_order + 1] = bucket end
    local list = gone[bucket]
    list[#list + 1] = oid
  end
  for _, bucket in ipairs(gone_order) do
    local list = gone[bucket]
    for s = 1, #list, 1000 do
      redis.call('HDEL', P .. 'orders:' .. bucket, unpack(list, s, math.min(s + 999, #list)))
    end
  end
  for s = 1, #expired, 1000 do
    redis.call('ZREM', closed_key, unpack(expired, s, math.min(s + 999, #expired)))
  end
end
-- one message per account with a changed record, accounts in order of their first changed
-- record. An account whose rows all wrote their JSON publishes the client's message; a dirty
-- one's is rebuilt from what its rows wrote (it may have none, or start later).
local firsts_at = a
local n_accounts = tonumber(ARGV[12])
if exact then
  for g = 1, n_accounts do
    local at = firsts_at - 1 + 2 * g
    redis.call('PUBLISH', ARGV[at], ARGV[at + 1])
  end
else
  local lists, firsts, rebuilt = {}, {}, {}
  a, row = buckets_at, 0
  for _ = 1, tonumber(ARGV[11]) do
    local meta = ARGV[a + 1]
    local n = #meta / 8
    local texts = a + 2 + n
    a = texts + n
    for i = 1, n do
      row = row + 1
      local g1, g2, g3 = byte(meta, 8 * i - 6, 8 * i - 4)
      local g = g1 * 65536 + g2 * 256 + g3
      if dirty[g] then
        local value = differs[row]
        if value == nil then value = ARGV[texts + i - 1] end
        if value then
          local list = lists[g]
          if not list then
            list = {}
            lists[g] = list
            firsts[g] = row
            rebuilt[#rebuilt + 1] = g
          end
          list[#list + 1] = value
        end
      end
    end
  end
  local first_rows = ARGV[firsts_at]
  local next_rebuilt = 1
  local function publish_rebuilt(before)
    while next_rebuilt <= #rebuilt and firsts[rebuilt[next_rebuilt]] < before do
      local g = rebuilt[next_rebuilt]
      redis.call('PUBLISH', ARGV[firsts_at - 1 + 2 * g], '[' .. table.concat(lists[g], ',') .. ']')
      next_rebuilt = next_rebuilt + 1
    end
  end
  for g = 1, n_accounts do
    if not dirty[g] then
      local r1, r2, r3 = byte(first_rows, 3 * g - 2, 3 * g)
      publish_rebuilt(r1 * 65536 + r2 * 256 + r3)
      local at = firsts_at - 1 + 2 * g
      redis.call('PUBLISH', ARGV[at], ARGV[at + 1])
    end
  end
  publish_rebuilt(math.huge)
end

for pair, status in string.gmatch(ARGV[9], '([^\t]*)\t([^\n]*)\n') do
  redis.call('HSET', P .. 'pair-status', pair, status)
end

redis.call('SET', P .. 'last_seq', batch_last)
return batch_last
""" % {"seq_mark": SEQ_MARK}

# KEYS: book hash. ARGV: seq, levels JSON, channel. Returns 1 if stored, 0 if not newer.
PUT_BOOK_SCRIPT = _COMMON + r"""
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and not gt(ARGV[1], cur) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'levels', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1
"""
