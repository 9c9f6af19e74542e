package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	keda "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization that deploy/k8s uses; a field outside it
// is rejected rather than silently ignored.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

// kind is one apiVersion/kind the check knows: how to make an empty object of it to decode into,
// and where in objects a decoded one is kept.
type kind struct {
	empty func() any
	keep  func(o *objects, name string, obj any)
}

// kindOf makes the kind whose objects are *T, kept by keep.
func kindOf[T any](keep func(o *objects, name string, obj *T)) kind {
	return kind{
		empty: func() any { return new(T) },
		keep:  func(o *objects, name string, obj any) { keep(o, name, obj.(*T)) },
	}
}

// kinds is every apiVersion/kind the check knows; a document of any other is a problem.
var kinds = map[string]kind{
	"v1/Namespace": kindOf(func(*objects, string, *corev1.Namespace) {}),
	"v1/ConfigMap": kindOf(func(o *objects, name string, c *corev1.ConfigMap) { o.configMaps[name] = c }),
	"v1/Secret":    kindOf(func(o *objects, name string, s *corev1.Secret) { o.secrets[name] = s }),
	"v1/Service": kindOf(func(o *objects, _ string, s *corev1.Service) {
		o.services = append(o.services, s)
	}),
	"apps/v1/Deployment": kindOf(func(o *objects, name string, d *appsv1.Deployment) {
		o.deployments[name] = d
	}),
	"autoscaling/v2/HorizontalPodAutoscaler": kindOf(func(o *objects, _ string, h *autoscalingv2.HorizontalPodAutoscaler) {
		o.hpas = append(o.hpas, h)
	}),
	"policy/v1/PodDisruptionBudget": kindOf(func(o *objects, _ string, p *policyv1.PodDisruptionBudget) {
		o.pdbs = append(o.pdbs, p)
	}),
	"networking.k8s.io/v1/NetworkPolicy": kindOf(func(o *objects, _ string, n *networkingv1.NetworkPolicy) {
		o.netpols = append(o.netpols, n)
	}),
	"keda.sh/v1alpha1/ScaledObject": kindOf(func(o *objects, _ string, s *keda.ScaledObject) {
		o.scaledObjects = append(o.scaledObjects, s)
	}),
	"keda.sh/v1alpha1/TriggerAuthentication": kindOf(func(o *objects, name string, t *keda.TriggerAuthentication) {
		o.triggerAuths[name] = t
	}),
	"batch/v1/Job": kindOf(func(o *objects, name string, j *batchv1.Job) {
		o.jobs[name] = j
		o.pods = append(o.pods, labels.Set(j.Spec.Template.Labels))
	}),
	"rabbitmq.com/v1beta1/RabbitmqCluster": kindOf(func(o *objects, name string, cr *customResource) {
		o.keepRabbitmqCluster(name, cr)
	}),
	"mongodbcommunity.mongodb.com/v1/MongoDBCommunity": kindOf(func(o *objects, name string, cr *customResource) {
		o.keepMongoDBCommunity(name, cr)
	}),
}

// objects holds every decoded object by kind, then name.
type objects struct {
	deployments   map[string]*appsv1.Deployment
	configMaps    map[string]*corev1.ConfigMap
	secrets       map[string]*corev1.Secret
	services      []*corev1.Service
	hpas          []*autoscalingv2.HorizontalPodAutoscaler
	pdbs          []*policyv1.PodDisruptionBudget
	netpols       []*networkingv1.NetworkPolicy
	scaledObjects []*keda.ScaledObject
	triggerAuths  map[string]*keda.TriggerAuthentication
	jobs          map[string]*batchv1.Job
	// The labels of the pods that Jobs and the operators' objects run (a Deployment's are in its
	// template), for the selectors of PDBs and NetworkPolicies.
	pods       []labels.Set
	mongoUsers []mongoUser
	problems   []string
}

func (o *objects) fail(format string, args ...any) {
	o.problems = append(o.problems, fmt.Sprintf(format, args...))
}

func readDocuments(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
}

// stripComments drops whole-line comments, to tell an empty document from a real one.
func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func (o *objects) decode(file string, index int, doc []byte) {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		o.fail("%s, document %d: %v", file, index, err)
		return
	}
	known, ok := kinds[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		o.fail("%s, document %d: apiVersion %q kind %q is not a kind this check knows", file, index,
			meta.APIVersion, meta.Kind)
		return
	}
	obj := known.empty()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		o.fail("%s, document %d (%s): %v", file, index, meta.Kind, err)
		return
	}
	name := obj.(metav1.Object).GetName()
	if name == "" {
		o.fail("%s, document %d (%s): metadata.name is empty", file, index, meta.Kind)
		return
	}
	fmt.Printf("ok %s %s/%s\n", file, meta.Kind, name)
	known.keep(o, name, obj)
}

// secretHasKey reports whether Secret name exists and holds key (in data or stringData).
func (o *objects) secretHasKey(name, key string) bool {
	s, ok := o.secrets[name]
	if !ok {
		return false
	}
	if _, ok := s.StringData[key]; ok {
		return true
	}
	_, ok = s.Data[key]
	return ok
}

func (o *objects) configMapHasKey(name, key string) bool {
	c, ok := o.configMaps[name]
	if !ok {
		return false
	}
	_, ok = c.Data[key]
	return ok
}

// selects reports whether selector selects the pods of at least one Deployment, Job or operator's
// object.
func (o *objects) selects(selector *metav1.LabelSelector) bool {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return false
	}
	for _, d := range o.deployments {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return true
		}
	}
	for _, pod := range o.pods {
		if sel.Matches(pod) {
			return true
		}
	}
	return false
}

// hasPort reports whether port (a name or a number) is a declared port of a container of pod.
func hasPort(pod *corev1.PodSpec, port intstr.IntOrString) bool {
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) ||
				(port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}

func (o *objects) checkProbe(where string, pod *corev1.PodSpec, probe *corev1.Probe) {
	switch {
	case probe == nil:
		o.fail("%s: missing", where)
	case probe.HTTPGet != nil:
		if !hasPort(pod, probe.HTTPGet.Port) {
			o.fail("%s: port %s is not a container port", where, probe.HTTPGet.Port.String())
		}
	case probe.TCPSocket != nil:
		if !hasPort(pod, probe.TCPSocket.Port) {
			o.fail("%s: port %s is not a container port", where, probe.TCPSocket.Port.String())
		}
	}
}

func (o *objects) checkDeployment(name string, d *appsv1.Deployment) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		o.fail("Deployment %s: the selector does not select its own pod template", name)
	}
	pod := &d.Spec.Template.Spec
	if pod.TerminationGracePeriodSeconds == nil {
		o.fail("Deployment %s: terminationGracePeriodSeconds is not set", name)
	}
	o.checkPod("Deployment "+name, pod, true)
}

// checkPod checks a pod template's containers and volumes; a long-running one (probes) must have
// both probes.
func (o *objects) checkPod(owner string, pod *corev1.PodSpec, probes bool) {
	for _, c := range pod.Containers {
		where := fmt.Sprintf("%s, container %s", owner, c.Name)
		if probes {
			o.checkProbe(where+", readinessProbe", pod, c.ReadinessProbe)
			o.checkProbe(where+", livenessProbe", pod, c.LivenessProbe)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
			c.Resources.Limits.Memory().IsZero() {
			o.fail("%s: needs CPU and memory requests and a memory limit", where)
		}
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef != nil && o.configMaps[from.ConfigMapRef.Name] == nil {
				o.fail("%s: envFrom ConfigMap %s does not exist", where, from.ConfigMapRef.Name)
			}
			if from.SecretRef != nil && o.secrets[from.SecretRef.Name] == nil {
				o.fail("%s: envFrom Secret %s does not exist", where, from.SecretRef.Name)
			}
		}
		for _, env := range c.Env {
			if env.ValueFrom == nil {
				continue
			}
			if r := env.ValueFrom.SecretKeyRef; r != nil && !o.secretHasKey(r.Name, r.Key) {
				o.fail("%s: %s: Secret %s has no key %s", where, env.Name, r.Name, r.Key)
			}
			if r := env.ValueFrom.ConfigMapKeyRef; r != nil && !o.configMapHasKey(r.Name, r.Key) {
				o.fail("%s: %s: ConfigMap %s has no key %s", where, env.Name, r.Name, r.Key)
			}
		}
		for _, m := range c.VolumeMounts {
			found := false
			for _, v := range pod.Volumes {
				found = found || v.Name == m.Name
			}
			if !found {
				o.fail("%s: volumeMount %s names no volume", where, m.Name)
			}
		}
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && o.secrets[v.Secret.SecretName] == nil {
			o.fail("%s: volume %s: Secret %s does not exist", owner, v.Name, v.Secret.SecretName)
		}
		if v.ConfigMap != nil && o.configMaps[v.ConfigMap.Name] == nil {
			o.fail("%s: volume %s: ConfigMap %s does not exist", owner, v.Name, v.ConfigMap.Name)
		}
	}
}

func (o *objects) check() {
	names := make([]string, 0, len(o.deployments))
	for name := range o.deployments {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o.checkDeployment(name, o.deployments[name])
	}
	for name, j := range o.jobs {
		if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure &&
			j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			o.fail("Job %s: restartPolicy must be OnFailure or Never", name)
		}
		o.checkPod("Job "+name, &j.Spec.Template.Spec, false)
	}
	o.checkCustomResources()
	for _, s := range o.services {
		sel := &metav1.LabelSelector{MatchLabels: s.Spec.Selector}
		var target *appsv1.Deployment
		for _, d := range o.deployments {
			if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && s.Matches(labels.Set(d.Spec.Template.Labels)) {
				target = d
			}
		}
		if target == nil {
			o.fail("Service %s: its selector selects no pods of these manifests", s.Name)
			continue
		}
		for _, p := range s.Spec.Ports {
			if !hasPort(&target.Spec.Template.Spec, p.TargetPort) {
				o.fail("Service %s: targetPort %s is not a port of %s", s.Name, p.TargetPort.String(), target.Name)
			}
		}
	}
	for _, h := range o.hpas {
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || o.deployments[h.Spec.ScaleTargetRef.Name] == nil {
			o.fail("HorizontalPodAutoscaler %s: scale target %s %s does not exist", h.Name,
				h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		}
	}
	for _, p := range o.pdbs {
		if !o.selects(p.Spec.Selector) {
			o.fail("PodDisruptionBudget %s: its selector selects no pods of these manifests", p.Name)
		}
	}
	for _, n := range o.netpols {
		if len(n.Spec.PodSelector.MatchLabels)+len(n.Spec.PodSelector.MatchExpressions) > 0 &&
			!o.selects(&n.Spec.PodSelector) {
			o.fail("NetworkPolicy %s: its podSelector selects no pods of these manifests", n.Name)
		}
	}
	for _, s := range o.scaledObjects {
		ref := s.Spec.ScaleTargetRef
		if ref == nil || (ref.Kind != "" && ref.Kind != "Deployment") || o.deployments[ref.Name] == nil {
			o.fail("ScaledObject %s: the scale target is not a Deployment of these manifests", s.Name)
		}
		if len(s.Spec.Triggers) == 0 {
			o.fail("ScaledObject %s: no triggers", s.Name)
		}
		for _, t := range s.Spec.Triggers {
			o.checkTriggerMetadata(s.Name, t)
			if t.AuthenticationRef == nil {
				continue
			}
			ta := o.triggerAuths[t.AuthenticationRef.Name]
			if ta == nil {
				o.fail("ScaledObject %s, trigger %s: TriggerAuthentication %s does not exist", s.Name, t.Name,
					t.AuthenticationRef.Name)
				continue
			}
			for _, r := range ta.Spec.SecretTargetRef {
				if t.Type == "rabbitmq" && !rabbitmqAuthParams[r.Parameter] {
					o.fail("TriggerAuthentication %s: %s is not a parameter of KEDA's rabbitmq scaler", ta.Name, r.Parameter)
				}
				if !o.secretHasKey(r.Name, r.Key) {
					o.fail("TriggerAuthentication %s: Secret %s has no key %s", ta.Name, r.Name, r.Key)
				}
			}
		}
	}
}

// The metadata and authentication parameters of KEDA's rabbitmq scaler: its typed struct is in
// pkg/scalers, which cannot be imported without the client libraries of every other scaler, so
// the names are copied from pkg/scalers/rabbitmq_scaler.go of the KEDA release in go.mod.
var (
	rabbitmqMetadata = map[string]bool{
		"queueName": true, "mode": true, "queueLength": true, "value": true, "activationValue": true,
		"host": true, "hostFromEnv": true, "protocol": true, "vhostName": true, "useRegex": true,
		"excludeUnacknowledged": true, "pageSize": true, "operation": true, "timeout": true,
		"unsafeSsl": true,
	}
	rabbitmqAuthParams = map[string]bool{
		"host": true, "protocol": true, "username": true, "password": true, "ca": true, "cert": true,
		"key": true, "keyPassword": true, "tls": true, "workloadIdentityResource": true,
	}
)

// checkTriggerMetadata checks a trigger's metadata map, which the ScaledObject type leaves free.
func (o *objects) checkTriggerMetadata(scaledObject string, t keda.ScaleTriggers) {
	where := fmt.Sprintf("ScaledObject %s, trigger %s", scaledObject, t.Name)
	if t.Type != "rabbitmq" {
		o.fail("%s: type %s is not one this check knows", where, t.Type)
		return
	}
	for key := range t.Metadata {
		if !rabbitmqMetadata[key] {
			o.fail("%s: %s is not a metadata field of KEDA's rabbitmq scaler", where, key)
		}
	}
	if t.Metadata["queueName"] == "" {
		o.fail("%s: queueName is required", where)
	}
	switch t.Metadata["mode"] {
	case "QueueLength", "MessageRate":
	default:
		o.fail("%s: mode must be QueueLength or MessageRate", where)
	}
	var value float64
	if _, err := fmt.Sscanf(t.Metadata["value"], "%g", &value); err != nil || value <= 0 {
		o.fail("%s: value must be a positive number", where)
	}
	switch t.Metadata["protocol"] {
	case "", "auto", "amqp", "http":
	default:
		o.fail("%s: protocol must be auto, amqp or http", where)
	}
}

// checkKubernetes validates the kustomization in dir; it returns every problem found.
func checkKubernetes(dir string) []string {
	o := &objects{
		deployments:  map[string]*appsv1.Deployment{},
		configMaps:   map[string]*corev1.ConfigMap{},
		secrets:      map[string]*corev1.Secret{},
		triggerAuths: map[string]*keda.TriggerAuthentication{},
		jobs:         map[string]*batchv1.Job{},
	}
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return []string{err.Error()}
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		return []string{"kustomization.yaml: " + err.Error()}
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		o.fail("kustomization.yaml: not a kustomize.config.k8s.io/v1beta1 Kustomization")
	}
	for _, res := range k.Resources {
		if strings.Contains(res, "://") || filepath.IsAbs(res) || strings.HasPrefix(filepath.Clean(res), "..") {
			o.fail("kustomization.yaml: resource %s is not a file of this directory", res)
			continue
		}
		docs, err := readDocuments(filepath.Join(dir, res))
		if err != nil {
			o.fail("%s: %v", res, err)
			continue
		}
		if len(docs) == 0 {
			o.fail("%s: no documents", res)
		}
		for i, doc := range docs {
			o.decode(res, i+1, doc)
		}
	}
	o.check()
	return o.problems
}
