-- Simple moving-average crossover, as in backtesting.py's quick start:
-- buy when the fast SMA crosses above the slow one, sell when it crosses
-- below. Parameters can be changed with --param n1=5 --param n2=30.
local SmaCross = Strategy { n1 = 10, n2 = 20 }

function SmaCross:init()
  local close = self.data.Close
  self.sma1 = self:I(SMA, close, self.n1)
  self.sma2 = self:I(SMA, close, self.n2)
end

function SmaCross:next()
  if crossover(self.sma1, self.sma2) then
    self:buy()
  elseif crossover(self.sma2, self.sma1) then
    self:sell()
  end
end

return SmaCross
