-- Bollinger breakout: go long when the close breaks above the upper band
-- (20 bars, 2 standard deviations), short below the lower band; exit
-- when the close comes back to the middle band.
local BollingerBreakout = Strategy { n = 20, k = 2 }

function BollingerBreakout:init()
  self.bb = self:I(BBANDS, self.data.Close, self.n, self.k)
end

function BollingerBreakout:next()
  local close = self.data.Close[-1]
  local upper, middle, lower = self.bb.upper[-1], self.bb.middle[-1],
                               self.bb.lower[-1]
  local pos = self.position
  if pos.size == 0 then
    if close > upper then
      self:buy()
    elseif close < lower then
      self:sell()
    end
  elseif (pos.is_long and close < middle) or
         (pos.is_short and close > middle) then
    pos:close()
  end
end

return BollingerBreakout
