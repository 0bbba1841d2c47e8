// Package deploy holds no code: its directory holds the deployment files
// (deploy/README.md) and its tests check them against the code they
// deploy. The Kubernetes manifests in k8s/ are validated without a
// cluster: each object against a JSON Schema of its kind generated from
// k8s.io/api's Go types (testdata/kubernetes, made by tools/k8sschema, a
// module of its own so that go.mod does not carry k8s.io/api), the
// configurations in their ConfigMaps loaded by the real loaders and the
// servers built from them with the Secrets' variables, the probes,
// ports and security contexts checked against those configurations. The
// Grafana dashboard's queries are checked against the metrics the gateway
// and the console register.
package deploy
