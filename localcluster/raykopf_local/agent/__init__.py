"""The node agent: stands in for kubelet and a container runtime, running each pod's containers as
processes in the pod's own network and mount namespaces, with the Ray runtime environment on PATH."""
