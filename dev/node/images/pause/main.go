// The pod sandbox's pause process: holds the pod's namespaces, reaps orphaned children and exits
// on SIGINT/SIGTERM. registry.k8s.io cannot be reached from the local platform, so the platform
// builds this one (dev/node/images.sh) and containerd's sandbox_image points at it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
