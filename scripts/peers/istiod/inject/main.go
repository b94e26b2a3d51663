// istio-inject: renders Istio's sidecar injection for the pods on stdin exactly as istiod's
// injector would, with Istio's own code (pkg/kube/inject: Go templates, strategic merge, post
// processing), from an istio-sidecar-injector config file (`templates`, `defaultTemplates`) and a
// values file. amesh-ts's tests use it to check deploy/istio/amesh-injection-template.yaml without
// running istiod. Usage: istio-inject -config injector.yaml [-values values.yaml] < pods.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/kube/inject"
)

func main() {
	configFile := flag.String("config", "", "istio-sidecar-injector config (the ConfigMap's `config` key)")
	valuesFile := flag.String("values", "", "injector values (the ConfigMap's `values` key), YAML or JSON")
	flag.Parse()
	raw, err := os.ReadFile(*configFile)
	if err != nil {
		fail(err)
	}
	config, err := inject.UnmarshalConfig(raw)
	if err != nil {
		fail(err)
	}
	values := "{}"
	if *valuesFile != "" {
		b, err := os.ReadFile(*valuesFile)
		if err != nil {
			fail(err)
		}
		values = string(b)
	}
	valuesConfig, err := inject.NewValuesConfig(values)
	if err != nil {
		fail(err)
	}
	warn := func(w string) { fmt.Fprint(os.Stderr, "warning: ", w) }
	if err := inject.IntoResourceFile(nil, config.Templates, valuesConfig, "", mesh.DefaultMeshConfig(), os.Stdin, os.Stdout, warn); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "istio-inject:", err)
	os.Exit(1)
}
