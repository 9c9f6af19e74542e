// Command wavecom-deploy-validate checks the deployment files of deploy/ without a cluster, a
// container engine or the network.
//
//	wavecom-deploy-validate k8s DIR         the kustomization in DIR and every manifest it lists
//	wavecom-deploy-validate compose FILE    a docker-compose file
//
// k8s reads DIR/kustomization.yaml, then every document of every resource it lists, and decodes
// each strictly, rejecting unknown and duplicate fields, into the Go type the API server would use
// for its apiVersion and kind: k8s.io/api for the built-in kinds and KEDA's own API package for
// ScaledObject and TriggerAuthentication. A kind it does not know is an error, not a pass. Then it
// checks what a schema cannot: that the objects refer to each other (selectors select pods, ports
// and probes name declared container ports, Secrets and ConfigMaps and their keys exist, scale
// targets exist, KEDA trigger metadata names the scaler's fields). kubeconform would validate
// against the published JSON schemas, which are downloaded from GitHub; the typed structs are the
// same definitions, compiled in.
//
// compose loads FILE with compose-go, the loader `docker compose` itself uses: the Compose
// Specification's JSON schema, then the project's own consistency (depends_on, network_mode and
// volumes name services and volumes that exist). It is what `docker compose config -q` checks.
//
// Each prints one line per object it accepted, or every problem found on stderr, and exits 1 on
// any.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "k8s" && os.Args[1] != "compose") {
		fmt.Fprintln(os.Stderr, "usage: wavecom-deploy-validate k8s DIR | compose FILE")
		os.Exit(2)
	}
	var problems []string
	if os.Args[1] == "k8s" {
		problems = checkKubernetes(os.Args[2])
	} else {
		problems = checkCompose(os.Args[2])
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "error:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}
