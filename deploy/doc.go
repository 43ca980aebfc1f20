// Package deploy holds how satupintu is shipped and run: the container image
// (Dockerfile), the compose demo (compose.yaml) and the Kubernetes manifests
// (kubernetes/). It has no code of its own; its tests check that those files
// parse, agree with each other (names, labels, ports, keys) and agree with
// the binary (the commands, environment variables and endpoints it has), so
// a change on either side that breaks a deployment fails `go test ./...`.
package deploy
