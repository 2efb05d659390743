-- lvseg webhook for Orthanc: once per stable MR series, POST a signed JSON event to lvseg.
--
-- Signature (the scheme lvseg checks, see docs/PACS.md):
--   X-Lvseg-Timestamp: <unix seconds>
--   X-Lvseg-Signature: sha256=<hex HMAC-SHA256(secret, timestamp .. "." .. body)>
-- Orthanc's Lua has no HMAC, so SHA-256 and HMAC are implemented below in plain Lua (5.1 to 5.4: the bit32/bit
-- library when there is one, else small lookup tables). The secret and URL come from the "Lvseg" section of the
-- Orthanc configuration, which may take them from the environment ("${LVSEG_WEBHOOK_SECRET}").
--
-- When: OnStableSeries, i.e. once a series has had no new instance for "StableAge" seconds, and only for MR series
-- (lvseg segments cardiac MR; its own SEG and SR series, CT, reports… are never posted). One event per series, not
-- one per image: Orthanc runs Lua callbacks one at a time on its own event thread, off the C-STORE path (a scanner's
-- store never waits for lvseg), and lvseg answers 202 at once and works in the background; a slow or hung lvseg costs
-- that thread at most "HttpTimeout" seconds per series, not per image.
--
-- A failed POST (lvseg down, timeout) is only logged: lvseg also follows Orthanc's /changes feed (NewSeries,
-- StableSeries) from a persisted cursor, so nothing stored while it was unreachable is lost.

local floor = math.floor
local TWO32 = 4294967296

-- 32-bit bitwise operations on non-negative integers in [0, 2^32).
local function tableBitOps()
  local AND, XOR = {}, {}
  for a = 0, 15 do
    AND[a], XOR[a] = {}, {}
    for b = 0, 15 do
      local x, y, andv, xorv, p = a, b, 0, 0, 1
      for _ = 1, 4 do
        local bx, by = x % 2, y % 2
        if bx == 1 and by == 1 then andv = andv + p end
        if bx ~= by then xorv = xorv + p end
        x, y, p = (x - bx) / 2, (y - by) / 2, p * 2
      end
      AND[a][b], XOR[a][b] = andv, xorv
    end
  end
  local function nibbles(t, a, b)
    local r, p = 0, 1
    for _ = 1, 8 do
      local x, y = a % 16, b % 16
      r = r + t[x][y] * p
      a, b, p = (a - x) / 16, (b - y) / 16, p * 16
    end
    return r
  end
  return {
    band = function(a, b) return nibbles(AND, a, b) end,
    bxor = function(a, b) return nibbles(XOR, a, b) end,
    bnot = function(a) return TWO32 - 1 - a end,
    rshift = function(a, n) return floor(a / 2 ^ n) end,
    rrotate = function(a, n)
      local low = a % 2 ^ n
      return (a - low) / 2 ^ n + low * 2 ^ (32 - n)
    end,
  }
end

local function libraryBitOps()
  local lib = rawget(_G, 'bit32')
  if lib then
    return { band = lib.band, bxor = lib.bxor, bnot = lib.bnot, rshift = lib.rshift, rrotate = lib.rrotate }
  end
  lib = rawget(_G, 'bit') -- LuaJIT: signed results, brought back to [0, 2^32)
  if lib then
    local function u(x) return x % TWO32 end
    return {
      band = function(a, b) return u(lib.band(a, b)) end,
      bxor = function(a, b) return u(lib.bxor(a, b)) end,
      bnot = function(a) return u(lib.bnot(a)) end,
      rshift = function(a, n) return u(lib.rshift(a, n)) end,
      rrotate = function(a, n) return u(lib.ror(a, n)) end,
    }
  end
  return nil
end

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

--- Returns { sha256 = f(bytes) -> 32 raw bytes, hmacSha256Hex = f(key, message) -> 64 hex chars }.
-- `forceTables` skips bit32/bit (the self-test uses it to check both paths give the same digests).
function LvsegNewCrypto(forceTables)
  local ops = (not forceTables and libraryBitOps()) or tableBitOps()
  local band, bxor, bnot, rshift, rrotate = ops.band, ops.bxor, ops.bnot, ops.rshift, ops.rrotate

  local function be32(s, i)
    local a, b, c, d = s:byte(i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
  end

  local function sha256(msg)
    local h0, h1, h2, h3 = 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a
    local h4, h5, h6, h7 = 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    local bitLength = #msg * 8
    local lengthBytes = {}
    for i = 8, 1, -1 do
      lengthBytes[i] = string.char(bitLength % 256)
      bitLength = floor(bitLength / 256)
    end
    msg = msg .. '\128' .. string.rep('\0', (64 - (#msg + 9) % 64) % 64) .. table.concat(lengthBytes)
    local w = {}
    for chunk = 1, #msg, 64 do
      for j = 1, 16 do w[j] = be32(msg, chunk + (j - 1) * 4) end
      for j = 17, 64 do
        local x, y = w[j - 15], w[j - 2]
        local s0 = bxor(bxor(rrotate(x, 7), rrotate(x, 18)), rshift(x, 3))
        local s1 = bxor(bxor(rrotate(y, 17), rrotate(y, 19)), rshift(y, 10))
        w[j] = (w[j - 16] + s0 + w[j - 7] + s1) % TWO32
      end
      local a, b, c, d, e, f, g, h = h0, h1, h2, h3, h4, h5, h6, h7
      for j = 1, 64 do
        local S1 = bxor(bxor(rrotate(e, 6), rrotate(e, 11)), rrotate(e, 25))
        local ch = bxor(band(e, f), band(bnot(e), g))
        local t1 = (h + S1 + ch + K[j] + w[j]) % TWO32
        local S0 = bxor(bxor(rrotate(a, 2), rrotate(a, 13)), rrotate(a, 22))
        local maj = bxor(bxor(band(a, b), band(a, c)), band(b, c))
        local t2 = (S0 + maj) % TWO32
        h, g, f, e, d, c, b, a = g, f, e, (d + t1) % TWO32, c, b, a, (t1 + t2) % TWO32
      end
      h0, h1, h2, h3 = (h0 + a) % TWO32, (h1 + b) % TWO32, (h2 + c) % TWO32, (h3 + d) % TWO32
      h4, h5, h6, h7 = (h4 + e) % TWO32, (h5 + f) % TWO32, (h6 + g) % TWO32, (h7 + h) % TWO32
    end
    local out = {}
    for _, v in ipairs({ h0, h1, h2, h3, h4, h5, h6, h7 }) do
      out[#out + 1] = string.char(floor(v / 16777216) % 256, floor(v / 65536) % 256, floor(v / 256) % 256, v % 256)
    end
    return table.concat(out)
  end

  local function hex(bytes)
    return (bytes:gsub('.', function(c) return string.format('%02x', c:byte()) end))
  end

  local function xorEach(bytes, pad)
    return (bytes:gsub('.', function(c) return string.char(bxor(c:byte(), pad)) end))
  end

  local function hmacSha256Hex(key, message)
    if #key > 64 then key = sha256(key) end
    key = key .. string.rep('\0', 64 - #key)
    return hex(sha256(xorEach(key, 0x5c) .. sha256(xorEach(key, 0x36) .. message)))
  end

  return { sha256 = sha256, sha256Hex = function(m) return hex(sha256(m)) end, hmacSha256Hex = hmacSha256Hex }
end

local crypto = LvsegNewCrypto(false)

local function lvsegSettings()
  local config = GetOrthancConfiguration()
  local section = config['Lvseg'] or {}
  return section['WebhookUrl'], section['WebhookSecret']
end

--- The signed HTTP headers for `body` at unix time `timestamp` (exposed for the self-test).
function LvsegSignedHeaders(secret, timestamp, body)
  local ts = string.format('%d', timestamp)
  return {
    ['Content-Type'] = 'application/json',
    ['X-Lvseg-Timestamp'] = ts,
    ['X-Lvseg-Signature'] = 'sha256=' .. crypto.hmacSha256Hex(secret, ts .. '.' .. body),
  }
end

--- The study and series UIDs and the modality of an Orthanc series (its REST resource and its parent study's).
local function seriesIdentifiers(seriesId)
  local series = ParseJson(RestApiGet('/series/' .. seriesId))
  if series == nil or series['MainDicomTags'] == nil then return nil end
  local study = ParseJson(RestApiGet('/studies/' .. series['ParentStudy']))
  if study == nil or study['MainDicomTags'] == nil then return nil end
  return {
    studyInstanceUid = study['MainDicomTags']['StudyInstanceUID'],
    seriesInstanceUid = series['MainDicomTags']['SeriesInstanceUID'],
    modality = series['MainDicomTags']['Modality'],
  }
end

function OnStableSeries(seriesId, tags, metadata)
  -- (A series deleted in the meantime makes RestApiGet fail: nothing to post.)
  local found, ids = pcall(seriesIdentifiers, seriesId)
  -- Cardiac MR only: lvseg's own results (SEG, SR) and every other modality stay silent.
  if not found or ids == nil or ids.modality ~= 'MR' then return end
  local url, secret = lvsegSettings()
  if url == nil or url == '' or secret == nil or secret == '' then
    print('lvseg webhook: Lvseg.WebhookUrl or Lvseg.WebhookSecret is not configured; not notifying')
    return
  end
  local now = os.time()
  -- Only identifiers (never patient name, id, birth date or accession number) leave Orthanc in the event.
  local event = {
    id = 'orthanc-series-' .. seriesId .. '-' .. string.format('%d', now),
    kind = 'series.stable',
    resource = {
      type = 'series',
      pacsId = seriesId,
      studyInstanceUid = ids.studyInstanceUid,
      seriesInstanceUid = ids.seriesInstanceUid,
      modality = ids.modality,
    },
  }
  local body = DumpJson(event, true)
  -- Orthanc's Lua has no per-call timeout: the global "HttpTimeout" of orthanc.json bounds this call.
  local answer = HttpPost(url, body, LvsegSignedHeaders(secret, now, body))
  if answer == nil then
    print('lvseg webhook: POST failed for series ' .. seriesId .. ' (lvseg will find it in /changes)')
  end
end
