// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3 at the version
// that k8s.io/kubernetes pins. The upstream main module (go.etcd.io/etcd/v3) carries
// replace directives, so `go install` of it fails; this calls the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
