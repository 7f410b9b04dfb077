-- SMA crossover that reverses: on a golden cross, close whatever is open
-- and buy; on a death cross, close and sell. backtesting.py's SmaCross
-- in the form its README shows, without exclusive_orders.
local SmaCrossClose = Strategy { n1 = 10, n2 = 20 }

function SmaCrossClose:init()
  local close = self.data.Close
  self.sma1 = self:I(SMA, close, self.n1)
  self.sma2 = self:I(SMA, close, self.n2)
end

function SmaCrossClose:next()
  if crossover(self.sma1, self.sma2) then
    self.position:close()
    self:buy()
  elseif crossover(self.sma2, self.sma1) then
    self.position:close()
    self:sell()
  end
end

return SmaCrossClose
