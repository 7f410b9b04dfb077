-- Stop-loss and take-profit: on a golden cross of SMA(10) over SMA(30),
-- buy half the available margin with a stop-loss 4% below and a
-- take-profit 8% above the close; the broker closes the trade when
-- either is hit. One position at a time.
local SmaSlTp = Strategy { n1 = 10, n2 = 30, sl_pct = 4, tp_pct = 8 }

function SmaSlTp:init()
  self.fast = self:I(SMA, self.data.Close, self.n1)
  self.slow = self:I(SMA, self.data.Close, self.n2)
end

function SmaSlTp:next()
  if self.position.size == 0 and crossover(self.fast, self.slow) then
    local close = self.data.Close[-1]
    self:buy { size = 0.5,
               sl = close * (1 - self.sl_pct / 100),
               tp = close * (1 + self.tp_pct / 100),
               tag = "golden cross" }
  end
end

return SmaSlTp
