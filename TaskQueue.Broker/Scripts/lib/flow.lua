-- Flow control's shared words (spliced in after lib/common.lua where a script says `--!include lib/flow.lua`).
-- A queue's flow settings live in FLOW, a hash in the queue's slot (absent fields: no limit):
--   paused             '1' while the queue is paused (claims lease nothing; submits are still stored)
--   concurrency        the most tasks of the queue leased at once, across every worker and broker
--   rate, burst        the queue's token bucket: tasks started per second, and the most tokens it holds
--   group_concurrency  the default most tasks of one group leased at once
--   group_rate, group_burst  the default token bucket of each group
-- FLOW_GROUPS, a hash: group -> its overrides, "<concurrency> <rate> <burst>", '-' where the default applies.
-- Storage/RedisKeys.cs names the same keys and fields.
local FLOW = base .. 'flow'
local FLOW_GROUPS = base .. 'flow:groups'

-- What a claim tells its dispatcher about work it held back (claim.lua's third reply value):
-- 0 nothing held back; > 0 ms until a rate limit may admit more (the dispatcher claims again then);
-- -1 held until a lease of the queue ends or the queue resumes (a publish on READY_CHANNEL wakes every broker).
local held_ms = 0
-- Work was held back by a rate limit that admits more in `ms` (the earliest such time wins).
local function hold_for(ms)
  ms = math.max(1, math.ceil(ms))
  if held_ms <= 0 or ms < held_ms then held_ms = ms end
end
-- Work was held back until a lease ends (a concurrency limit) or the queue resumes (pause).
local function hold_until_released()
  if held_ms == 0 then held_ms = -1 end
end
