-- Argo CD health of a ray.io/v1 RayService (raykopf's or KubeRay's status).
local hs = {}

local function condition(status, kind)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function unhealthy_application(service)
  if service == nil then
    return nil
  end
  for name, app in pairs(service.applicationStatuses or {}) do
    if app.status == "DEPLOY_FAILED" or app.status == "UNHEALTHY" then
      return name .. " is " .. app.status .. ((app.message and app.message ~= "" and (": " .. app.message)) or "")
    end
  end
  return nil
end

local status = obj.status
local ready = status and condition(status, "Ready")
if status == nil or ready == nil then
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
if ready.reason == "ValidationFailed" or ready.reason == "InitializingTimeout" then
  hs.status = "Degraded"
  hs.message = ready.reason .. ": " .. (ready.message or "")
  return hs
end
if ready.reason == "SuspendComplete" then
  hs.status = "Suspended"
  hs.message = "RayService suspended"
  return hs
end
-- A Serve application that failed to deploy or is unhealthy, on the serving or the upcoming cluster.
local failed = unhealthy_application(status.activeServiceStatus) or unhealthy_application(status.pendingServiceStatus)
if failed ~= nil then
  hs.status = "Degraded"
  hs.message = failed
  return hs
end
local upgrade = condition(status, "UpgradeInProgress")
if upgrade ~= nil and upgrade.status == "True" then
  hs.status = "Progressing"
  local pending = status.pendingServiceStatus and status.pendingServiceStatus.rayClusterName
  hs.message = "Upgrading to RayCluster " .. (pending or "(pending)")
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Ready, serve endpoints: " .. (status.numServeEndpoints or 0)
  return hs
end
hs.status = "Progressing"
hs.message = (ready.reason or "Initializing") .. ((ready.message and ready.message ~= "" and (": " .. ready.message)) or "")
return hs
