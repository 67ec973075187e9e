"""The Lua scripts of the Redis store. Key names and fields are in ``docs/redis-keys.md``.

Lua numbers are doubles, so every seq, id, tick and lot is handled as a decimal string and
compared with :func:`gt` (length, then bytes: exact for non-negative integers without leading
zeros). Sums go through ``HINCRBY``, which is exact int64 arithmetic in Redis; only a batch's
own increment is summed in Lua (exact while it stays under 2**53).

The scripts build key names from the prefix they are given, so they need a single Redis
instance (not Redis Cluster).
"""

from __future__ import annotations

__all__ = ["APPLY_SCRIPT", "PUT_BOOK_SCRIPT", "ORDER_FIELDS", "ORDER_FILL_FIELDS"]

#: Order hash fields, in the order the apply script receives their values. The first
#: ``ORDER_FILL_FIELDS`` are the ones a fill changes.
ORDER_FIELDS = (
    "seq", "ts", "status", "reason", "quantity", "filled", "leaves",
    "quantity_lots", "filled_lots", "leaves_lots",
    "order_id", "pair", "pair_id", "account", "client_order_id", "side", "type", "tif",
    "price", "price_ticks",
)
ORDER_FILL_FIELDS = 10

_COMMON = r"""
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
"""

# ARGV: prefix, candles_kept, trades_kept, order_ttl_s, batch_last_seq,
#       n_intervals, (name, ms) * n_intervals,
#       trades: one string, tab-separated, 9 fields a trade:
#           pair, seq, ts_ms, price_ticks, qty_lots, price_dec, qty_units, scale, json
#       orders: one string, tab-separated, 5 + #ORDER_FIELDS fields an update:
#           mode, order_id, account, closed, message, <ORDER_FIELDS values>
# (Two big strings, not thousands of arguments: packing each argument costs the client ~1 us.)
# Returns the store's last_seq after the batch.
APPLY_SCRIPT = _COMMON + r"""
local P = ARGV[1]
local kept = tonumber(ARGV[2])
local trades_kept = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local batch_last = ARGV[5]
local FIELDS = {%(fields)s}
local NFILL = %(nfill)d

local function fmt(units, scale)
  if scale == 0 then return units end
  if #units <= scale then units = string.rep('0', scale - #units + 1) .. units end
  return string.sub(units, 1, #units - scale) .. '.' .. string.sub(units, #units - scale + 1)
end

local function split(text)
  local out = {}
  if text == '' then return out end
  local start = 1
  while true do
    local tab = string.find(text, '\t', start, true)
    if not tab then
      out[#out + 1] = string.sub(text, start)
      return out
    end
    out[#out + 1] = string.sub(text, start, tab - 1)
    start = tab + 1
  end
end

local function push_all(cmd, key, list)
  for s = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, s, math.min(s + 999, #list)))
  end
end

local applied = redis.call('GET', P .. 'last_seq') or '0'
local i = 6
local n_iv = tonumber(ARGV[i]); i = i + 1
local ivs = {}
for j = 1, n_iv do ivs[j] = {ARGV[i], tonumber(ARGV[i + 1])}; i = i + 2 end

-- candles: per pair+interval ring state, candles cached for the batch, written once
local rings, ring_order = {}, {}
local feed, feed_order = {}, {}
local T = split(ARGV[i])
local ORDERS = ARGV[i + 1]
i = 1
for t = 1, #T / 9 do
  local pair, seq, ts = T[i], T[i + 1], tonumber(T[i + 2])
  local price, qty, pdec = T[i + 3], tonumber(T[i + 4]), T[i + 5]
  local units, scale, json = tonumber(T[i + 6]), tonumber(T[i + 7]), T[i + 8]
  i = i + 9
  for j = 1, n_iv do
    local name, ms = ivs[j][1], ivs[j][2]
    local key = P .. 'candles:' .. pair .. ':' .. name
    local ring = rings[key]
    if not ring then
      local meta = redis.call('HMGET', key, 'seq', 'newest')
      ring = {key = key, pair = pair, name = name, ms = ms, scale = scale,
              seq = meta[1] or '0', newest = tonumber(meta[2]), candles = {}, order = {},
              dirty = false}
      rings[key] = ring
      ring_order[#ring_order + 1] = ring
    end
    if gt(seq, ring.seq) then
      ring.seq = seq
      ring.dirty = true
      local start = ts - ts %% ms
      if ring.newest == nil or start > ring.newest - kept * ms then
        if ring.newest == nil or start > ring.newest then ring.newest = start end
        local c = ring.candles[start]
        if not c then
          local t_text = string.format('%%d', start)
          local ck = P .. 'candle:' .. pair .. ':' .. name .. ':' .. t_text
          local old = redis.call('HMGET', ck, 'o', 'h', 'l')
          c = {key = ck, start = start, t = t_text, dn = 0, dv = 0, du = 0, set = {}}
          if old[1] then c.o, c.h, c.l = old[1], old[2], old[3] end
          ring.candles[start] = c
          ring.order[#ring.order + 1] = c
        end
        local set = c.set
        if not c.o then
          c.o, c.h, c.l = price, price, price
          set.t, set.o, set.open, set.fs = c.t, price, pdec, seq
          set.h, set.high, set.l, set.low = price, pdec, price, pdec
        else
          if gt(price, c.h) then c.h = price; set.h = price; set.high = pdec end
          if gt(c.l, price) then c.l = price; set.l = price; set.low = pdec end
        end
        set.c, set.close, set.ls = price, pdec, seq
        c.dn = c.dn + 1
        c.dv = c.dv + qty
        c.du = c.du + units
      end
    end
  end
  if gt(seq, applied) then
    local list = feed[pair]
    if not list then
      list = {}
      feed[pair] = list
      feed_order[#feed_order + 1] = pair
    end
    list[#list + 1] = json
  end
end

for _, ring in ipairs(ring_order) do
  if ring.dirty then
    local index = ring.key .. ':index'
    for _, c in ipairs(ring.order) do
      local args = {}
      for f, v in pairs(c.set) do args[#args + 1] = f; args[#args + 1] = v end
      redis.call('HSET', c.key, unpack(args))
      redis.call('HINCRBY', c.key, 'n', c.dn)
      redis.call('HINCRBY', c.key, 'v', string.format('%%d', c.dv))
      redis.call('HINCRBY', c.key, 'vu', string.format('%%d', c.du))
      redis.call('HSET', c.key, 'volume', fmt(redis.call('HGET', c.key, 'vu'), ring.scale))
      redis.call('ZADD', index, c.start, c.t)
    end
    local args = {'seq', ring.seq}
    if ring.newest ~= nil then
      args[3] = 'newest'
      args[4] = string.format('%%d', ring.newest)
      local cutoff = ring.newest - kept * ring.ms
      local expired = redis.call('ZRANGEBYSCORE', index, '-inf', cutoff)
      if #expired > 0 then
        for _, s in ipairs(expired) do
          redis.call('UNLINK', P .. 'candle:' .. ring.pair .. ':' .. ring.name .. ':' .. s)
        end
        redis.call('ZREMRANGEBYSCORE', index, '-inf', cutoff)
      end
    end
    redis.call('HSET', ring.key, unpack(args))
  end
end

for _, pair in ipairs(feed_order) do
  local list = feed[pair]
  local key = P .. 'trades:' .. pair
  push_all('LPUSH', key, list)
  redis.call('LTRIM', key, 0, trades_kept - 1)
  redis.call('PUBLISH', P .. 'ch:trades:' .. pair, '[' .. table.concat(list, ',') .. ']')
end

-- orders: mode 1 replace, 2 fill, 3 create only; never older than what is stored
local U = split(ORDERS)
i = 1
for u = 1, #U / (5 + #FIELDS) do
  local mode, oid, account, closed, msg = U[i], U[i + 1], U[i + 2], U[i + 3], U[i + 4]
  local base = i + 5
  i = base + #FIELDS
  local seq = U[base]
  if gt(seq, applied) then
    local key = P .. 'order:' .. oid
    local cur = redis.call('HGET', key, 'seq')
    local n = 0
    if not cur then
      n = #FIELDS
    elseif gt(seq, cur) then
      if mode == '1' then n = #FIELDS elseif mode == '2' then n = NFILL end
    end
    if n > 0 then
      local args = {}
      for f = 1, n do
        args[#args + 1] = FIELDS[f]
        args[#args + 1] = U[base + f - 1]
      end
      redis.call('HSET', key, unpack(args))
      if closed == '1' then
        if ttl > 0 then redis.call('EXPIRE', key, ttl) end
      elseif cur then
        redis.call('PERSIST', key)  -- an id reused after its order closed
      end
      redis.call('PUBLISH', P .. 'ch:orders:' .. account, msg)
    end
  end
end

if gt(batch_last, applied) then
  redis.call('SET', P .. 'last_seq', batch_last)
  return batch_last
end
return applied
""" % {"fields": ", ".join(f"'{name}'" for name in ORDER_FIELDS), "nfill": ORDER_FILL_FIELDS}

# KEYS: book hash. ARGV: seq, levels JSON, channel. Returns 1 if stored, 0 if not newer.
PUT_BOOK_SCRIPT = _COMMON + r"""
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and not gt(ARGV[1], cur) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'levels', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1
"""
