-- Random entries, for exercising a pipeline: on every bar, buys with
-- probability p and sells with probability p. Seeded, so a run over the
-- same bars makes the same calls: the draw depends only on the seed, the
-- symbol and the bar's time, never on how many bars came before.
local Random = Strategy { p = 0.1, seed = 7 }

local function draw(seed, symbol, t)
  -- A small integer hash of (seed, symbol, time) mapped to [0, 1).
  local h = seed * 1000003
  for i = 1, #symbol do
    h = (h * 31 + symbol:byte(i)) % 2147483647
  end
  h = (h * 1000003 + t // 1000) % 2147483647
  for _ = 1, 3 do
    h = (h * 48271) % 2147483647
  end
  return h / 2147483647
end

function Random:next()
  local r = draw(self.seed, self.symbol, self.data.index[-1])
  if r < self.p then
    self:buy()
  elseif r < 2 * self.p then
    self:sell()
  end
end

return Random
