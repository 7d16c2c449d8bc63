//go:build tools

// The lab builds kube-apiserver, kube-controller-manager, kube-scheduler and kubeadm from this
// module (bulwark_lab.py binaries): go.mod pins k8s.io/kubernetes and maps each of its staging
// modules to the published v0.X.Y.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubeadm/app"
)
