// Checks of the Kubernetes manifests: strict typed decoding with the
// k8s.io/api types (the schema check), the kustomization, and the references
// between objects, to the binary and to the Secret template.

package deploy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The Kubernetes names the manifests agree on.
const (
	appName       = "satupintu" // Deployment, Service, Ingress, PDB, HPA
	configMapName = "satupintu-config"
	secretName    = "satupintu-secrets"
	imageName     = "satupintu" // rewritten by kustomization.yaml's images
)

// baseMiB is what a pod needs besides password hashing (measured heap of an
// idle server with caches is well below; this leaves room for bursts).
const baseMiB = 64

// object is one decoded Kubernetes manifest.
type object struct {
	doc  yamlDoc
	kind string // "apps/v1/Deployment"
	name string
	ns   string
	v    any // *appsv1.Deployment, …
}

func (o object) String() string { return fmt.Sprintf("%s %s (%s)", o.kind, o.name, o.doc) }

// kinds are the API types the manifests may use, decoded strictly: an unknown
// or misspelt field, a wrong type or an unknown apiVersion is an error. This
// is the schema check (kubeconform would need schemas from the network).
var kinds = map[string]func() any{
	"v1/Namespace":                           func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":                      func() any { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                           func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                              func() any { return new(corev1.Secret) },
	"v1/Service":                             func() any { return new(corev1.Service) },
	"apps/v1/Deployment":                     func() any { return new(appsv1.Deployment) },
	"batch/v1/Job":                           func() any { return new(batchv1.Job) },
	"batch/v1/CronJob":                       func() any { return new(batchv1.CronJob) },
	"networking.k8s.io/v1/Ingress":           func() any { return new(networkingv1.Ingress) },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return new(networkingv1.NetworkPolicy) },
	"policy/v1/PodDisruptionBudget":          func() any { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
}

func decodeObject(d yamlDoc) (object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(d.json, &head); err != nil {
		return object{}, fmt.Errorf("%s: %w", d, err)
	}
	kind := head.APIVersion + "/" + head.Kind
	mk, ok := kinds[kind]
	if !ok {
		return object{}, fmt.Errorf("%s: apiVersion %q kind %q is not one the tests know (add it to kinds)", d, head.APIVersion, head.Kind)
	}
	v := mk()
	if err := yaml.UnmarshalStrict(d.json, v); err != nil {
		return object{}, fmt.Errorf("%s (%s): %w", d, kind, err)
	}
	if head.Metadata.Name == "" {
		return object{}, fmt.Errorf("%s: no metadata.name", d)
	}
	return object{doc: d, kind: kind, name: head.Metadata.Name, ns: head.Metadata.Namespace, v: v}, nil
}

// kustomization is the subset of kustomize's Kustomization the base uses,
// decoded strictly: a field outside it fails the test until it is modelled
// (and checked) here.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
		Digest  string `json:"digest"`
	} `json:"images"`
}

// base is the kustomize base as `kubectl apply -k` would see it, plus the
// Secret template.
type base struct {
	k       kustomization
	objects []object // from the listed resources
	secret  *corev1.Secret
}

func loadBase(t *testing.T) base {
	t.Helper()
	var b base
	data, err := os.ReadFile(filepath.Join(baseDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &b.k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	for _, r := range b.k.Resources {
		docs := readDocs(t, filepath.Join(baseDir, r))
		for _, d := range docs {
			o, err := decodeObject(d)
			if err != nil {
				t.Fatal(err)
			}
			b.objects = append(b.objects, o)
		}
	}
	docs := readDocs(t, filepath.Join(baseDir, "secret.example.yaml"))
	if len(docs) != 1 {
		t.Fatalf("secret.example.yaml: want one document, have %d", len(docs))
	}
	o, err := decodeObject(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	s, ok := o.v.(*corev1.Secret)
	if !ok {
		t.Fatalf("secret.example.yaml holds a %s, want a Secret", o.kind)
	}
	b.secret = s
	return b
}

func readDocs(t *testing.T, file string) []yamlDoc {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := splitYAML(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// one returns the single object of type T named name.
func one[T any](t *testing.T, b base, name string) *T {
	t.Helper()
	var found []*T
	for _, o := range b.objects {
		if v, ok := o.v.(*T); ok && o.name == name {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T named %q in the base, have %d", zero, name, len(found))
	}
	return found[0]
}

func all[T any](b base) []*T {
	var out []*T
	for _, o := range b.objects {
		if v, ok := o.v.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// podTemplate is a pod spec found in a workload.
type podTemplate struct {
	owner  string
	labels map[string]string
	spec   *corev1.PodSpec
}

func podTemplates(b base) []podTemplate {
	var out []podTemplate
	for _, o := range b.objects {
		switch v := o.v.(type) {
		case *appsv1.Deployment:
			out = append(out, podTemplate{o.String(), v.Spec.Template.Labels, &v.Spec.Template.Spec})
		case *batchv1.Job:
			out = append(out, podTemplate{o.String(), v.Spec.Template.Labels, &v.Spec.Template.Spec})
		case *batchv1.CronJob:
			tpl := &v.Spec.JobTemplate.Spec.Template
			out = append(out, podTemplate{o.String(), tpl.Labels, &tpl.Spec})
		}
	}
	return out
}

func TestKustomizationListsTheBase(t *testing.T) {
	b := loadBase(t)
	k := b.k
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion/kind %q/%q", k.APIVersion, k.Kind)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization.yaml lists %s twice", r)
		}
		listed[r] = true
		if filepath.IsAbs(r) || strings.Contains(r, "..") || strings.Contains(r, "://") {
			t.Errorf("kustomization.yaml: resource %q should be a file in the base", r)
		}
	}
	if listed["secret.example.yaml"] {
		t.Error("kustomization.yaml must not list secret.example.yaml: it is a template with placeholders")
	}
	// Every manifest in the base is listed (a forgotten file is never applied).
	entries, err := os.ReadDir(baseDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".yaml") || n == "kustomization.yaml" || n == "secret.example.yaml" {
			continue
		}
		if !listed[n] {
			t.Errorf("%s is in the base but not in kustomization.yaml's resources", n)
		}
	}

	// Names are unique per kind, namespaces agree with the kustomization.
	seen := map[string]object{}
	var namespaces []string
	for _, o := range b.objects {
		id := o.kind + "/" + o.name
		if prev, dup := seen[id]; dup {
			t.Errorf("%s and %s have the same kind and name", o, prev)
		}
		seen[id] = o
		if o.ns != "" && o.ns != k.Namespace {
			t.Errorf("%s: namespace %q, kustomization sets %q", o, o.ns, k.Namespace)
		}
		if o.kind == "v1/Namespace" {
			namespaces = append(namespaces, o.name)
		}
	}
	if k.Namespace == "" {
		t.Error("kustomization.yaml sets no namespace")
	}
	if len(namespaces) > 0 && !slices.Equal(namespaces, []string{k.Namespace}) {
		t.Errorf("Namespace objects %v, kustomization namespace %q", namespaces, k.Namespace)
	}
	if ns := b.secret.Namespace; ns != "" && ns != k.Namespace {
		t.Errorf("secret.example.yaml: namespace %q, kustomization sets %q", ns, k.Namespace)
	}

	// The image: every container names imageName, which the kustomization
	// rewrites to a real reference.
	var img int
	for _, i := range k.Images {
		if i.Name == imageName {
			img++
			if i.NewName == "" || (i.NewTag == "" && i.Digest == "") {
				t.Errorf("kustomization.yaml: image %q needs newName and newTag or digest", i.Name)
			}
		}
	}
	if img != 1 {
		t.Errorf("kustomization.yaml: want one images entry for %q, have %d", imageName, img)
	}
	for _, p := range podTemplates(b) {
		for _, c := range slices.Concat(p.spec.InitContainers, p.spec.Containers) {
			if c.Image != imageName {
				t.Errorf("%s: container %s image %q; use %q, set by kustomization.yaml's images", p.owner, c.Name, c.Image, imageName)
			}
		}
	}
}

func TestDeployment(t *testing.T) {
	b := loadBase(t)
	bin := readBinary(t)
	d := one[appsv1.Deployment](t, b, appName)
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Error("Deployment: want at least 2 replicas, so one node or one rollout never takes the service down")
	}
	if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) || len(d.Spec.Selector.MatchExpressions) > 0 {
		t.Error("Deployment: selector.matchLabels must select the pod template's labels")
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.String() != "0" {
		t.Error("Deployment: rolling updates should keep every pod until its replacement is ready (maxUnavailable: 0)")
	}
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("Deployment: want one container, have %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	if err := bin.checkCommand(c.Args); err != nil || c.Args[0] != "serve" {
		t.Errorf("Deployment: args %q: want serve (%v)", c.Args, err)
	}
	if len(c.Command) > 0 {
		t.Errorf("Deployment: command %q overrides the image's entrypoint", c.Command)
	}

	// The container port is the one SATUPINTU_ADDR listens on.
	cm := one[corev1.ConfigMap](t, b, configMapName)
	_, addrPort, err := net.SplitHostPort(cm.Data["SATUPINTU_ADDR"])
	if err != nil {
		t.Fatalf("ConfigMap: SATUPINTU_ADDR %q: %v", cm.Data["SATUPINTU_ADDR"], err)
	}
	if len(c.Ports) != 2 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != addrPort || c.Ports[0].Name != "http" {
		t.Errorf("Deployment: want container port http = %s (SATUPINTU_ADDR) first, then metrics; have %+v", addrPort, c.Ports)
	}
	// The metrics port is SATUPINTU_METRICS_ADDR's, scraped by annotation,
	// and no Service exposes it.
	_, metricsPort, err := net.SplitHostPort(cm.Data["SATUPINTU_METRICS_ADDR"])
	if err != nil {
		t.Fatalf("ConfigMap: SATUPINTU_METRICS_ADDR %q: %v", cm.Data["SATUPINTU_METRICS_ADDR"], err)
	}
	if len(c.Ports) == 2 && (c.Ports[1].Name != "metrics" || strconv.Itoa(int(c.Ports[1].ContainerPort)) != metricsPort) {
		t.Errorf("Deployment: want container port metrics = %s (SATUPINTU_METRICS_ADDR), have %+v", metricsPort, c.Ports[1])
	}
	if a := d.Spec.Template.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != metricsPort {
		t.Errorf("Deployment: pod annotations %v do not point Prometheus at port %s", a, metricsPort)
	}
	for _, svc := range all[corev1.Service](b) {
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.String() == "metrics" || p.TargetPort.String() == metricsPort {
				t.Errorf("Service %s exposes the metrics port", svc.Name)
			}
		}
	}

	// Probes: HTTP on that port; alive is /healthz, ready is /readyz.
	probes := []struct {
		name string
		p    *corev1.Probe
		path string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"startupProbe", c.StartupProbe, "/healthz"},
	}
	for _, pr := range probes {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("Deployment: %s must be an httpGet probe", pr.name)
			continue
		}
		h := pr.p.HTTPGet
		if h.Path != pr.path {
			t.Errorf("Deployment: %s path %q, want %q", pr.name, h.Path, pr.path)
		}
		if !bin.routes["GET "+h.Path] {
			t.Errorf("Deployment: %s path %q is not a route of cmd/satupintu", pr.name, h.Path)
		}
		if !portMatches(h.Port, c.Ports) {
			t.Errorf("Deployment: %s port %s is not the container's port", pr.name, h.Port.String())
		}
		if h.Scheme != "" && h.Scheme != corev1.URISchemeHTTP {
			t.Errorf("Deployment: %s scheme %s; the pods speak plain HTTP", pr.name, h.Scheme)
		}
	}
	if p := c.StartupProbe; p != nil && p.PeriodSeconds*p.FailureThreshold < 60 {
		t.Error("Deployment: the startupProbe should allow at least a minute (database wait and migrations)")
	}

	// Shutdown: the grace period covers preStop plus serve's drain.
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil {
			t.Error("Deployment: preStop must be a sleep action: the image has no shell")
		} else {
			preStop = c.Lifecycle.PreStop.Sleep.Seconds
		}
	}
	drain := int64(bin.drain / time.Second)
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < preStop+drain {
		t.Errorf("Deployment: terminationGracePeriodSeconds must be ≥ preStop %ds + serve's drain %ds", preStop, drain)
	}

	// Resources: sized for argon2id, and GOMEMLIMIT below the limit.
	cpuLimit, memLimit := c.Resources.Limits.Cpu(), c.Resources.Limits.Memory()
	if cpuLimit.IsZero() || memLimit.IsZero() {
		t.Fatal("Deployment: set CPU and memory limits; the CPU limit sets GOMAXPROCS and so bounds argon2id memory")
	}
	cpus := int64(math.Ceil(cpuLimit.AsApproximateFloat64()))
	need := resource.MustParse(fmt.Sprintf("%dMi", baseMiB+bin.verifyPerCPU*cpus*bin.argon2idMiB))
	if memLimit.Cmp(need) < 0 {
		t.Errorf("Deployment: memory limit %s < %s (%d MiB + %d verifications × %d MiB for a %d-CPU limit)",
			memLimit, &need, baseMiB, bin.verifyPerCPU*cpus, bin.argon2idMiB, cpus)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("Deployment: set CPU and memory requests (the HPA scales on CPU utilization of the request)")
	}
	goMemLimit := ""
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			goMemLimit = e.Value
		}
	}
	if goMemLimit == "" {
		t.Error("Deployment: set GOMEMLIMIT below the memory limit")
	} else if q, err := resource.ParseQuantity(strings.TrimSuffix(goMemLimit, "B")); err != nil {
		t.Errorf("Deployment: GOMEMLIMIT %q: %v", goMemLimit, err)
	} else if q.Cmp(*memLimit) >= 0 || q.AsApproximateFloat64() > 0.9*memLimit.AsApproximateFloat64() {
		t.Errorf("Deployment: GOMEMLIMIT %s should be at most 90%% of the memory limit %s", goMemLimit, memLimit)
	}

	// Spread across nodes.
	var byHost bool
	for _, tsc := range spec.TopologySpreadConstraints {
		if tsc.LabelSelector == nil || !selects(tsc.LabelSelector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("Deployment: topologySpreadConstraint on %s does not select the pods", tsc.TopologyKey)
		}
		byHost = byHost || tsc.TopologyKey == "kubernetes.io/hostname"
	}
	if aff := spec.Affinity; aff != nil && aff.PodAntiAffinity != nil {
		byHost = true
	}
	if !byHost {
		t.Error("Deployment: spread the pods across nodes (topologySpreadConstraints on kubernetes.io/hostname)")
	}
}

// TestPodsAreLockedDown checks every pod template against the restricted Pod
// Security Standard and the settings that keep the pods unprivileged.
func TestPodsAreLockedDown(t *testing.T) {
	b := loadBase(t)
	templates := podTemplates(b)
	if len(templates) == 0 {
		t.Fatal("no workloads in the base")
	}
	for _, p := range templates {
		s := p.spec
		psc := s.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken: false (satupintu never calls the API server)", p.owner)
		}
		if s.EnableServiceLinks == nil || *s.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks: false, or Kubernetes injects SATUPINTU_SERVICE_HOST and friends into the configuration's namespace", p.owner)
		}
		if s.HostNetwork || s.HostPID || s.HostIPC {
			t.Errorf("%s: no host namespaces", p.owner)
		}
		for _, c := range slices.Concat(s.InitContainers, s.Containers) {
			csc := c.SecurityContext
			if csc == nil {
				t.Errorf("%s: container %s has no securityContext", p.owner, c.Name)
				continue
			}
			nonRoot := (csc.RunAsNonRoot != nil && *csc.RunAsNonRoot) || (csc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
			if !nonRoot {
				t.Errorf("%s: container %s: runAsNonRoot: true", p.owner, c.Name)
			}
			uid := psc.RunAsUser
			if csc.RunAsUser != nil {
				uid = csc.RunAsUser
			}
			if uid == nil || *uid == 0 {
				t.Errorf("%s: container %s: set a non-zero runAsUser (the image's 65532)", p.owner, c.Name)
			}
			if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
				t.Errorf("%s: container %s: allowPrivilegeEscalation: false", p.owner, c.Name)
			}
			if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
				t.Errorf("%s: container %s: readOnlyRootFilesystem: true", p.owner, c.Name)
			}
			if csc.Privileged != nil && *csc.Privileged {
				t.Errorf("%s: container %s: not privileged", p.owner, c.Name)
			}
			if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
				t.Errorf("%s: container %s: capabilities drop [ALL], add none", p.owner, c.Name)
			}
			seccomp := psc.SeccompProfile
			if csc.SeccompProfile != nil {
				seccomp = csc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: container %s: seccompProfile RuntimeDefault", p.owner, c.Name)
			}
			if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
				t.Errorf("%s: container %s: set a memory limit and a CPU request", p.owner, c.Name)
			}
			// A read-only root needs its writable paths mounted.
			volumes := map[string]bool{}
			for _, v := range s.Volumes {
				volumes[v.Name] = true
			}
			mounted := map[string]bool{}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					t.Errorf("%s: container %s mounts volume %q, which the pod does not have", p.owner, c.Name, m.Name)
				}
				mounted[m.MountPath] = true
			}
			if !mounted["/tmp"] {
				t.Errorf("%s: container %s: mount an emptyDir on /tmp (read-only root)", p.owner, c.Name)
			}
		}
	}
}

// TestEnvironmentReferences checks every envFrom, configMapKeyRef,
// secretKeyRef and volume source against the ConfigMaps and Secrets of the
// base (and the Secret template), and every variable name against the binary.
func TestEnvironmentReferences(t *testing.T) {
	b := loadBase(t)
	bin := readBinary(t)
	configMaps := map[string]map[string]string{}
	for _, cm := range all[corev1.ConfigMap](b) {
		configMaps[cm.Name] = cm.Data
	}
	secrets := map[string]map[string]bool{}
	addSecret := func(s *corev1.Secret) {
		keys := map[string]bool{}
		for k := range s.Data {
			keys[k] = true
		}
		for k := range s.StringData {
			keys[k] = true
		}
		secrets[s.Name] = keys
	}
	for _, s := range all[corev1.Secret](b) {
		addSecret(s)
	}
	addSecret(b.secret)
	serviceAccounts := map[string]bool{"default": true}
	for _, sa := range all[corev1.ServiceAccount](b) {
		serviceAccounts[sa.Name] = true
	}

	for _, p := range podTemplates(b) {
		if sa := p.spec.ServiceAccountName; sa != "" && !serviceAccounts[sa] {
			t.Errorf("%s: serviceAccountName %q does not exist", p.owner, sa)
		}
		for _, v := range p.spec.Volumes {
			if v.ConfigMap != nil && configMaps[v.ConfigMap.Name] == nil && !isTrue(v.ConfigMap.Optional) {
				t.Errorf("%s: volume %s: no ConfigMap %q", p.owner, v.Name, v.ConfigMap.Name)
			}
			if v.Secret != nil && secrets[v.Secret.SecretName] == nil && !isTrue(v.Secret.Optional) {
				t.Errorf("%s: volume %s: no Secret %q", p.owner, v.Name, v.Secret.SecretName)
			}
		}
		for _, c := range slices.Concat(p.spec.InitContainers, p.spec.Containers) {
			where := fmt.Sprintf("%s: container %s", p.owner, c.Name)
			var names []string
			var fromConfig, fromSecret bool
			for _, ef := range c.EnvFrom {
				switch {
				case ef.ConfigMapRef != nil:
					data, ok := configMaps[ef.ConfigMapRef.Name]
					if !ok {
						t.Errorf("%s: envFrom ConfigMap %q does not exist", where, ef.ConfigMapRef.Name)
					}
					fromConfig = fromConfig || ef.ConfigMapRef.Name == configMapName
					for k := range data {
						names = append(names, ef.Prefix+k)
					}
				case ef.SecretRef != nil:
					keys, ok := secrets[ef.SecretRef.Name]
					if !ok {
						t.Errorf("%s: envFrom Secret %q is neither in the base nor in secret.example.yaml", where, ef.SecretRef.Name)
					}
					fromSecret = fromSecret || ef.SecretRef.Name == secretName
					for k := range keys {
						names = append(names, ef.Prefix+k)
					}
				}
			}
			if !fromConfig || !fromSecret {
				t.Errorf("%s: want envFrom both %s and %s, so every command sees the same configuration", where, configMapName, secretName)
			}
			for _, e := range c.Env {
				names = append(names, e.Name)
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !isTrue(r.Optional) {
					if data, ok := configMaps[r.Name]; !ok {
						t.Errorf("%s: env %s: no ConfigMap %q", where, e.Name, r.Name)
					} else if _, ok := data[r.Key]; !ok {
						t.Errorf("%s: env %s: ConfigMap %q has no key %q", where, e.Name, r.Name, r.Key)
					}
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil && !isTrue(r.Optional) {
					if keys, ok := secrets[r.Name]; !ok {
						t.Errorf("%s: env %s: no Secret %q", where, e.Name, r.Name)
					} else if !keys[r.Key] {
						t.Errorf("%s: env %s: Secret %q has no key %q", where, e.Name, r.Name, r.Key)
					}
				}
			}
			for _, n := range names {
				if err := bin.checkEnvName(n); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
			if len(c.Args) > 0 {
				if err := bin.checkCommand(c.Args); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
		}
	}
}

func TestConfigMapIsProduction(t *testing.T) {
	b := loadBase(t)
	cm := one[corev1.ConfigMap](t, b, configMapName)
	want := map[string]string{"SATUPINTU_DEMO": "false", "SATUPINTU_LOG_FORMAT": "json"}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap: %s = %q, want %q in production", k, cm.Data[k], v)
		}
	}
	issuer, err := url.Parse(cm.Data["SATUPINTU_ISSUER"])
	if err != nil || issuer.Scheme != "https" || issuer.Host == "" || strings.HasSuffix(cm.Data["SATUPINTU_ISSUER"], "/") {
		t.Errorf("ConfigMap: SATUPINTU_ISSUER %q must be an https URL without a trailing slash", cm.Data["SATUPINTU_ISSUER"])
	}
	for k := range cm.Data {
		if strings.Contains(k, "URL") && k != "SATUPINTU_ISSUER" || strings.Contains(k, "KEY") || strings.Contains(k, "PASSWORD") {
			t.Errorf("ConfigMap: %s looks secret; it belongs in the Secret", k)
		}
	}
}

func TestSecretTemplate(t *testing.T) {
	b := loadBase(t)
	s := b.secret
	if s.Name != secretName {
		t.Errorf("secret.example.yaml: name %q, the pods read %q", s.Name, secretName)
	}
	if len(s.Data) > 0 {
		t.Error("secret.example.yaml: use stringData, so the placeholders are readable")
	}
	for _, k := range []string{"SATUPINTU_DATABASE_URL", "SATUPINTU_REDIS_URL", "SATUPINTU_COOKIE_HASH_KEY", "SATUPINTU_COOKIE_BLOCK_KEY"} {
		v, ok := s.StringData[k]
		if !ok {
			t.Errorf("secret.example.yaml: no %s", k)
			continue
		}
		if !strings.Contains(v, "REPLACE_ME") {
			t.Errorf("secret.example.yaml: %s must be a REPLACE_ME placeholder, not a value", k)
		}
	}
	// Applied unedited, serve must refuse to start rather than run with
	// keys everyone can read here.
	for _, k := range []string{"SATUPINTU_COOKIE_HASH_KEY", "SATUPINTU_COOKIE_BLOCK_KEY"} {
		if _, err := base64.StdEncoding.DecodeString(s.StringData[k]); err == nil {
			t.Errorf("secret.example.yaml: the %s placeholder decodes as base64; it must not", k)
		}
	}
	if u, err := url.Parse(s.StringData["SATUPINTU_DATABASE_URL"]); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Errorf("secret.example.yaml: SATUPINTU_DATABASE_URL should show a postgres:// URL")
	}
	if u, err := url.Parse(s.StringData["SATUPINTU_REDIS_URL"]); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		t.Errorf("secret.example.yaml: SATUPINTU_REDIS_URL should show a redis:// URL")
	}
	// The template tells how to make real keys.
	raw, err := os.ReadFile(filepath.Join(baseDir, "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"openssl rand -base64 64", "openssl rand -base64 32"} {
		if !bytes.Contains(raw, []byte(cmd)) {
			t.Errorf("secret.example.yaml: explain key generation with %q", cmd)
		}
	}
}

func TestServiceIngressPDBAndHPATargetTheDeployment(t *testing.T) {
	b := loadBase(t)
	d := one[appsv1.Deployment](t, b, appName)
	podLabels := d.Spec.Template.Labels
	container := d.Spec.Template.Spec.Containers[0]

	svc := one[corev1.Service](t, b, appName)
	if !selects(svc.Spec.Selector, podLabels) {
		t.Errorf("Service selector %v does not select the Deployment's pods %v", svc.Spec.Selector, podLabels)
	}
	// Only the server pods: an admin Job's pod behind the Service would get
	// traffic it cannot answer.
	for _, p := range podTemplates(b) {
		if p.spec != &d.Spec.Template.Spec && selects(svc.Spec.Selector, p.labels) {
			t.Errorf("Service selector also selects %s", p.owner)
		}
	}
	for _, sp := range svc.Spec.Ports {
		if !portMatches(sp.TargetPort, container.Ports) {
			t.Errorf("Service port %s: targetPort %s is not a container port", sp.Name, sp.TargetPort.String())
		}
	}

	ing := one[networkingv1.Ingress](t, b, appName)
	cm := one[corev1.ConfigMap](t, b, configMapName)
	issuer, _ := url.Parse(cm.Data["SATUPINTU_ISSUER"])
	tlsHosts := map[string]bool{}
	for _, tls := range ing.Spec.TLS {
		if tls.SecretName == "" {
			t.Error("Ingress: a TLS entry without secretName")
		}
		for _, h := range tls.Hosts {
			tlsHosts[h] = true
		}
	}
	var issuerRouted bool
	for _, r := range ing.Spec.Rules {
		if !tlsHosts[r.Host] {
			t.Errorf("Ingress: host %q has no TLS", r.Host)
		}
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			be := p.Backend.Service
			if be == nil || be.Name != svc.Name {
				t.Errorf("Ingress: %s%s goes to %+v, not Service %s", r.Host, p.Path, be, svc.Name)
				continue
			}
			if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
				return (be.Port.Name != "" && be.Port.Name == sp.Name) || (be.Port.Number != 0 && be.Port.Number == sp.Port)
			}) {
				t.Errorf("Ingress: backend port %+v is not a port of Service %s", be.Port, svc.Name)
			}
			if r.Host == issuer.Host && p.Path == "/" && p.PathType != nil && *p.PathType == networkingv1.PathTypePrefix {
				issuerRouted = true
			}
		}
	}
	if !issuerRouted {
		t.Errorf("Ingress: no rule sends https://%s/ (the issuer in the ConfigMap) to the Service", issuer.Host)
	}

	pdb := one[policyv1.PodDisruptionBudget](t, b, appName)
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Error("PodDisruptionBudget does not select the Deployment's pods")
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "1" {
		t.Error("PodDisruptionBudget: minAvailable 1")
	}

	hpa := one[autoscalingv2.HorizontalPodAutoscaler](t, b, appName)
	ref := hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA targets %s %s %s, not the Deployment", ref.APIVersion, ref.Kind, ref.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Error("HPA: minReplicas ≥ 2 and maxReplicas ≥ minReplicas")
	}
	if d.Spec.Replicas != nil && hpa.Spec.MinReplicas != nil && *d.Spec.Replicas < *hpa.Spec.MinReplicas {
		t.Error("Deployment replicas below the HPA's minReplicas")
	}
	if hpa.Spec.MinReplicas != nil && pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntValue() >= int(*hpa.Spec.MinReplicas) {
		t.Error("PodDisruptionBudget: minAvailable must be below the HPA's minReplicas, or no node can ever be drained")
	}
	var cpu bool
	for _, m := range hpa.Spec.Metrics {
		cpu = cpu || (m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU)
	}
	if !cpu {
		t.Error("HPA: scale on CPU")
	}
}

func TestAdminJobs(t *testing.T) {
	b := loadBase(t)
	want := map[string]string{"satupintu-keys-rotate": "keys", "satupintu-migrate": "migrate"}
	for name, cmd := range want {
		cj := one[batchv1.CronJob](t, b, name)
		// Job templates: `kubectl create job --from=cronjob/…` runs them.
		if cj.Spec.Suspend == nil || !*cj.Spec.Suspend {
			t.Errorf("CronJob %s: suspended in the base (run it with kubectl create job --from)", name)
		}
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("CronJob %s: concurrencyPolicy Forbid", name)
		}
		spec := cj.Spec.JobTemplate.Spec
		if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("CronJob %s: restartPolicy Never or OnFailure", name)
		}
		if spec.TTLSecondsAfterFinished == nil || spec.ActiveDeadlineSeconds == nil || spec.BackoffLimit == nil {
			t.Errorf("CronJob %s: set ttlSecondsAfterFinished, activeDeadlineSeconds and backoffLimit", name)
		}
		if c := spec.Template.Spec.Containers; len(c) != 1 || len(c[0].Args) == 0 || c[0].Args[0] != cmd {
			t.Errorf("CronJob %s: want one container running `satupintu %s …`", name, cmd)
		}
	}
}

// selects reports whether a matchLabels selector selects labels. An empty
// selector selects nothing here (in Kubernetes it may select everything,
// which is never meant).
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func portMatches(p intstr.IntOrString, ports []corev1.ContainerPort) bool {
	return slices.ContainsFunc(ports, func(cp corev1.ContainerPort) bool {
		if p.Type == intstr.String {
			return p.StrVal == cp.Name
		}
		return p.IntVal == cp.ContainerPort
	})
}

func isTrue(b *bool) bool { return b != nil && *b }
