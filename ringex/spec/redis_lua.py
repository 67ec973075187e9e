"""The first apply script of the Redis store: the oracle of :mod:`ringex.marketdata.redis_lua`.

Never used by the store. It takes the rows of :mod:`ringex.spec.redis_encode`
(six tab-separated strings, cut apart with ``string.gmatch``); the tests run both protocols on
the same batches and require identical keys, values and pub/sub messages. ``PUT_BOOK_SCRIPT``
did not change and is not repeated here.

Lua numbers are doubles, so every seq, id, tick and lot is handled as a decimal string and
compared with ``gt`` (length, then bytes: exact for non-negative integers without leading
zeros).
"""

from __future__ import annotations

__all__ = ["APPLY_SCRIPT", "SEQ_MARK"]

#: In an order's JSON, the fields from here to the end are the ones a fill changes.
SEQ_MARK = ',"seq":'

_COMMON = r"""
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
"""

# ARGV: prefix, candles_kept, trades_kept, order_ttl_s, expected_last_seq, batch_last_seq,
#       rings, candles, trades, trade_json, orders, order_json, statuses (records end with \n, fields
#       split by \t; a JSON text is cut from its *_json blob by its length, so that Lua never
#       pattern-matches it character by character):
#   rings:   name (pair:interval), pair, interval, ms, first_seq, last_seq, newest ('' = none),
#            lot_scale
#   candles: ring (1-based row of rings), start, o, h, l, c, open, high, low, close,
#            v, n, fs, ls, vu, volume
#   trades:  pair, length of its JSON                                       (seq order)
#   orders:  mode, bucket, order_id, account, closed, seq, length of its JSON (by order id)
#   statuses: pair name, status name, of each PAIR_STATUS event           (seq order)
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

-- 4. recent trades, and one message per pair
local feed, feed_order = {}, {}
local blob, at = ARGV[10], 1
for pair, len in string.gmatch(ARGV[9], '([^\t]*)\t(%%d+)\n') do
  local list = feed[pair]
  if not list then
    list = {}
    feed[pair] = list
    feed_order[#feed_order + 1] = pair
  end
  local stop = at + tonumber(len)
  list[#list + 1] = string.sub(blob, at, stop - 1)
  at = stop
end
for _, pair in ipairs(feed_order) do
  local list = feed[pair]
  local key = P .. 'trades:' .. pair
  for s = 1, #list, 1000 do
    redis.call('LPUSH', key, unpack(list, s, math.min(s + 999, #list)))
  end
  redis.call('LTRIM', key, 0, trades_kept - 1)
  redis.call('PUBLISH', P .. 'ch:trades:' .. pair, '[' .. table.concat(list, ',') .. ']')
end

-- 5. orders, in buckets of ids (one HMGET and one HSET per bucket): 1 replace, 2 fill (only the
-- fields from SEQ_MARK on), 3 create only; a record never goes back to an older seq. Closed
-- records get an expiry time in orders:closed; the writer deletes them once it has passed.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local closed_key = P .. 'orders:closed'
local buckets, bucket_order = {}, {}
blob, at = ARGV[12], 1
for mode, bucket, oid, account, closed, seq, len in
    string.gmatch(ARGV[11], '(%%d)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(%%d)\t([^\t]*)\t(%%d+)\n') do
  local stop = at + tonumber(len)
  local json = string.sub(blob, at, stop - 1)
  at = stop
  local b = buckets[bucket]
  if not b then
    b = {ids = {}, rows = {}}
    buckets[bucket] = b
    bucket_order[#bucket_order + 1] = bucket
  end
  b.ids[#b.ids + 1] = oid
  b.rows[#b.rows + 1] = {mode, account, closed, seq, json}
end
local zadd, zrem = {}, {}
local changed, accounts = {}, {}
for _, bucket in ipairs(bucket_order) do
  local b = buckets[bucket]
  local key = P .. 'orders:' .. bucket
  local olds = {}
  for s = 1, #b.ids, 1000 do
    local part = redis.call('HMGET', key, unpack(b.ids, s, math.min(s + 999, #b.ids)))
    for _, v in ipairs(part) do olds[#olds + 1] = v end
  end
  local set = {}
  for i, oid in ipairs(b.ids) do
    local mode, account, closed, seq, json = unpack(b.rows[i])
    local old = olds[i]
    local value
    if not old then
      value = json
    elseif mode ~= '3' then
      local at = string.find(old, SEQ_MARK, 1, true)
      if gt(seq, string.match(old, '^%%d+', at + #SEQ_MARK)) then
        if mode == '1' then
          value = json
        else
          value = string.sub(old, 1, at - 1) .. string.sub(json, (string.find(json, SEQ_MARK, 1, true)))
        end
      end
    end
    if value then
      set[#set + 1] = oid
      set[#set + 1] = value
      if closed == '1' then
        if ttl > 0 then
          zadd[#zadd + 1] = now_ms + ttl * 1000
          zadd[#zadd + 1] = bucket .. ':' .. oid
        end
      elseif old then
        zrem[#zrem + 1] = bucket .. ':' .. oid  -- an id reused after its order closed
      end
      local list = changed[account]
      if not list then
        list = {}
        changed[account] = list
        accounts[#accounts + 1] = account
      end
      list[#list + 1] = value
    end
  end
  for s = 1, #set, 1000 do
    redis.call('HSET', key, unpack(set, s, math.min(s + 999, #set)))
  end
end
for s = 1, #zadd, 1000 do
  redis.call('ZADD', closed_key, unpack(zadd, s, math.min(s + 999, #zadd)))
end
for s = 1, #zrem, 1000 do
  redis.call('ZREM', closed_key, unpack(zrem, s, math.min(s + 999, #zrem)))
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
for _, account in ipairs(accounts) do
  redis.call('PUBLISH', P .. 'ch:orders:' .. account, '[' .. table.concat(changed[account], ',') .. ']')
end

for pair, status in string.gmatch(ARGV[13], '([^\t]*)\t([^\n]*)\n') do
  redis.call('HSET', P .. 'pair-status', pair, status)
end

redis.call('SET', P .. 'last_seq', batch_last)
return batch_last
""" % {"seq_mark": SEQ_MARK}
