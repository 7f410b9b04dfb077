-- RSI mean reversion: buy when RSI(14) falls below 30 (oversold) with no
-- position, close the long when RSI rises above 70 (overbought).
local RsiReversion = Strategy { n = 14, lower = 30, upper = 70 }

function RsiReversion:init()
  self.rsi = self:I(RSI, self.data.Close, self.n)
end

function RsiReversion:next()
  local rsi = self.rsi[-1]
  if self.position.size == 0 and rsi < self.lower then
    self:buy()
  elseif self.position.is_long and rsi > self.upper then
    self.position:close()
  end
end

return RsiReversion
