//go:build tools

// The lab builds etcd (the server version kube-apiserver's client is built against) from this module.
package tools

import _ "go.etcd.io/etcd/server/v3/etcdmain"
