// Package deploy holds the tests of scimd's deployment files: the Kubernetes manifests are
// decoded strictly into the k8s.io/api types, compose.yaml and the Grafana provisioning are
// checked for the services, health checks and mounts a working stack needs. It has no
// non-test code, so the Kubernetes modules stay out of the scimd binary.
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor CRD we use;
// decoding strictly into it catches misspelt or misplaced fields.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// manifests are the decoded objects of deploy/kubernetes.
type manifests struct {
	deployment     *appsv1.Deployment
	service        *corev1.Service
	job            *batchv1.Job
	secret         *corev1.Secret
	pdb            *policyv1.PodDisruptionBudget
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	serviceMonitor *serviceMonitor
}

// decodeStrict decodes JSON into v, refusing unknown fields.
func decodeStrict(j []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(j))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// loadManifests decodes every document of every YAML file under dir (but the kustomization)
// into its k8s.io/api type: unknown fields, duplicate keys and unknown kinds fail.
func loadManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	m := &manifests{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			j, err := sigsyaml.YAMLToJSONStrict([]byte(doc))
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var tm metav1.TypeMeta
			if err := json.Unmarshal(j, &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				m.deployment = &appsv1.Deployment{}
				obj = m.deployment
			case "v1 Service":
				m.service = &corev1.Service{}
				obj = m.service
			case "batch/v1 Job":
				m.job = &batchv1.Job{}
				obj = m.job
			case "v1 Secret":
				m.secret = &corev1.Secret{}
				obj = m.secret
			case "policy/v1 PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				obj = m.pdb
			case "autoscaling/v2 HorizontalPodAutoscaler":
				m.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
				obj = m.hpa
			case "monitoring.coreos.com/v1 ServiceMonitor":
				m.serviceMonitor = &serviceMonitor{}
				obj = m.serviceMonitor
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i, tm.APIVersion, tm.Kind)
			}
			if err := decodeStrict(j, obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, tm.Kind, err)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t, "kubernetes")
	for name, missing := range map[string]bool{
		"Deployment": m.deployment == nil, "Service": m.service == nil, "Job": m.job == nil, "Secret": m.secret == nil,
		"PodDisruptionBudget": m.pdb == nil, "HorizontalPodAutoscaler": m.hpa == nil, "ServiceMonitor": m.serviceMonitor == nil,
	} {
		if missing {
			t.Errorf("no %s in deploy/kubernetes", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, name := range []string{m.deployment.Name, m.service.Name, m.job.Name, m.secret.Name, m.pdb.Name, m.hpa.Name, m.serviceMonitor.Metadata.Name} {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("name %q: %v", name, errs)
		}
	}

	d := m.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("Deployment replicas = %v, want 2 or more", d.Spec.Replicas)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pods %v (%v)", d.Spec.Selector, podLabels, err)
	}
	pod := d.Spec.Template.Spec
	checkPodSecurity(t, "Deployment", pod)
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("Deployment args = %v, want [serve]", c.Args)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
			t.Errorf("%s probe = %+v, want an HTTP GET of %s", name, p, path)
			return
		}
		if p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe port %s, want the http port", name, p.HTTPGet.Port.String())
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("Deployment resources = %+v, want cpu and memory requests and a memory limit", c.Resources)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if got := env["SCIMD_ADDR"].Value; !strings.HasSuffix(got, fmt.Sprintf(":%d", ports["http"])) {
		t.Errorf("SCIMD_ADDR %q does not listen on the http port %d", got, ports["http"])
	}
	if got := env["SCIMD_METRICS_ADDR"].Value; got != "" && !strings.HasSuffix(got, fmt.Sprintf(":%d", ports["metrics"])) {
		t.Errorf("SCIMD_METRICS_ADDR %q does not listen on the metrics port %d", got, ports["metrics"])
	}
	checkSecretRef(t, "Deployment", env["SCIMD_DATABASE"], m.secret)
	if mib, err := strconv.ParseInt(strings.TrimSuffix(env["GOMEMLIMIT"].Value, "MiB"), 10, 64); err != nil {
		t.Errorf("GOMEMLIMIT %q: want a size in MiB (%v)", env["GOMEMLIMIT"].Value, err)
	} else if limit := c.Resources.Limits.Memory().Value(); mib<<20 < limit*3/4 || mib<<20 > limit*19/20 {
		t.Errorf("GOMEMLIMIT %d MiB, want 75–95%% of the container's memory limit of %d MiB", mib, limit>>20)
	}
	if p := pod.TerminationGracePeriodSeconds; p == nil || *p <= 15+5 {
		t.Errorf("terminationGracePeriodSeconds %v must exceed the 15 s shutdown timeout plus the preStop sleep", p)
	}

	// The Service, PDB, HPA and ServiceMonitor point at the Deployment's pods and ports.
	if !labels.SelectorFromSet(m.service.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match the pods %v", m.service.Spec.Selector, podLabels)
	}
	svcPorts := map[string]bool{}
	for _, p := range m.service.Spec.Ports {
		svcPorts[p.Name] = true
		if _, ok := ports[p.TargetPort.String()]; !ok {
			t.Errorf("Service port %s targets %s, which the container does not name", p.Name, p.TargetPort.String())
		}
	}
	if sel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector does not match the pods (%v)", err)
	}
	if m.pdb.Spec.MinAvailable == nil && m.pdb.Spec.MaxUnavailable == nil {
		t.Error("PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
	}
	if ref := m.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA targets %+v, want the Deployment %s", ref, d.Name)
	}
	if m.hpa.Spec.MinReplicas == nil || *m.hpa.Spec.MinReplicas < 2 || m.hpa.Spec.MaxReplicas < *m.hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %v…%d, want at least 2", m.hpa.Spec.MinReplicas, m.hpa.Spec.MaxReplicas)
	}
	sm := m.serviceMonitor
	if sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector); err != nil || !sel.Matches(labels.Set(m.service.Labels)) {
		t.Errorf("ServiceMonitor selector does not match the Service's labels %v (%v)", m.service.Labels, err)
	}
	if len(sm.Spec.Endpoints) == 0 {
		t.Error("ServiceMonitor has no endpoints")
	}
	for _, ep := range sm.Spec.Endpoints {
		if !svcPorts[ep.Port] || ep.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %+v: want a Service port name and path /metrics", ep)
		}
	}

	// The migration Job runs `scimd migrate` with the same image and database.
	jp := m.job.Spec.Template.Spec
	checkPodSecurity(t, "Job", jp)
	if jp.RestartPolicy != corev1.RestartPolicyOnFailure && jp.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("Job restartPolicy %q", jp.RestartPolicy)
	}
	if len(jp.Containers) != 1 || !slices.Equal(jp.Containers[0].Args, []string{"migrate"}) || jp.Containers[0].Image != c.Image {
		t.Fatalf("Job containers = %+v, want one running migrate on %s", jp.Containers, c.Image)
	}
	for _, e := range jp.Containers[0].Env {
		if e.Name == "SCIMD_DATABASE" {
			checkSecretRef(t, "Job", e, m.secret)
		}
	}
}

// checkPodSecurity requires a non-root pod whose containers cannot escalate and write only
// to volumes.
func checkPodSecurity(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", what, psc)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s container %s securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, drop ALL", what, c.Name, sc)
		}
	}
}

func checkSecretRef(t *testing.T, what string, e corev1.EnvVar, s *corev1.Secret) {
	t.Helper()
	if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s: SCIMD_DATABASE must come from the Secret, got %+v", what, e)
		return
	}
	ref := e.ValueFrom.SecretKeyRef
	_, inString := s.StringData[ref.Key]
	_, inData := s.Data[ref.Key]
	if ref.Name != s.Name || !(inString || inData) {
		t.Errorf("%s: SCIMD_DATABASE refers to %s/%s, which the Secret %s does not hold", what, ref.Name, ref.Key, s.Name)
	}
}

// TestKustomization: the kustomization lists every manifest, and only existing files.
func TestKustomization(t *testing.T) {
	raw, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(k.Resources, b) {
			t.Errorf("kustomization.yaml does not list %s", b)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("kubernetes", r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
}
