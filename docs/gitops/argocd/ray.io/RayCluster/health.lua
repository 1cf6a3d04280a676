-- Argo CD health of a ray.io/v1 RayCluster (raykopf's or KubeRay's status).
local hs = {}

local function condition(status, kind)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
local generation = obj.metadata.generation
if status.observedGeneration ~= nil and generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to see generation " .. generation
  return hs
end
-- raykopf writes why a spec is refused into status.reason (KubeRay only posts an event).
if status.reason ~= nil and string.find(status.reason, "^Invalid") ~= nil then
  hs.status = "Degraded"
  hs.message = status.reason
  return hs
end
if status.state == "failed" then
  hs.status = "Degraded"
  hs.message = status.reason or "RayCluster failed"
  return hs
end
local failure = condition(status, "ReplicaFailure")
if failure ~= nil and failure.status == "True" then
  hs.status = "Degraded"
  hs.message = failure.message or failure.reason
  return hs
end
if status.state == "suspended" then
  hs.status = "Suspended"
  hs.message = "RayCluster suspended"
  return hs
end
local ready = status.readyWorkerReplicas or 0
local desired = status.desiredWorkerReplicas or 0
if status.state == "ready" then
  local autoscaling = obj.spec ~= nil and obj.spec.enableInTreeAutoscaling == true
  if ready < desired and not autoscaling then
    hs.status = "Progressing"
    hs.message = "Scaling: " .. ready .. " of " .. desired .. " workers ready"
    return hs
  end
  hs.status = "Healthy"
  hs.message = "Ready: " .. ready .. " of " .. desired .. " workers ready"
  return hs
end
hs.status = "Progressing"
local provisioned = condition(status, "RayClusterProvisioned")
if status.state == "suspending" then
  hs.message = "Suspending"
elseif provisioned ~= nil and provisioned.message ~= nil and provisioned.message ~= "" then
  hs.message = provisioned.message
else
  hs.message = "Starting: " .. ready .. " of " .. desired .. " workers ready"
end
return hs
