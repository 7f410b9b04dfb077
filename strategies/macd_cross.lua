-- MACD signal-line crossover: when the MACD line crosses above its
-- signal line, close any short and buy; when it crosses below, close any
-- long and sell.
local MacdCross = Strategy { fast = 12, slow = 26, signal = 9 }

function MacdCross:init()
  self.macd = self:I(MACD, self.data.Close, self.fast, self.slow,
                     self.signal)
end

function MacdCross:next()
  if crossover(self.macd.macd, self.macd.signal) then
    self.position:close()
    self:buy()
  elseif crossover(self.macd.signal, self.macd.macd) then
    self.position:close()
    self:sell()
  end
end

return MacdCross
