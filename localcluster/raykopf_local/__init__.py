"""The local cluster: a real kube-apiserver, controller-manager, scheduler and etcd on this machine,
plus the node agent that runs pods as processes with the Ray runtime environment (`raykopf local`)."""
