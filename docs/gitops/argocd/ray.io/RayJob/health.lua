-- Argo CD health of a ray.io/v1 RayJob (raykopf's or KubeRay's status).
local hs = {}
local status = obj.status
if status == nil or status.jobDeploymentStatus == nil or status.jobDeploymentStatus == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
local state = status.jobDeploymentStatus
local function said(default)
  if status.message ~= nil and status.message ~= "" then
    return state .. ": " .. status.message
  end
  return default
end
if state == "Complete" then
  if status.jobStatus == nil or status.jobStatus == "SUCCEEDED" then
    hs.status = "Healthy"
    hs.message = said("Complete: the Ray job succeeded")
  else
    hs.status = "Degraded"
    hs.message = "Complete, but the Ray job is " .. status.jobStatus
  end
elseif state == "Failed" or state == "ValidationFailed" then
  hs.status = "Degraded"
  hs.message = said(state .. ((status.reason and (" (" .. status.reason .. ")")) or ""))
elseif state == "Suspended" then
  hs.status = "Suspended"
  hs.message = "RayJob suspended"
elseif state == "Waiting" then
  hs.status = "Suspended"
  hs.message = "Waiting for spec.jobId (InteractiveMode)"
else -- Initializing, Running, Retrying, Suspending, New
  hs.status = "Progressing"
  hs.message = said(state .. ((status.jobStatus and (", Ray job " .. status.jobStatus)) or ""))
end
return hs
