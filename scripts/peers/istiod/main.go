// istiod-kubeless: Istio's real discovery server (pilot/pkg/bootstrap, the code pilot-discovery runs)
// started without a Kubernetes API server, for amesh-ts's integration tests.
//
// Why this wrapper exists: upstream pilot-discovery started with `--registries= --configDir=DIR`
// (no kube client) panics on the Istio versions the Go module proxy serves here (since the
// krt ServiceEntry controller, 2026-03: serviceentry.newController dereferences the nil
// multicluster controller). This program builds the same bootstrap.Server with the same flags but
// hands it Istio's own in-memory fake Kubernetes client (pkg/kube.NewFakeClient, the one Istio's
// bootstrap tests use), so every kube-only code path gets an empty cluster instead of nil.
// Config still comes from --configDir (ServiceEntry, WorkloadEntry, VirtualService, ...), live
// reloaded. Nothing else is changed, except that with --tokenReviewKeyFile the fake client answers
// TokenReviews (tokenreview.go), so that pods' JWTs can authenticate to the CA and the secure xDS port.
package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"istio.io/istio/pilot/pkg/bootstrap"
	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pkg/cmd"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/version"
)

func main() {
	logOpts := log.DefaultOptions()
	var registries []string
	var fakeNamespaces []string
	var tokenReviewKeyFile string
	args := bootstrap.NewPilotArgs(func(p *bootstrap.PilotArgs) {
		p.CtrlZOptions = nil // no ControlZ listener on :9876 (tests run several servers at once)
		p.InjectionOptions = bootstrap.InjectionOptions{InjectionDirectory: "./var/lib/istio/inject"}
	})

	discovery := &cobra.Command{
		Use:   "discovery",
		Short: "Start Istio's discovery service with an in-memory fake Kubernetes (file config only).",
		Args:  cobra.ExactArgs(0),
		PreRunE: func(*cobra.Command, []string) error {
			if err := log.Configure(logOpts); err != nil {
				return err
			}
			if len(registries) > 0 {
				return fmt.Errorf("--registries must be empty (got %q): only file config (--configDir) is supported", registries)
			}
			if args.RegistryOptions.FileDir == "" {
				return fmt.Errorf("--configDir is required")
			}
			return args.Complete()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			cmd.PrintFlags(c.Flags())
			objs := []runtime.Object{}
			for _, ns := range fakeNamespaces {
				objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
			}
			client := kube.NewFakeClient(objs...)
			if tokenReviewKeyFile != "" {
				key, err := loadPublicKey(tokenReviewKeyFile)
				if err != nil {
					return fmt.Errorf("--tokenReviewKeyFile: %v", err)
				}
				if err := installTokenReview(client, key); err != nil {
					return err
				}
			}
			stop := make(chan struct{})
			s, err := bootstrap.NewServer(args, func(s *bootstrap.Server) {
				// bootstrap.Server keeps its client in an unexported field; Istio's own tests set it from
				// inside the package. initKubeClient leaves a non-nil client alone.
				f := reflect.ValueOf(s).Elem().FieldByName("kubeClient")
				reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(client))
			})
			if err != nil {
				return fmt.Errorf("failed to create discovery service: %v", err)
			}
			if err := s.Start(stop); err != nil {
				return fmt.Errorf("failed to start discovery service: %v", err)
			}
			log.Infof("istiod-kubeless %s ready to serve (config dir %s)", version.Info.Version, args.RegistryOptions.FileDir)
			cmd.WaitSignal(stop)
			s.WaitUntilCompletion()
			return nil
		},
	}
	fl := discovery.PersistentFlags()
	fl.StringSliceVar(&registries, "registries", nil, "must be empty: no service registry besides ServiceEntry/WorkloadEntry from --configDir")
	fl.StringSliceVar(&fakeNamespaces, "fakeNamespaces", []string{constants.IstioSystemNamespace, "default"}, "Namespace objects to create in the fake Kubernetes")
	fl.StringVar(&tokenReviewKeyFile, "tokenReviewKeyFile", "", "Answer TokenReviews for service-account JWTs signed by this public key (PEM); empty: TokenReviews fail as on the bare fake client")
	fl.StringVar(&args.RegistryOptions.FileDir, "configDir", "", "Directory of Istio config YAML files (watched, recursive)")
	fl.StringVar(&args.MeshConfigFile, "meshConfig", "./etc/istio/config/mesh", "Mesh config file; default mesh if missing")
	fl.StringVar(&args.NetworksConfigFile, "networksConfig", "./etc/istio/config/meshNetworks", "Mesh networks file")
	fl.StringVarP(&args.Namespace, "namespace", "n", bootstrap.PodNamespace, "istiod's namespace (default ${POD_NAMESPACE})")
	fl.DurationVar(&args.ShutdownDuration, "shutdownDuration", 1*time.Second, "graceful shutdown duration")
	fl.StringVar(&args.RegistryOptions.KubeOptions.DomainSuffix, "domain", constants.DefaultClusterLocalDomain, "DNS domain suffix")
	fl.StringVar((*string)(&args.RegistryOptions.KubeOptions.ClusterID), "clusterID", features.ClusterName, "cluster ID")
	fl.StringVar(&args.ServerOptions.HTTPAddr, "httpAddr", ":8080", "HTTP address (/ready, /debug)")
	fl.StringVar(&args.ServerOptions.HTTPSAddr, "httpsAddr", ":15017", "webhook HTTPS address; empty disables")
	fl.StringVar(&args.ServerOptions.GRPCAddr, "grpcAddr", ":15010", "plaintext xDS gRPC address")
	fl.StringVar(&args.ServerOptions.SecureGRPCAddr, "secureGRPCAddr", ":15012", "TLS xDS gRPC address; empty disables")
	fl.StringVar(&args.ServerOptions.MonitoringAddr, "monitoringAddr", ":15014", "monitoring address (/metrics)")
	fl.BoolVar(&args.ServerOptions.EnableProfiling, "profile", false, "pprof on the HTTP port")
	fl.StringVar(&args.ServerOptions.TLSOptions.TLSMinVersion, "tls-min-version", bootstrap.TLSMinVersion1_2, "minimum TLS version")
	logOpts.AttachCobraFlags(discovery)
	args.KeepaliveOptions.AttachCobraFlags(discovery)

	root := &cobra.Command{Use: "istiod-kubeless", SilenceUsage: true}
	root.AddCommand(discovery, version.CobraCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
