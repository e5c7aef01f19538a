-- Argo CD health check for nacosguard.io/NacosAuthCheck (resource.customizations.health.nacosguard.io_NacosAuthCheck).
-- Ready=True -> Healthy, Ready=False -> Degraded, no verdict yet (or one for an older spec) -> Progressing.
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for nacos-auth-guard to check this NacosAuthCheck"
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.message = "Waiting for nacos-auth-guard to check the new spec"
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    if condition.status == "True" then
      hs.status = "Healthy"
    elseif condition.status == "False" then
      hs.status = "Degraded"
    end
    if condition.message ~= nil then
      hs.message = condition.reason .. ": " .. condition.message
    end
    return hs
  end
end
return hs
