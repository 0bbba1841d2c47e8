// Command k8sschema writes the JSON Schemas (2020-12) that deploy's test
// validates the Kubernetes manifests in deploy/k8s against: one file per
// kind, derived by reflection from the Go types of k8s.io/api, the types
// the API server decodes these objects into.
//
// It is a module of its own so that the gateway's go.mod does not carry
// k8s.io/api. Run it from this directory after changing the kinds or the
// k8s.io/api version:
//
//	go run . ../../testdata/kubernetes
//
// The schemas are strict where the API server is strict and a little
// stricter where a manifest should be: every object rejects fields its type
// does not have (kubectl apply --validate=strict does too); a field whose
// json tag has no omitempty is required (the Kubernetes API conventions:
// required fields have no omitempty); null is not accepted anywhere (a
// manifest leaves an optional field out). What reflection cannot see is not
// checked: enumerations, value ranges, cross-field rules (the API server's
// validation does those).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// kinds are the objects deploy/k8s may contain.
var kinds = []struct {
	apiVersion, kind string
	v                any
}{
	{"apps/v1", "Deployment", appsv1.Deployment{}},
	{"v1", "Service", corev1.Service{}},
	{"v1", "ConfigMap", corev1.ConfigMap{}},
	{"v1", "Secret", corev1.Secret{}},
	{"v1", "ServiceAccount", corev1.ServiceAccount{}},
	{"policy/v1", "PodDisruptionBudget", policyv1.PodDisruptionBudget{}},
	{"autoscaling/v2", "HorizontalPodAutoscaler", autoscalingv2.HorizontalPodAutoscaler{}},
	{"networking.k8s.io/v1", "Ingress", networkingv1.Ingress{}},
}

// quantityPattern is resource.Quantity's text form (the API's OpenAPI
// document gives the same).
const quantityPattern = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`

// special are the types whose JSON form is not their Go structure.
var special = map[reflect.Type]map[string]any{
	reflect.TypeFor[intstr.IntOrString](): {"type": []string{"integer", "string"}},
	reflect.TypeFor[resource.Quantity](): {"anyOf": []any{
		map[string]any{"type": "string", "pattern": quantityPattern},
		map[string]any{"type": "number"},
	}},
	reflect.TypeFor[metav1.Time]():          {"type": "string", "format": "date-time"},
	reflect.TypeFor[metav1.MicroTime]():     {"type": "string", "format": "date-time"},
	reflect.TypeFor[metav1.Duration]():      {"type": "string"},
	reflect.TypeFor[runtime.RawExtension](): {},
	reflect.TypeFor[metav1.FieldsV1]():      {"type": "object"},
}

var marshaler = reflect.TypeFor[json.Marshaler]()

type gen struct {
	defs map[string]any
}

func defName(t reflect.Type) string {
	return strings.ReplaceAll(t.PkgPath(), "/", ".") + "." + t.Name()
}

// schema returns the schema of a value of type t.
func (g *gen) schema(t reflect.Type) map[string]any {
	if s, ok := special[t]; ok {
		return s
	}
	if t.Kind() != reflect.Pointer && (t.Implements(marshaler) || reflect.PointerTo(t).Implements(marshaler)) {
		panic(fmt.Sprintf("%s marshals itself: add it to special", t))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := defName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // recursion guard
			props, required := map[string]any{}, []string{}
			g.fields(t, props, &required)
			s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
			if len(required) > 0 {
				sort.Strings(required)
				s["required"] = required
			}
			g.defs[name] = s
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	}
	panic(fmt.Sprintf("unhandled kind %s of %s", t.Kind(), t))
}

// fields adds t's JSON fields to props, inline and embedded ones merged.
func (g *gen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if (f.Anonymous && name == "") || strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			g.fields(ft, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			*required = append(*required, name)
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: k8sschema OUTDIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, k := range kinds {
		g := &gen{defs: map[string]any{}}
		root := g.schema(reflect.TypeOf(k.v))
		s := map[string]any{
			"$schema":      "https://json-schema.org/draft/2020-12/schema",
			"$comment":     "Generated by deploy/tools/k8sschema from k8s.io/api " + apiVersion() + "; do not edit.",
			"title":        k.apiVersion + " " + k.kind,
			"allOf":        []any{root},
			"required":     []string{"apiVersion", "kind", "metadata"},
			"properties":   map[string]any{"apiVersion": map[string]any{"const": k.apiVersion}, "kind": map[string]any{"const": k.kind}},
			"$defs":        g.defs,
			"x-kubernetes": map[string]string{"apiVersion": k.apiVersion, "kind": k.kind},
		}
		b, err := json.MarshalIndent(s, "", " ")
		if err != nil {
			panic(err)
		}
		name := strings.ToLower(strings.NewReplacer("/", "-", ".", "-").Replace(k.apiVersion) + "-" + k.kind + ".json")
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// apiVersion is the k8s.io/api module version this program was built with.
func apiVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}
